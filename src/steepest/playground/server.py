"""The playground server: static page + one websocket training session per browser tab.

The server validates every message, paces snapshots at a fixed frame rate however fast the
training runs, and enforces limits (concurrent sessions, message size, network size). Bad
input gets an ``{"type": "error", "message": ...}`` reply; the session and the server keep
running. It never reads or writes files for the page (exports travel over the websocket).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import traceback
import webbrowser
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette import websockets as _websockets
from starlette.websockets import WebSocket, WebSocketDisconnect

from steepest.playground import chain, export, paths
from steepest.playground.config import ConfigError
from steepest.playground.session import Race, Session

__all__ = [
    "Limits", "MessageError", "Oversized", "INBOX_MESSAGES", "Conversation", "create_app",
    "serve", "STATIC", "LOCAL_HOSTS", "CLOSED",
]

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# A tab that closes while a frame is on its way (newer Starlette names the second case).
CLOSED = tuple(c for c in (WebSocketDisconnect, getattr(_websockets, "WebSocketDisconnected", None)) if c)


class Limits:
    """Server limits; the defaults suit a laptop or a classroom server."""

    def __init__(self, max_sessions: int = 8, max_message_bytes: int = 64 * 1024, fps: float = 15.0,
                 max_samples: int = 2000, max_steps_per_message: int = 1000):
        self.max_sessions = max_sessions
        self.max_message_bytes = max_message_bytes
        self.fps = fps
        self.max_samples = max_samples
        self.max_steps_per_message = max_steps_per_message


#: messages waiting for the session at most; the socket is not read while the inbox is full
INBOX_MESSAGES = 16


class Oversized:
    """A message over the size limit, of which only the size is kept."""

    def __init__(self, size: int):
        self.size = size


class MessageError(ValueError):
    """A message the session cannot act on; its text goes back to the page."""


class Conversation:
    """One websocket: a queue of incoming messages and a training loop that sends frames."""

    def __init__(self, websocket: WebSocket, limits: Limits):
        self.ws = websocket
        self.limits = limits
        # bounded: a page that sends faster than the session answers waits (back-pressure)
        self.inbox: asyncio.Queue = asyncio.Queue(maxsize=INBOX_MESSAGES)
        self.config: dict | None = None
        self.race_optimizers: list | None = None
        self.trainer = None          # a Session or a Race
        self.playing = False
        self.steps_per_s = 0.0
        self.fps = 0.0
        self._last_frame = None
        self._overhead = 0.01
        self._first_frame = False

    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive())
        try:
            while True:
                if self.playing and self.trainer is not None:
                    while not self.inbox.empty():
                        if not await self._handle(self.inbox.get_nowait()):
                            return
                    if self.playing:
                        await self._frame()
                else:
                    if not await self._handle(await self.inbox.get()):
                        return
        finally:
            receiver.cancel()

    async def _receive(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
                if size > self.limits.max_message_bytes:
                    data = Oversized(size)  # only its size is kept
                elif isinstance(data, bytes):
                    data = data.decode("utf-8", "replace")
                await self.inbox.put(data)
        except WebSocketDisconnect:
            pass
        await self.inbox.put(None)

    async def send(self, payload: dict) -> None:
        await self.ws.send_text(json.dumps(payload, allow_nan=False))

    async def error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    # --------------------------------------------------------------------- training frames

    def _train_then_snapshot(self, seconds: float, measure: bool) -> dict:
        """Train until ``seconds`` have passed (or the run diverged), then take a snapshot.

        Only full frames (``measure``, not cut short by a divergence) update the speeds.
        """
        deadline = time.perf_counter() + seconds
        taken = 0
        while time.perf_counter() < deadline:
            done = self.trainer.step(1)
            taken += done
            if not done:
                self.playing = False
                measure = False
                break
        return self._snapshot(taken, timed=measure)

    def _snapshot(self, taken: int, timed: bool = False) -> dict:
        """The trainer's snapshot plus speed read-outs; ``timed`` frames update the speeds."""
        now = time.perf_counter()
        if timed and self._last_frame is not None and now > self._last_frame:
            elapsed = now - self._last_frame
            rate, fps = taken / elapsed, 1.0 / elapsed
            self.steps_per_s = 0.8 * self.steps_per_s + 0.2 * rate if self.steps_per_s else rate
            self.fps = 0.8 * self.fps + 0.2 * fps if self.fps else fps
        self._last_frame = now
        snap = self.trainer.snapshot()
        snap["steps_per_s"] = round(self.steps_per_s, 1)
        snap["fps"] = round(self.fps, 1)
        snap["playing"] = self.playing
        return snap

    async def _frame(self) -> None:
        """Train for most of one frame period, send the snapshot, wait out the rest."""
        period = 1.0 / self.limits.fps
        start = time.perf_counter()
        budget = max(0.2 * period, period - self._overhead)
        first, self._first_frame = self._first_frame, False
        if first:   # answer a click quickly, then settle into full frames
            budget = 0.2 * period
        try:
            snap = await asyncio.to_thread(self._train_then_snapshot, budget, not first)
        except Exception as exc:  # a crashed step must not take the session down
            self.playing = False
            traceback.print_exc()
            await self.error(f"training stopped by an internal error: {type(exc).__name__}: {exc}")
            return
        await self.send(snap)
        # snapshot + send time, measured, so that training fills the rest of the period
        self._overhead = 0.8 * self._overhead + 0.2 * (time.perf_counter() - start - budget + 0.002)
        rest = period - (time.perf_counter() - start)
        if rest > 0:
            await asyncio.sleep(rest)

    # --------------------------------------------------------------------- messages

    async def _handle(self, raw) -> bool:
        """Act on one message; False when the socket closed."""
        if raw is None:
            return False
        if isinstance(raw, Oversized):
            await self.error(f"message of {raw.size} bytes is over the limit of "
                             f"{self.limits.max_message_bytes} bytes")
            return True
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError, TypeError) as exc:  # incl. 5000-digit integers
            await self.error(f"malformed JSON message: {exc}")
            return True
        kind = message.get("type") if isinstance(message, dict) else None
        handler = getattr(self, f"on_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            await self.error(f"unknown message type {kind!r}; expected one of config, play, "
                             f"pause, step, reset, set, lr_range, inspect, race, paths, export")
            return True
        try:
            await handler(message)
        except WebSocketDisconnect:  # the page went away mid-reply: end the session quietly
            return False
        except (ConfigError, MessageError) as exc:
            await self.error(str(exc))
        except Exception as exc:  # report, keep the session alive
            traceback.print_exc()
            await self.error(f"internal error while handling {kind!r}: {type(exc).__name__}: {exc}")
        return True

    def _need_trainer(self):
        if self.trainer is None:
            raise MessageError("no network yet: send a config message first")
        return self.trainer

    def _need_session(self) -> Session:
        if not isinstance(self._need_trainer(), Session):
            raise MessageError("this works on a single network; leave the optimizer race first")
        return self.trainer

    async def _build(self, config: dict, race_optimizers: list | None) -> None:
        """Build the network (or race) for ``config``; only a valid one replaces the current."""
        if race_optimizers is None:
            trainer = await asyncio.to_thread(Session, config, self.limits.max_samples)
        else:
            trainer = await asyncio.to_thread(Race, config, race_optimizers, self.limits.max_samples)
        self.config, self.race_optimizers = config, race_optimizers
        self.trainer, self.playing, self._last_frame = trainer, False, None
        self.steps_per_s = self.fps = 0.0
        first = trainer.sessions[0] if isinstance(trainer, Race) else trainer
        ready = first.describe()
        ready["race"] = None if isinstance(trainer, Session) else [s.config for s in trainer.sessions]
        await self.send(ready)
        await self.send(self._snapshot(0))

    async def on_config(self, message) -> None:
        config = message.get("config")
        if not isinstance(config, dict):
            raise MessageError(f"config message needs a 'config' object, got {config!r}")
        await self._build(config, None)

    async def on_race(self, message) -> None:
        if self.config is None:
            raise MessageError("no network yet: send a config message first")
        await self._build(self.config, message.get("optimizers"))

    async def on_play(self, message) -> None:
        trainer = self._need_trainer()
        diverged = trainer.diverged if isinstance(trainer, Session) else None
        if diverged:
            raise MessageError(diverged["message"])
        self.playing = True
        self._first_frame = True
        self._last_frame = time.perf_counter()

    async def on_pause(self, message) -> None:
        self.playing = False
        if self.trainer is not None:
            await self.send(self._snapshot(0))

    async def on_step(self, message) -> None:
        trainer = self._need_trainer()
        n = message.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.limits.max_steps_per_message:
            raise MessageError(f"step: n must be a whole number in 1..{self.limits.max_steps_per_message}, got {n!r}")
        self.playing = False
        taken = await asyncio.to_thread(trainer.step, n)
        await self.send(await asyncio.to_thread(self._snapshot, taken))

    async def on_reset(self, message) -> None:
        if self.config is None:
            raise MessageError("no network yet: send a config message first")
        await self._build(self.config, self.race_optimizers)

    async def on_set(self, message) -> None:
        session = self._need_session()
        if "lr" not in message or set(message) - {"type", "lr"}:
            raise MessageError(f"set takes one field, lr, got {sorted(set(message) - {'type'})}")
        session.set_lr(message["lr"])
        self.config = {**self.config, "lr": session.lr}
        await self.send({"type": "lr", "lr": session.lr})

    async def on_lr_range(self, message) -> None:
        session = self._need_session()
        self.playing = False
        await self.send(await asyncio.to_thread(session.lr_range))

    async def on_inspect(self, message) -> None:
        session = self._need_session()
        args = [message.get(k) for k in ("layer", "row", "col")]
        await self.send(await asyncio.to_thread(chain.inspect_weight, session, *args))

    async def on_paths(self, message) -> None:
        fields = {k: v for k, v in message.items() if k != "type"}
        await self.send(await asyncio.to_thread(paths.run_paths, **paths.check_request(fields)))

    async def on_export(self, message) -> None:
        session = self._need_session()
        what = message.get("what")
        if not isinstance(what, str) or what not in export.EXPORTS:
            raise MessageError(f"export: unknown 'what' {what!r}; expected one of "
                               f"{', '.join(export.EXPORTS)}")
        await self.send(await asyncio.to_thread(export.EXPORTS[what], session))


