"""A class on one machine: N websocket clients configure the default problem and play.

The server is the real ``steepest playground`` command (a subprocess with its worker
processes); the N clients run in this process, on the same cores, each doing what a student's
page does: configure the default circle, press play, read every frame (text and binary) for
``--seconds``. Per client: frames per second (snapshot messages / seconds) and the longest gap
between two frames; for the server: resident memory of the server and its workers, sampled
every second (flat = the last sample within 10% of the sample after warm-up).

    python benchmarks/bench_classroom.py --sessions 30 --seconds 60
    python benchmarks/bench_classroom.py --sessions 30 50 --seconds 60 --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import websockets

SNAPSHOT = '{"type": "snapshot"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (Linux /proc), MiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def student(port: int, seconds: float, start_at: float, out: dict) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None,
                                  open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "config", "config": {}}))
        while True:
            raw = await ws.recv()
            if isinstance(raw, str) and raw.startswith(SNAPSHOT):
                break
            if isinstance(raw, str) and raw.startswith('{"type": "error"'):
                raise RuntimeError(raw)
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        await ws.send(json.dumps({"type": "play"}))
        times, frame_bytes, last_step = [], 0, 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.01, end - time.perf_counter()))
            except asyncio.TimeoutError:
                break
            frame_bytes += len(raw)
            if isinstance(raw, str) and raw.startswith(SNAPSHOT):
                times.append(time.perf_counter())
        await ws.send(json.dumps({"type": "pause"}))
        while True:   # the last step count, from the pause's snapshot
            raw = await ws.recv()
            if isinstance(raw, str) and raw.startswith(SNAPSHOT):
                last_step = json.loads(raw)["step"]
                break
    warm = [t for t in times if t >= times[0] + 2.0] if times else []   # skip the first 2 s
    span = warm[-1] - warm[0] if len(warm) > 1 else float("nan")
    gaps = [b - a for a, b in zip(warm, warm[1:])]
    out.update(fps=(len(warm) - 1) / span if len(warm) > 1 else 0.0,
               max_gap=max(gaps) if gaps else float("inf"), steps=last_step,
               kib_per_frame=frame_bytes / max(1, len(times)) / 1024)


async def run_class(port: int, n: int, seconds: float, server_pid: int) -> dict:
    results = [dict() for _ in range(n)]
    start_at = time.perf_counter() + 2.0 + 0.05 * n     # everyone plays at once
    memory = []

    async def sample():
        while True:
            memory.append((time.perf_counter(), rss_mib(server_pid)))
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.gather(*(student(port, seconds, start_at, r) for r in results))
    finally:
        sampler.cancel()
    fps = [r["fps"] for r in results]
    after_warmup = [m for t, m in memory if t >= start_at + 5.0] or [m for _, m in memory]
    return {"sessions": n, "median_fps": statistics.median(fps), "min_fps": min(fps),
            "max_gap_s": max(r["max_gap"] for r in results),
            "median_steps": statistics.median(r["steps"] for r in results),
            "kib_per_frame": statistics.median(r["kib_per_frame"] for r in results),
            "rss_start": after_warmup[0], "rss_end": after_warmup[-1],
            "rss_max": max(after_warmup)}


def start_server(port: int, workers: int | None, max_sessions: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "steepest", "playground", "--no-browser", "--port", str(port),
            "--max-sessions", str(max_sessions)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the playground server did not start in 60 s")


def table(rows: list, seconds: float, workers, load: tuple) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/bench_classroom.py "
        f"--sessions {' '.join(str(r['sessions']) for r in rows)} --seconds {seconds:g}`: the "
        f"real `steepest playground` (workers: {workers or os.cpu_count()}) and N websocket "
        f"clients in one process on the same {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"each playing the default circle (2-4-2-1 tanh, SGD, 15 steps per frame) for "
        f"{seconds:g} s; fps and gaps after the first 2 s. Load average (1 min) at start / "
        f"end: {load[0]:.2f} / {load[1]:.2f}.",
        "",
        "| sessions | median fps | slowest fps | longest gap | steps per session | KiB per frame | server RSS after warm-up → end (max) |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['sessions']} | {r['median_fps']:.1f} | {r['min_fps']:.1f} | "
                     f"{r['max_gap_s']:.2f} s | {r['median_steps']:,.0f} | {r['kib_per_frame']:.1f} | "
                     f"{r['rss_start']:.0f} → {r['rss_end']:.0f} MiB ({r['rss_max']:.0f}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[30, 50])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=None, help="default: the CLI's (cores)")
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the '### Classroom' block of this markdown file")
    args = parser.parse_args(argv)
    rows = []
    load_start = os.getloadavg()[0]
    for n in args.sessions:
        port = free_port()
        server = start_server(port, args.workers, max(n, 40))
        try:
            rows.append(asyncio.run(run_class(port, n, args.seconds, server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(rows[-1], flush=True)
    text = table(rows, args.seconds, args.workers, (load_start, os.getloadavg()[0]))
    print(text)
    if args.write:
        document = args.write.read_text()
        begin, end = "<!-- classroom:begin -->", "<!-- classroom:end -->"
        block = f"{begin}\n{text}\n{end}"
        if begin in document:
            document = document[:document.index(begin)] + block + document[document.index(end) + len(end):]
        else:
            document += f"\n### Classroom\n\n{block}\n"
        args.write.write_text(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
