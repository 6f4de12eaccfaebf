"""Playground throughput: training steps/s while streaming frames, and click-to-first-frame latency.

The real server (uvicorn) runs in a thread on 127.0.0.1; the network is 2-8-8-1 (tanh) at batch
10 with SGD, as in the issue. Two clients:

* ``socket``: a websocket client that does what the page does (config, play, read every frame);
* ``browser``: the page itself in headless Chromium (Playwright), reading the on-page read-outs;
* ``alone``: the ceiling, ``Session.step`` in a loop without server or frames.

    python benchmarks/bench_playground.py                 # all three, 8 s of play each
    python benchmarks/bench_playground.py --seconds 3 --client socket

Steps/s is measured by the client from the step counter between the frame after the first
second and the last frame (not the server's own read-out); latency is the median of 7 tries.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time

import uvicorn
from websockets.sync.client import connect

from steepest.playground.server import Limits, create_app

CONFIG = {"hidden": [8, 8], "activation": "tanh", "batch_size": 10, "optimizer": "sgd", "lr": 0.03}
HASH = "#hidden=8,8&batch_size=10&speed=0"   # speed 0: as fast as possible


def start_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Limits()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, port


def receive(ws, kind):
    while True:
        raw = ws.recv()
        if isinstance(raw, bytes):   # a binary map frame
            continue
        message = json.loads(raw)
        if message["type"] == kind:
            return message


def socket_client(port: int, seconds: float) -> dict:
    with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        ws.send(json.dumps({"type": "speed", "steps_per_frame": 0}))   # as fast as possible
        latencies = []
        for _ in range(7):
            ws.send(json.dumps({"type": "config", "config": CONFIG}))
            receive(ws, "snapshot")
            clicked = time.perf_counter()
            ws.send(json.dumps({"type": "play"}))
            while receive(ws, "snapshot")["step"] == 0:
                pass
            latencies.append(time.perf_counter() - clicked)
            ws.send(json.dumps({"type": "pause"}))
        ws.send(json.dumps({"type": "config", "config": CONFIG}))
        receive(ws, "snapshot")
        ws.send(json.dumps({"type": "play"}))
        start = time.perf_counter()
        frames, sizes, first = 0, [], None
        while time.perf_counter() - start < seconds:
            raw = ws.recv()
            if isinstance(raw, bytes):
                sizes[-1:] = [sizes[-1] + len(raw)] if sizes else []
                continue
            message = json.loads(raw)
            if message["type"] != "snapshot":
                continue
            now = time.perf_counter()
            frames += 1
            sizes.append(len(raw))
            if first is None and now - start > 1.0:
                first = (now, message["step"], frames)
            last = (now, message["step"], frames, message["steps_per_s"], message["fps"])
        ws.send(json.dumps({"type": "pause"}))
    return {"steps_per_s": (last[1] - first[1]) / (last[0] - first[0]),
            "fps": (last[2] - first[2]) / (last[0] - first[0]),
            "server_steps_per_s": last[3], "server_fps": last[4],
            "frame_bytes": statistics.median(sizes),
            "click_to_first_frame_ms": 1000 * statistics.median(latencies)}


def browser_client(port: int, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("STEEPEST_CHROMIUM", "/usr/bin/chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        latencies = []
        for _ in range(7):
            page.goto(f"http://127.0.0.1:{port}/{HASH}")
            page.wait_for_function("document.querySelector('[data-testid=train-loss]').textContent !== '0'")
            latencies.append(page.evaluate("""() => new Promise((resolve) => {
                const counter = document.querySelector('[data-testid=step-count]');
                const observer = new MutationObserver(() => {
                    if (counter.textContent !== '0') { observer.disconnect(); resolve(performance.now() - t0); }
                });
                observer.observe(counter, {childList: true, characterData: true, subtree: true});
                const t0 = performance.now();
                document.querySelector('[data-testid=play]').click();
            })"""))
        page.wait_for_timeout(1000)
        read = "+document.querySelector('[data-testid=step-count]').textContent"
        t0, s0 = time.perf_counter(), page.evaluate(read)
        page.wait_for_timeout(seconds * 1000)
        t1, s1 = time.perf_counter(), page.evaluate(read)
        shown = {k: float(page.get_by_test_id(k).text_content()) for k in ("steps-per-s", "fps")}
        browser.close()
    return {"steps_per_s": (s1 - s0) / (t1 - t0), "server_steps_per_s": shown["steps-per-s"],
            "server_fps": shown["fps"], "click_to_first_frame_ms": statistics.median(latencies)}


def session_alone(seconds: float) -> dict:
    """The ceiling: Session.step in a loop, no server, no frames."""
    from steepest.playground.session import Session

    session = Session(CONFIG)
    session.step(200)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        steps += session.step(100)
    return {"steps_per_s": steps / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--client", choices=["alone", "socket", "browser", "all"], default="all")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    server, thread, port = start_server()
    runners = {"alone": lambda port, seconds: session_alone(seconds), "socket": socket_client,
               "browser": browser_client}
    try:
        clients = list(runners) if args.client == "all" else [args.client]
        for name in clients:
            result = runners[name](port, args.seconds)
            print(f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in result.items()))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