def create_app(limits: Limits | None = None) -> Starlette:
    """The Starlette app: ``/ws`` for sessions, the page at ``/``."""
    limits = limits or Limits()

    async def sessions(websocket: WebSocket) -> None:
        await websocket.accept()
        app = websocket.app
        if app.state.active >= limits.max_sessions:
            await websocket.send_text(json.dumps({
                "type": "error", "message": f"the server already runs {limits.max_sessions} "
                "sessions, its limit: close another playground tab and reload"}))
            await websocket.close(code=1013)
            return
        app.state.active += 1
        try:
            await Conversation(websocket, limits).run()
        except CLOSED:
            pass
        finally:
            app.state.active -= 1

    app = Starlette(routes=[WebSocketRoute("/ws", sessions),
                            Mount("/", StaticFiles(directory=STATIC, html=True), name="static")])
    app.state.active = 0
    app.state.limits = limits
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
          limits: Limits | None = None) -> None:
    """Run the playground until Ctrl-C (what ``steepest playground`` does)."""
    import uvicorn

    if host not in LOCAL_HOSTS:
        print(f"warning: the playground listens on {host}, so other machines on the network can "
              f"open it and start training sessions (limit {(limits or Limits()).max_sessions}).",
              file=sys.stderr)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"steepest playground: {url}  (Ctrl-C stops it)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_app(limits), host=host, port=port, log_level="warning",
                ws_max_size=1 << 20)
