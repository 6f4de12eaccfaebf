"""Where the training runs: one :class:`Engine` per page, hosted in worker processes.

The server (one asyncio process) only reads and writes websockets. Each page's engine lives in
a worker: :class:`ProcessWorker` (a separate process, so a class of 30 uses every core) or
:class:`InlineWorker` (a thread of the server process; tests and ``--workers 0``). A worker
answers calls ``(session id, method, argument)`` in order; every answer is a :class:`Reply`:
the messages for the page (JSON text already encoded, binary map frames as bytes) and a small
status the server uses for pacing and for the teacher's view.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import sys
import threading
import time
import traceback

from steepest.playground import chain, export, paths
from steepest.playground.config import ConfigError
from steepest.playground.session import Race, Session

__all__ = [
    "MessageError", "Engine", "Reply", "InlineWorker", "ProcessWorker", "start_workers",
    "DEFAULT_STEPS_PER_FRAME", "MAX_STEPS_PER_FRAME", "MESSAGE_TYPES",
]

#: steps per frame at the default speed: the default circle learns in about 5-10 s at 15 fps
DEFAULT_STEPS_PER_FRAME = 15
#: the "as fast as possible" end of the speed control is 0 (train for the frame's time budget)
MAX_STEPS_PER_FRAME = 1000
MESSAGE_TYPES = ("config", "play", "pause", "step", "reset", "set", "edit", "speed", "lr_range",
                 "inspect", "race", "paths", "export")


class MessageError(ValueError):
    """A message the session cannot act on; its text goes back to the page."""


class Reply:
    """What one call produced: ``out`` (str JSON messages and bytes frames, in order) and
    ``status`` (playing, step, losses, setup: what the server paces and shows the teacher)."""

    __slots__ = ("out", "status")

    def __init__(self, out: list, status: dict):
        self.out = out
        self.status = status


def _text(payload: dict) -> str:
    return json.dumps(payload, allow_nan=False)


class Engine:
    """One page's trainer (a Session or a Race) and its play state, without any socket."""

    def __init__(self, max_samples: int = 2000, max_steps_per_message: int = 1000):
        self.max_samples = max_samples
        self.max_steps = max_steps_per_message
        self.config: dict | None = None
        self.race_optimizers: list | None = None
        self.trainer = None
        self.playing = False
        self.steps_per_frame = DEFAULT_STEPS_PER_FRAME
        self.steps_per_s = 0.0
        self.fps = 0.0
        self._last_frame = None
        self._sent_maps = None      # the last map bytes sent: unchanged maps are not resent

    # ------------------------------------------------------------------ entry points

    def handle(self, message: dict) -> Reply:
        """Act on one parsed page message (a dict with a known ``type``)."""
        out: list = []
        kind = message["type"]
        try:
            getattr(self, f"on_{kind}")(message, out)
        except (ConfigError, MessageError) as exc:
            out.append(_text({"type": "error", "message": str(exc)}))
        except Exception as exc:  # report, keep the session alive
            traceback.print_exc()
            out.append(_text({"type": "error", "message": f"internal error while handling "
                              f"{kind!r}: {type(exc).__name__}: {exc}"}))
        return Reply(out, self.status())

    def frame(self, seconds: float) -> Reply:
        """One frame while playing: train (``steps_per_frame`` steps, or for ``seconds`` at the
        fastest speed, never much longer than ``seconds``), then the snapshot."""
        out: list = []
        if not self.playing or self.trainer is None:
            return Reply(out, self.status())
        deadline = time.perf_counter() + seconds
        target = self.steps_per_frame or None
        taken = 0
        try:
            while target is None or taken < target:
                done = self.trainer.step(1)
                taken += done
                if not done:
                    self.playing = False
                    break
                if time.perf_counter() >= deadline:
                    break
            self._snapshot(out, taken, timed=self.playing)
        except Exception as exc:  # a crashed step must not take the session down
            self.playing = False
            traceback.print_exc()
            out.append(_text({"type": "error", "message": "training stopped by an internal "
                              f"error: {type(exc).__name__}: {exc}"}))
        return Reply(out, self.status())

    def status(self) -> dict:
        trainer = self.trainer
        status = {"playing": self.playing, "step": getattr(trainer, "step_count", 0),
                  "race": isinstance(trainer, Race)}
        if isinstance(trainer, Session):
            last = trainer.history[-1] if trainer.history else [0, None, None]
            status.update(train_loss=last[1], test_loss=last[2], lr=trainer.lr,
                          dataset=trainer.config["dataset"], optimizer=trainer.config["optimizer"],
                          diverged=trainer.diverged is not None, config=trainer.config)
        return status

    # ------------------------------------------------------------------ snapshots

    def _snapshot(self, out: list, taken: int, timed: bool = False) -> None:
        """The trainer's snapshot plus speed read-outs; ``timed`` frames update the speeds."""
        now = time.perf_counter()
        if timed and self._last_frame is not None and now > self._last_frame:
            elapsed = now - self._last_frame
            rate, fps = taken / elapsed, 1.0 / elapsed
            self.steps_per_s = 0.8 * self.steps_per_s + 0.2 * rate if self.steps_per_s else rate
            self.fps = 0.8 * self.fps + 0.2 * fps if self.fps else fps
        self._last_frame = now
        if isinstance(self.trainer, Race):
            snap = self.trainer.snapshot()
            maps = None
        else:
            snap = self.trainer.snapshot(with_heatmaps=False)
            layout, maps = self.trainer.map_frame()
            if maps == self._sent_maps:
                maps = None
            else:
                self._sent_maps = maps
            snap["maps"] = layout if maps is not None else None
        snap.update(steps_per_s=round(self.steps_per_s, 1), fps=round(self.fps, 1),
                    playing=self.playing, steps_per_frame=self.steps_per_frame)
        out.append(_text(snap))
        if maps is not None:
            out.append(maps)

    def _need_trainer(self):
        if self.trainer is None:
            raise MessageError("no network yet: send a config message first")
        return self.trainer

    def _need_session(self) -> Session:
        if not isinstance(self._need_trainer(), Session):
            raise MessageError("this works on a single network; leave the optimizer race first")
        return self.trainer

    def _build(self, config: dict, race_optimizers: list | None, out: list) -> None:
        """Build the network (or race) for ``config``; only a valid one replaces the current."""
        if race_optimizers is None:
            trainer = Session(config, self.max_samples)
        else:
            trainer = Race(config, race_optimizers, self.max_samples)
        self.config, self.race_optimizers = config, race_optimizers
        self.trainer, self.playing, self._last_frame = trainer, False, None
        self.steps_per_s = self.fps = 0.0
        self._sent_maps = None
        first = trainer.sessions[0] if isinstance(trainer, Race) else trainer
        ready = first.describe()
        ready["race"] = None if isinstance(trainer, Session) else [s.config for s in trainer.sessions]
        out.append(_text(ready))
        self._snapshot(out, 0)

    # ------------------------------------------------------------------ messages

    def on_config(self, message, out) -> None:
        config = message.get("config")
        if not isinstance(config, dict):
            raise MessageError(f"config message needs a 'config' object, got {config!r}")
        self._build(config, None, out)

    def on_race(self, message, out) -> None:
        self._need_trainer()
        self._build(self.config, message.get("optimizers"), out)

    def on_play(self, message, out) -> None:
        trainer = self._need_trainer()
        diverged = trainer.diverged if isinstance(trainer, Session) else None
        if diverged:
            raise MessageError(diverged["message"])
        self.playing = True
        self._last_frame = time.perf_counter()

    def on_pause(self, message, out) -> None:
        self.playing = False
        if self.trainer is not None:
            self._snapshot(out, 0)

    def on_step(self, message, out) -> None:
        trainer = self._need_trainer()
        n = message.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.max_steps:
            raise MessageError(f"step: n must be a whole number in 1..{self.max_steps}, got {n!r}")
        self.playing = False
        self._snapshot(out, trainer.step(n))

    def on_reset(self, message, out) -> None:
        self._need_trainer()
        self._build(self.config, self.race_optimizers, out)

    def on_set(self, message, out) -> None:
        session = self._need_session()
        if "lr" not in message or set(message) - {"type", "lr"}:
            raise MessageError(f"set takes one field, lr, got {sorted(set(message) - {'type'})}")
        session.set_lr(message["lr"])
        self.config = {**self.config, "lr": session.lr}
        out.append(_text({"type": "lr", "lr": session.lr}))

    def on_edit(self, message, out) -> None:
        session = self._need_session()
        self.playing = False
        session.edit(message.get("layer"), message.get("row"), message.get("col"),
                     message.get("value"))
        self._snapshot(out, 0)

    def on_speed(self, message, out) -> None:
        steps = message.get("steps_per_frame")
        if isinstance(steps, bool) or not isinstance(steps, int) \
                or not 0 <= steps <= MAX_STEPS_PER_FRAME:
            raise MessageError(f"speed: steps_per_frame must be a whole number in "
                               f"1..{MAX_STEPS_PER_FRAME}, or 0 for as fast as possible, "
                               f"got {steps!r}")
        self.steps_per_frame = steps
        out.append(_text({"type": "speed", "steps_per_frame": steps}))

    def on_lr_range(self, message, out) -> None:
        session = self._need_session()
        self.playing = False
        out.append(_text(session.lr_range()))

    def on_inspect(self, message, out) -> None:
        session = self._need_session()
        args = [message.get(k) for k in ("layer", "row", "col")]
        out.append(_text(chain.inspect_weight(session, *args)))

    def on_paths(self, message, out) -> None:
        fields = {k: v for k, v in message.items() if k != "type"}
        out.append(_text(paths.run_paths(**paths.check_request(fields))))

    def on_export(self, message, out) -> None:
        session = self._need_session()
        what = message.get("what")
        if not isinstance(what, str) or what not in export.EXPORTS:
            raise MessageError(f"export: unknown 'what' {what!r}; expected one of "
                               f"{', '.join(export.EXPORTS)}")
        out.append(_text(export.EXPORTS[what](session)))


