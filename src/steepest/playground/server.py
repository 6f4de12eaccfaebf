"""The playground server: the page, one websocket per browser tab, and the teacher's view.

The server process only talks: it checks who may connect (join code, ``Host`` and ``Origin``),
parses and bounds every message, paces frames and keeps the global session limit. Training
runs in worker processes (:mod:`steepest.playground.worker`), one engine per tab. Bad input
gets an ``{"type": "error", "message": ...}`` reply; refusals and releases reach the page as
an error message followed by a close whose reason repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import socket
import threading
import time
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette import websockets as _websockets
from starlette.websockets import WebSocket, WebSocketDisconnect

from steepest.optim import catalogue
from steepest.playground.config import (
    DEFAULTS, LEGACY_SCHEDULES, NETWORK_OPTIMIZERS, PATH_OPTIMIZERS, SCHEDULES,
)
from steepest.playground.paths import DEFAULT_RACERS
from steepest.playground.worker import MESSAGE_TYPES, MessageError, start_workers

__all__ = [
    "Limits", "Access", "Oversized", "MessageError", "INBOX_MESSAGES", "Conversation",
    "create_app", "serve", "STATIC", "LOCAL_HOSTS", "CLOSED", "join_code", "server_names",
    "GuardedH11Protocol", "MAX_NAME", "SPARKLINE", "WELCOME", "RACE_SETTINGS",
]

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# A tab that closes while a frame is on its way (newer Starlette names the second case).
CLOSED = tuple(c for c in (WebSocketDisconnect, getattr(_websockets, "WebSocketDisconnected", None),
                           RuntimeError) if c)
#: messages waiting for the session at most; the socket is not read while the inbox is full
INBOX_MESSAGES = 16
MAX_NAME = 24        # characters of a student's name
SPARKLINE = 60       # training losses kept per session for the teacher's sparkline
MAX_INT_DIGITS = 18  # longer integers in a message are refused before anything uses them
CLOSE_POLICY, CLOSE_TRY_LATER, CLOSE_RELEASED = 1008, 1013, 4000


class Limits:
    """Server limits; the defaults suit a class of 40 on one laptop.

    ``workers`` 0 trains in the server process (tests); the CLI passes the number of cores.
    ``idle_minutes`` releases a tab nobody has touched; ``send_timeout`` closes a tab that
    stops reading; ``handshake_timeout`` closes connections that never finish a request.
    """

    def __init__(self, max_sessions: int = 40, max_message_bytes: int = 64 * 1024,
                 fps: float = 15.0, max_samples: int = 2000, max_steps_per_message: int = 1000,
                 workers: int = 0, idle_minutes: float = 20.0, send_timeout: float = 10.0,
                 handshake_timeout: float = 10.0):
        self.max_sessions = max_sessions
        self.max_message_bytes = max_message_bytes
        self.fps = fps
        self.max_samples = max_samples
        self.max_steps_per_message = max_steps_per_message
        self.workers = workers
        self.idle_minutes = idle_minutes
        self.send_timeout = send_timeout
        self.handshake_timeout = handshake_timeout


class Access:
    """Who may connect: ``code`` (students; None for none), ``teacher_code`` (the teacher's
    view; None closes it) and ``hosts``, the names the ``Host`` header may carry."""

    def __init__(self, code: str | None = None, teacher_code: str | None = None,
                 hosts=LOCAL_HOSTS):
        self.code = code
        self.teacher_code = teacher_code
        self.hosts = {h.lower() for h in hosts}

    @staticmethod
    def _matches(given, expected) -> bool:
        return expected is not None and isinstance(given, str) and \
            secrets.compare_digest(given.encode(), expected.encode())

    def student(self, query: dict) -> bool:
        return self.code is None or self._matches(query.get("code"), self.code)

    def teacher(self, query: dict) -> bool:
        return self._matches(query.get("code"), self.teacher_code)

    def host_allowed(self, host_header: str) -> bool:
        return _host_name(host_header) in self.hosts


def _host_name(host_header: str) -> str:
    """'example.org:8000' -> 'example.org', '[::1]:80' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def join_code() -> str:
    """A short code to type: 6 characters without look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


def server_names(host: str) -> set:
    """Every name and address a browser may use for this server: loopback, the machine's
    names and, for 0.0.0.0 / ::, its addresses on the network."""
    names = {*LOCAL_HOSTS, host.lower()}
    hostname = socket.gethostname().lower()
    names.update({hostname, f"{hostname}.local", socket.getfqdn().lower()})
    try:
        names.update(info[4][0] for info in socket.getaddrinfo(hostname, None))
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))     # no packet is sent: finds the outgoing address
            names.add(probe.getsockname()[0])
    except OSError:
        pass
    return names


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is too large "
                         f"(at most {MAX_INT_DIGITS})")
    return int(text)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_message(raw: str):
    """JSON with integers bounded and without NaN/Infinity (ValueError otherwise)."""
    return json.loads(raw, parse_int=_bounded_int, parse_constant=_no_constant)


#: the settings besides lr a race or paths row offers: the first its optimizer takes
RACE_SETTINGS = ("momentum", "damping", "max_iter")

#: the first message of every session: the page builds its optimizer forms, its defaults and
#: its URL keys from it (no file of the page names an optimizer or one of its settings)
WELCOME = json.dumps({
    "type": "welcome", "catalogue": catalogue.to_json(), "defaults": DEFAULTS,
    "race_defaults": [{"optimizer": "sgd", "lr": 0.03}, {"optimizer": "sgd", "lr": 0.03, "momentum": 0.9},
                      {"optimizer": "rmsprop", "lr": 0.01}, {"optimizer": "adam", "lr": 0.01}],
    "path_defaults": DEFAULT_RACERS, "race_settings": list(RACE_SETTINGS),
    "network_optimizers": list(NETWORK_OPTIMIZERS), "path_optimizers": list(PATH_OPTIMIZERS),
    "schedules": list(SCHEDULES),
    # links of the old menu name these without settings of their own (see config.py)
    "legacy_schedules": [name for name, old in LEGACY_SCHEDULES.items() if old is not None],
})


class Oversized:
    """A message over the size limit, of which only the size is kept."""

    def __init__(self, size: int):
        self.size = size


class FromTeacher:
    """A message the teacher's view puts into a student's inbox."""

    def __init__(self, payload: dict):
        self.payload = payload


class Conversation:
    """One student tab: its websocket, its engine's worker, its pacing and its status."""

    def __init__(self, websocket: WebSocket, limits: Limits, worker, sid: int, room=None):
        self.ws = websocket
        self.limits = limits
        self.worker = worker
        self.sid = sid
        self.room = room
        # bounded: a page that sends faster than the session answers waits (back-pressure)
        self.inbox: asyncio.Queue = asyncio.Queue(maxsize=INBOX_MESSAGES)
        self.name = ""
        self.status: dict = {"playing": False, "step": 0}
        self.losses: list = []
        self.last_activity = time.monotonic()
        self.closed = False

    @property
    def playing(self) -> bool:
        return bool(self.status.get("playing"))

    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive())
        idle = self.limits.idle_minutes * 60
        try:
            while not self.closed:
                if idle and time.monotonic() - self.last_activity > idle:
                    await self.close(CLOSE_RELEASED, f"This session was released after "
                                     f"{self.limits.idle_minutes:g} minutes without activity, "
                                     f"to free its place for others. Reload the page to start again.")
                    return
                if self.playing:
                    while not self.inbox.empty():
                        if not await self._handle(self.inbox.get_nowait()):
                            return
                    if self.playing:
                        await self._frame()
                else:
                    wait = max(1.0, idle - (time.monotonic() - self.last_activity)) if idle else None
                    try:
                        raw = await asyncio.wait_for(self.inbox.get(), wait)
                    except asyncio.TimeoutError:
                        continue
                    if not await self._handle(raw):
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
        except CLOSED:
            pass
        self.closed = True
        if self.room is not None:
            self.room.release(self)   # at once, even while a frame is being computed
        if not self.inbox.full():   # a full inbox is read on: the loop sees ``closed``
            self.inbox.put_nowait(None)

    async def send(self, item) -> None:
        """Send a JSON text (dict or str) or a binary frame; a tab that stops reading is closed."""
        if isinstance(item, dict):
            item = json.dumps(item, allow_nan=False)
        sending = self.ws.send_text(item) if isinstance(item, str) else self.ws.send_bytes(item)
        try:
            await asyncio.wait_for(sending, self.limits.send_timeout)
        except asyncio.TimeoutError:
            self.closed = True
            raise WebSocketDisconnect(code=1006) from None

    async def error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    async def close(self, code: int, reason: str) -> None:
        """Tell the page why (an error message, then the close reason) and close."""
        try:
            await self.error(reason)
            await self.ws.close(code=code, reason=_reason(reason))
        except CLOSED:
            pass
        self.closed = True

    async def _deliver(self, reply) -> None:
        if reply is None:
            return
        for item in reply.out:
            await self.send(item)
        if reply.status:
            self.status = reply.status
            loss = reply.status.get("train_loss")
            if loss is not None and (not self.losses or self.losses[-1][0] != reply.status["step"]):
                self.losses.append((reply.status["step"], loss))
                if len(self.losses) > 4 * SPARKLINE:
                    self.losses = self.losses[::4]

    async def _frame(self) -> None:
        """Train for one frame in the worker, send it, wait out the rest of the period."""
        period = 1.0 / self.limits.fps
        start = time.perf_counter()
        playing = self.room.playing_count() if self.room is not None else 1
        cores = max(1, self.limits.workers)
        budget = min(0.8 * period, 0.8 * period * cores / max(1, playing))
        try:
            reply = await self.worker.call(self.sid, "frame", budget)
        except MessageError as exc:
            self.status = {**self.status, "playing": False}
            await self.error(str(exc))
            return
        await self._deliver(reply)
        rest = period - (time.perf_counter() - start)
        await asyncio.sleep(max(0.0, rest))

    async def _handle(self, raw) -> bool:
        """Act on one message; False when the socket closed."""
        if raw is None or self.closed:
            return False
        try:
            if isinstance(raw, FromTeacher):
                if raw.payload.get("type") == "pause":
                    await self._deliver(await self.worker.call(self.sid, "handle", raw.payload))
                    await self.send({"type": "notice", "message": "Your teacher paused everyone."})
                else:
                    await self.send(raw.payload)
                return True
            self.last_activity = time.monotonic()
            if isinstance(raw, Oversized):
                await self.error(f"message of {raw.size} bytes is over the limit of "
                                 f"{self.limits.max_message_bytes} bytes")
                return True
            try:
                message = parse_message(raw)
            except (ValueError, RecursionError, TypeError) as exc:  # incl. 5000-digit integers
                await self.error(f"malformed JSON message: {exc}")
                return True
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "hello":
                await self._hello(message)
            elif isinstance(kind, str) and kind in MESSAGE_TYPES:
                await self._deliver(await self.worker.call(self.sid, "handle", message))
            else:
                await self.error(f"unknown message type {kind!r}; expected one of hello, "
                                 f"{', '.join(MESSAGE_TYPES)}")
        except MessageError as exc:
            await self.error(str(exc))
        except CLOSED:  # the page went away mid-reply: end the session quietly
            return False
        return True

    async def _hello(self, message: dict) -> None:
        name = message.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME \
                or not name.strip().isprintable():
            raise MessageError(f"hello: name must be 1 to {MAX_NAME} printable characters, "
                               f"got {name!r}")
        self.name = name.strip()
        await self.send({"type": "hello", "name": self.name})

    def summary(self) -> dict:
        """This tab as the teacher's view shows it."""
        status = self.status
        step = max(1, len(self.losses) // SPARKLINE)
        return {"id": self.sid, "name": self.name or f"tab {self.sid}",
                "dataset": status.get("dataset"), "optimizer": status.get("optimizer"),
                "lr": status.get("lr"), "step": status.get("step", 0),
                "train_loss": status.get("train_loss"), "test_loss": status.get("test_loss"),
                "playing": self.playing, "diverged": bool(status.get("diverged")),
                "sparkline": [loss for _, loss in self.losses[::step]][-SPARKLINE:]}


def _reason(text: str) -> str:
    """A websocket close reason: at most 123 bytes of UTF-8."""
    data = text.encode("utf-8")
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "…"


class Room:
    """Every open tab, the global limit, and the workers they are spread over."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.workers: list = []
        self.conversations: dict = {}
        self._ids = itertools.count(1)

    def start(self) -> None:
        if not self.workers:
            self.workers = start_workers(self.limits.workers, self.limits.max_samples,
                                         self.limits.max_steps_per_message)

    def stop(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers = []

    @property
    def active(self) -> int:
        return len(self.conversations)

    def playing_count(self) -> int:
        return sum(c.playing for c in self.conversations.values())

    def admit(self, websocket: WebSocket) -> Conversation | None:
        if self.active >= self.limits.max_sessions:
            return None
        worker = min(self.workers, key=lambda w: w.sessions)
        worker.sessions += 1
        conversation = Conversation(websocket, self.limits, worker, next(self._ids), self)
        self.conversations[conversation.sid] = conversation
        return conversation

    def release(self, conversation: Conversation) -> None:
        if self.conversations.pop(conversation.sid, None) is not None:
            conversation.worker.sessions -= 1
            conversation.worker.drop(conversation.sid)

    def broadcast(self, payload: dict) -> int:
        """Put ``payload`` into every tab's inbox; returns how many got it."""
        reached = 0
        for conversation in list(self.conversations.values()):
            try:
                conversation.inbox.put_nowait(FromTeacher(payload))
                reached += 1
            except asyncio.QueueFull:
                pass
        return reached


def _query(scope) -> dict:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[0] for key, values in parsed.items()}