# ---------------------------------------------------------------------- hosting engines

class _Host:
    """The engines of one worker, by session id; runs one call at a time."""

    def __init__(self, max_samples: int, max_steps: int):
        self.engines: dict = {}
        self.max_samples, self.max_steps = max_samples, max_steps

    def open(self, sid: int) -> None:
        self.engines[sid] = Engine(self.max_samples, self.max_steps)

    def drop(self, sid: int) -> None:
        self.engines.pop(sid, None)

    def call(self, sid: int, method: str, argument) -> Reply | None:
        if method in ("open", "drop"):
            return getattr(self, method)(sid)
        engine = self.engines.get(sid)
        if engine is None:   # dropped: the tab has gone
            return None
        return engine.handle(argument) if method == "handle" else engine.frame(argument)


class InlineWorker:
    """Engines in this process, called on threads (one at a time per worker, like a process)."""

    def __init__(self, max_samples: int = 2000, max_steps: int = 1000):
        self.host = _Host(max_samples, max_steps)
        self.lock = threading.Lock()
        self.sessions = 0

    def _call(self, sid, method, argument):
        with self.lock:
            return self.host.call(sid, method, argument)

    async def call(self, sid: int, method: str, argument=None) -> Reply | None:
        return await asyncio.to_thread(self._call, sid, method, argument)

    def open(self, sid: int) -> None:
        self.host.open(sid)

    def drop(self, sid: int) -> None:
        self.host.drop(sid)   # a running call keeps its engine until it returns

    def close(self) -> None:
        self.host.engines.clear()


def _serve_worker(connection, max_samples: int, max_steps: int) -> None:
    """The worker process's loop: answer ``(request id, sid, method, argument)`` in order."""
    host = _Host(max_samples, max_steps)
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if request is None:
            return
        request_id, sid, method, argument = request
        try:
            result = host.call(sid, method, argument)
        except Exception as exc:  # an engine never raises; this is a last guard
            traceback.print_exc()
            result = Reply([_text({"type": "error", "message": f"internal error: {exc}"})], {})
        if request_id is not None:
            try:
                connection.send((request_id, result))
            except (OSError, ValueError):
                return


class ProcessWorker:
    """A worker process with a pipe; a reader thread hands answers to the waiting coroutines."""

    def __init__(self, max_samples: int = 2000, max_steps: int = 1000):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve_worker, args=(child, max_samples, max_steps),
                                       daemon=True, name="steepest-playground-worker")
        self.process.start()
        child.close()
        self.sessions = 0
        self._ids = itertools.count()
        self._waiting: dict = {}
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                request_id, result = self.connection.recv()
            except (EOFError, OSError):
                break
            waiting = self._waiting.pop(request_id, None)
            if waiting is not None:
                loop, future = waiting
                loop.call_soon_threadsafe(_resolve, future, result)
        for loop, future in list(self._waiting.values()):
            loop.call_soon_threadsafe(_fail, future, "the worker process stopped")
        self._waiting.clear()

    def _send(self, request) -> None:
        with self._send_lock:
            self.connection.send(request)

    async def call(self, sid: int, method: str, argument=None) -> Reply | None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        request_id = next(self._ids)
        self._waiting[request_id] = (loop, future)
        try:
            self._send((request_id, sid, method, argument))
        except (OSError, ValueError) as exc:
            self._waiting.pop(request_id, None)
            raise MessageError(f"the worker process is gone ({exc}); reload the page") from None
        return await future

    def open(self, sid: int) -> None:
        """A new engine; calls for ``sid`` follow it down the same pipe, in order."""
        self._send((None, sid, "open", None))

    def drop(self, sid: int) -> None:
        try:
            self._send((None, sid, "drop", None))
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        try:
            self._send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
        self.connection.close()


def _resolve(future, result) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future, text) -> None:
    if not future.done():
        future.set_exception(MessageError(text))


def start_workers(count: int, max_samples: int = 2000, max_steps: int = 1000) -> list:
    """``count`` worker processes, or one inline worker for ``count`` 0."""
    if count <= 0:
        return [InlineWorker(max_samples, max_steps)]
    try:
        return [ProcessWorker(max_samples, max_steps) for _ in range(count)]
    except OSError as exc:
        print(f"warning: could not start worker processes ({exc}); training runs in the "
              f"server process", file=sys.stderr)
        return [InlineWorker(max_samples, max_steps)]