class _Guard:
    """ASGI middleware: a ``Host`` the server does not answer to is refused (DNS rebinding)."""

    def __init__(self, app, access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not self.access.host_allowed(host):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": CLOSE_POLICY})
                    return
                response = HTMLResponse(f"This server does not answer to the host name "
                                        f"{_host_name(host)!r}.", status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


CODE_PAGE = """<!doctype html><meta charset="utf-8"><title>steepest playground: join code</title>
<body style="font:16px system-ui;max-width:34em;margin:4em auto">
<h1>This playground needs a join code</h1>
<p>Open the address your teacher showed, with its code, like
<code>http://…/?code=abc234</code>, or type the code:</p>
<form><input name="code" autofocus aria-label="join code"> <button>join</button></form>"""


def _origin_ok(websocket: WebSocket) -> bool:
    """A browser's Origin must be this page's own (another site's page may not connect)."""
    origin = websocket.headers.get("origin")
    if origin is None:   # not a browser (tools, tests): the code and Host checks still apply
        return True
    host = websocket.headers.get("host", "")
    return origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower())


def create_app(limits: Limits | None = None, access: Access | None = None) -> Starlette:
    """The Starlette app: the page at ``/``, sessions at ``/ws``, the teacher at ``/teacher``."""
    limits = limits or Limits()
    access = access or Access()
    room = Room(limits)

    async def refuse(websocket: WebSocket, code: int, text: str) -> None:
        await websocket.accept()
        await websocket.send_text(json.dumps({"type": "error", "message": text}))
        await websocket.close(code=code, reason=_reason(text))

    async def sessions(websocket: WebSocket) -> None:
        if not _origin_ok(websocket):
            await refuse(websocket, CLOSE_POLICY, "this page comes from another site "
                         f"({websocket.headers.get('origin')}); open the playground's own address")
            return
        if not access.student(_query(websocket.scope)):
            await refuse(websocket, CLOSE_POLICY, "this playground needs the join code: open "
                         "the address your teacher showed, with ?code=…")
            return
        room.start()
        conversation = room.admit(websocket)
        if conversation is None:
            await refuse(websocket, CLOSE_TRY_LATER, f"the server already runs "
                         f"{limits.max_sessions} sessions, its limit: ask your teacher, or "
                         "close another playground tab and reload")
            return
        await websocket.accept()
        try:
            conversation.worker.open(conversation.sid)
            await conversation.send(WELCOME)
            await conversation.run()
        except CLOSED:
            pass
        finally:
            room.release(conversation)
            if not conversation.closed:
                try:
                    await websocket.close()
                except CLOSED:
                    pass

    async def page(request):
        if not access.student(dict(request.query_params)):
            return HTMLResponse(CODE_PAGE, status_code=403)
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def teacher_page(request):
        if not access.teacher(dict(request.query_params)):
            return HTMLResponse(CODE_PAGE.replace("a join code", "the teacher's code"),
                                status_code=403)
        return FileResponse(STATIC / "teacher.html", headers={"Cache-Control": "no-store"})

    async def teacher(websocket: WebSocket) -> None:
        if not _origin_ok(websocket) or not access.teacher(_query(websocket.scope)):
            await refuse(websocket, CLOSE_POLICY, "the teacher's view needs the teacher's code "
                         "(printed when the server started)")
            return
        await websocket.accept()
        listener = asyncio.create_task(_teacher_commands(websocket, room, limits))
        try:
            while not listener.done():
                await asyncio.wait_for(websocket.send_text(json.dumps({
                    "type": "class", "limit": limits.max_sessions,
                    "sessions": [c.summary() for c in room.conversations.values()],
                }, allow_nan=False)), limits.send_timeout)
                await asyncio.wait([listener], timeout=1.0)
        except (*CLOSED, asyncio.TimeoutError):
            pass
        finally:
            listener.cancel()

    app = Starlette(routes=[
        Route("/", page), Route("/index.html", page), Route("/teacher", teacher_page),
        WebSocketRoute("/ws", sessions), WebSocketRoute("/teacher/ws", teacher),
        Mount("/", StaticFiles(directory=STATIC), name="static"),
    ], lifespan=_lifespan(room))
    app.state.room = room
    app.state.limits = limits
    app.state.access = access
    guarded = _Guard(app, access)
    guarded.state = app.state
    return guarded


def _lifespan(room: Room):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        room.start()
        try:
            yield
        finally:
            room.stop()
    return lifespan


async def _teacher_commands(websocket: WebSocket, room: Room, limits: Limits) -> None:
    """The teacher's buttons: pause everyone, send a setup to the class."""
    while True:
        raw = await websocket.receive_text()
        if len(raw) > limits.max_message_bytes:
            continue
        try:
            message = parse_message(raw)
        except (ValueError, RecursionError, TypeError):
            continue
        if not isinstance(message, dict):
            continue
        if message.get("type") == "pause_all":
            reached = room.broadcast({"type": "pause"})
            await websocket.send_text(json.dumps({"type": "done", "message":
                                                  f"paused {reached} session(s)"}))
        elif message.get("type") == "send_setup":
            source = room.conversations.get(message.get("id")) if isinstance(
                message.get("id"), int) else None
            config = source.status.get("config") if source else None
            if config is None:
                await websocket.send_text(json.dumps({"type": "done", "message":
                                                      "that session has no network yet"}))
                continue
            reached = room.broadcast({"type": "teacher_setup", "config": config,
                                      "from": source.name or f"tab {source.sid}"})
            await websocket.send_text(json.dumps({"type": "done", "message":
                                                  f"sent to {reached} session(s)"}))


try:  # connections that never finish their request are closed (half-open, slow headers)
    from uvicorn.protocols.http.h11_impl import H11Protocol as _H11Protocol
except ImportError:  # pragma: no cover - uvicorn without h11
    _H11Protocol = object


class GuardedH11Protocol(_H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose first request is not complete
    within ``HANDSHAKE_TIMEOUT`` seconds (uvicorn itself waits for ever)."""

    HANDSHAKE_TIMEOUT = 10.0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._handshake = self.loop.call_later(self.HANDSHAKE_TIMEOUT, self._handshake_over)

    def _handshake_over(self) -> None:
        if self.cycle is None and self.transport.get_protocol() is self \
                and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self._handshake.cancel()
        super().connection_lost(exc)


def _raise_file_limit() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass


def _print_qr(url: str) -> None:
    try:
        import segno
    except ImportError:
        print("  (pip install segno to print a QR code of this address here)")
        return
    segno.make(url, error="m").terminal(compact=True)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
          limits: Limits | None = None, code: str | None = None,
          teacher_code: str | None = None) -> None:
    """Run the playground until Ctrl-C (what ``steepest playground`` does).

    A non-loopback ``host`` needs a join code: ``code``, or a generated one.
    """
    import uvicorn

    limits = limits or Limits(workers=os.cpu_count() or 1)
    local = host in LOCAL_HOSTS
    if not local and code is None:
        code = join_code()
    teacher_code = teacher_code or join_code() + join_code()
    names = server_names(host) if host in ("0.0.0.0", "::") else {*LOCAL_HOSTS, host.lower()}
    shown = host
    if host in ("0.0.0.0", "::"):
        shown = next((n for n in sorted(names) if n.count(".") == 3 and not n.startswith(("127.", "0."))),
                     "127.0.0.1")
    address = f"[{shown}]" if ":" in shown else shown
    url = f"http://{address}:{port}/" + (f"?code={code}" if code else "")
    teacher_url = f"http://{address}:{port}/teacher?code={teacher_code}"
    print(f"steepest playground: {url}  (Ctrl-C stops it)")
    if not local:
        print(f"students open {url} (join code {code}), up to {limits.max_sessions} at once:")
        _print_qr(url)
    print(f"teacher's view: {teacher_url}")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    _raise_file_limit()
    GuardedH11Protocol.HANDSHAKE_TIMEOUT = limits.handshake_timeout
    uvicorn.run(create_app(limits, Access(code, teacher_code, names)), host=host, port=port,
                log_level="warning", ws_max_size=1 << 20, http=GuardedH11Protocol,
                limit_concurrency=limits.max_sessions + 64, ws_ping_interval=10.0,
                ws_ping_timeout=20.0)
