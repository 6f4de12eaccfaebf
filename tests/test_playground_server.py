"""The playground server's protocol and limits, through Starlette's TestClient (no browser)."""

import json

import numpy as np
import pytest
from starlette.testclient import TestClient

from steepest.playground import server as server_module
from steepest.playground.datasets import DATASETS
from steepest.playground.server import LOCAL_HOSTS, Access, Limits, create_app
from steepest.playground.session import Session


CUSTOM_POINTS = [[-3, -3, 0], [-2, -3, 0], [-3, -2, 0], [3, 3, 1], [2, 3, 1], [3, 2, 1],
                 [-2.5, -2.5, 0], [2.5, 2.5, 1]]
#: TestClient calls itself "testserver"
TEST_ACCESS = Access(hosts=(*LOCAL_HOSTS, "testserver"))


@pytest.fixture
def client():
    with TestClient(create_app(Limits(max_sessions=3, fps=30), TEST_ACCESS)) as c:
        yield c


def receive(ws, kind):
    """The next message of type ``kind`` (frames of other types may come first)."""
    for _ in range(400):
        raw = ws.receive()
        if raw.get("text") is None:     # a binary map frame
            continue
        message = json.loads(raw["text"])
        if message["type"] == kind:
            return message
        if message["type"] == "error" and kind != "error":
            raise AssertionError(message["message"])
    raise AssertionError(f"no {kind} message")


def configure(ws, **config):
    ws.send_json({"type": "config", "config": config})
    ready = receive(ws, "ready")
    return ready, receive(ws, "snapshot")


@pytest.mark.parametrize("dataset", DATASETS)
def test_loss_falls_on_every_dataset(client, dataset):
    config = {"dataset": dataset, "hidden": [8, 8], "activation": "tanh", "optimizer": "adam",
              "lr": 0.03}
    if dataset == "custom":
        config.update(points=CUSTOM_POINTS, batch_size=4)
    if dataset == "spiral":   # TF Playground's hardest set: give it the sine features
        config["features"] = ["x1", "x2", "sinx1", "sinx2"]
    with client.websocket_connect("/ws") as ws:
        _, first = configure(ws, **config)
        ws.send_json({"type": "step", "n": 400})
        later = receive(ws, "snapshot")
    assert later["step"] == 400 and later["diverged"] is None
    assert later["train_loss"] < 0.5 * first["train_loss"], (first["train_loss"], later["train_loss"])


def test_config_step_and_loss_falls(client):
    with client.websocket_connect("/ws") as ws:
        ready, first = configure(ws, dataset="gauss", hidden=[4], optimizer="adam", lr=0.03)
        assert ready["task"] == "binary" and len(ready["train"]) == 200 and first["step"] == 0
        ws.send_json({"type": "step", "n": 300})
        later = receive(ws, "snapshot")
        assert later["step"] == 300 and later["train_loss"] < 0.5 * first["train_loss"]
        assert later["epoch"] == 300 // ready["steps_per_epoch"]


def test_play_streams_frames_until_pause(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[8, 8])
        ws.send_json({"type": "play"})
        frames = [receive(ws, "snapshot") for _ in range(4)]
        steps = [f["step"] for f in frames]
        assert steps == sorted(steps) and steps[-1] > steps[0]
        assert frames[-1]["steps_per_s"] > 0 and frames[-1]["fps"] > 0
        ws.send_json({"type": "pause"})
        paused = None
        for _ in range(50):
            message = receive(ws, "snapshot")
            if not message["playing"]:
                paused = message
                break
        assert paused is not None
        ws.send_json({"type": "step"})
        assert receive(ws, "snapshot")["step"] == paused["step"] + 1


def test_set_lr_keeps_weights_and_reset_restores_the_start(client):
    with client.websocket_connect("/ws") as ws:
        _, first = configure(ws, hidden=[3])
        ws.send_json({"type": "step", "n": 20})
        trained = receive(ws, "snapshot")
        ws.send_json({"type": "set", "lr": 0.3})
        assert receive(ws, "lr")["lr"] == 0.3
        ws.send_json({"type": "pause"})
        assert receive(ws, "snapshot")["weights"] == trained["weights"]
        ws.send_json({"type": "reset"})
        ready = receive(ws, "ready")
        assert ready["config"]["lr"] == 0.3
        assert receive(ws, "snapshot")["weights"] == first["weights"]


@pytest.mark.parametrize("message, text", [
    ({"type": "config", "config": {"dataset": "banana"}}, "unknown dataset 'banana'"),
    ({"type": "config", "config": {"hidden": [4] * 50}}, "at most 6"),
    ({"type": "config", "config": {"lr": -1}}, "lr must be in"),
    ({"type": "config", "config": "circle"}, "config"),
    ({"type": "fly"}, "unknown message type 'fly'"),
    ({"type": "step", "n": 10**9}, "step: n must be"),
    ({"type": "set", "lr": 0}, "lr must be in"),
    ({"type": "inspect", "layer": 7, "row": 0, "col": 0}, "inspect: layer"),
    ({"type": "export", "what": "/etc/passwd"}, "unknown 'what'"),
    ({"type": "paths", "function": "nope"}, "unknown function"),
    ({"type": "race", "optimizers": [{"optimizer": "sgd"}]}, "2 to 4"),
    ({"type": "race", "optimizers": [{"optimizer": "newton"}, {"optimizer": "sgd"}]},
     "optimizer 'newton' is not offered for the playground's networks: newton builds the "
     "exact n×n Hessian"),
    ({"type": "config", "config": {"optimizer": "newton", "hidden": [2]}},
     "the playground's largest network has 478; try lbfgs"),
    ({"type": "config", "config": {"schedule": "sgdr"}}, "unknown schedule 'sgdr'"),
    ({"type": "config", "config": {"schedule": "warm_restarts", "T_0": 0}},
     "schedule warm_restarts: T_0 must be a whole number in [1, ∞), got 0"),
    ({"type": "config", "config": {"schedule": "warm_restarts", "T_0": "ten"}},
     "schedule warm_restarts: T_0 must be a whole number in [1, ∞), got 'ten'"),
    ({"type": "config", "config": {"schedule": "cosine", "T_0": 5}},
     "schedule 'cosine' has no setting 'T_0'; it takes T_max, eta_min"),
    ({"type": "config", "config": {"optimizer": "rprop", "schedule": "onecycle",
                                   "cycle_momentum": True}},
     "schedule OneCycleLR: cycle_momentum=True needs an optimizer with momentum"),
])
def test_bad_messages_get_errors_and_the_session_lives_on(client, message, text):
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[2])
        ws.send_json(message)
        assert text in receive(ws, "error")["message"]
        ws.send_json({"type": "step", "n": 2})
        assert receive(ws, "snapshot")["step"] == 2


def test_malformed_and_oversized_messages(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        assert "malformed JSON" in receive(ws, "error")["message"]
        ws.send_text('{"type": "x", "a": ' + "1" * 5000 + "}")   # Python refuses 5000 digits
        assert "malformed JSON" in receive(ws, "error")["message"]
        ws.send_text("[" * 5000)                                   # too deep to parse
        assert "malformed JSON" in receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "config", "config": {"seed": 1}, "pad": "x" * 70000}))
        assert "over the limit" in receive(ws, "error")["message"]
        ws.send_json({"type": "step"})
        assert "send a config message first" in receive(ws, "error")["message"]
        configure(ws)


def closed_with(ws) -> tuple:
    """The close code and reason (after the error message that precedes them)."""
    for _ in range(50):
        message = ws.receive()
        if message["type"] == "websocket.close":
            return message.get("code"), message.get("reason", "")
    raise AssertionError("the server did not close the socket")


def test_session_limit_holds_refuses_with_its_reason_and_frees_on_close(client):
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b, \
            client.websocket_connect("/ws") as c:
        for ws in (a, b, c):
            configure(ws, hidden=[1])
        with client.websocket_connect("/ws") as extra:
            message = receive(extra, "error")["message"]
            assert "limit" in message and "already runs 3 sessions" in message
            code, reason = closed_with(extra)
            assert code == 1013 and reason.startswith("the server already runs 3 sessions")
    with client.websocket_connect("/ws") as again:
        configure(again)


def test_crashing_training_is_reported_and_server_survives(client, monkeypatch):
    def boom(self, n=1):
        raise RuntimeError("kaboom")

    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[2])
        monkeypatch.setattr(Session, "step", boom)
        ws.send_json({"type": "play"})
        assert "kaboom" in receive(ws, "error")["message"]
        ws.send_json({"type": "step"})
        assert "kaboom" in receive(ws, "error")["message"]
        monkeypatch.undo()
        ws.send_json({"type": "step", "n": 3})
        assert receive(ws, "snapshot")["step"] == 3
    with client.websocket_connect("/ws") as other:
        configure(other)


def test_divergence_is_reported_not_nan(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, dataset="plane", hidden=[8, 8], activation="relu", optimizer="sgd", lr=10)
        ws.send_json({"type": "play"})
        for _ in range(100):
            snap = receive(ws, "snapshot")
            if snap["diverged"]:
                break
        assert "diverged at step" in snap["diverged"]["message"] and snap["playing"] is False
        ws.send_json({"type": "play"})
        assert "diverged" in receive(ws, "error")["message"]


def test_race_paths_inspect_lr_range_and_exports(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[3])
        ws.send_json({"type": "step", "n": 5})
        receive(ws, "snapshot")
        ws.send_json({"type": "inspect", "layer": 0, "row": 1, "col": 0})
        inspected = receive(ws, "inspect")
        assert inspected["chain_rule_grad"] == pytest.approx(inspected["autodiff_grad"], rel=1e-9)
        ws.send_json({"type": "lr_range"})
        assert receive(ws, "lr_range")["suggested_lr"] > 0
        for what in ("json", "checkpoint", "python"):
            ws.send_json({"type": "export", "what": what})
            assert receive(ws, "export")["what"] == what
        ws.send_json({"type": "paths", "function": "saddle", "start": [-2, 0.1], "steps": 30})
        result = receive(ws, "paths")
        assert len(result["runs"]) == 4 and all(len(r["path"]) == 31 for r in result["runs"])
        ws.send_json({"type": "race", "optimizers": [{"optimizer": "sgd"}, {"optimizer": "adam"}]})
        assert len(receive(ws, "ready")["race"]) == 2
        receive(ws, "race_snapshot")
        ws.send_json({"type": "step", "n": 10})
        race = receive(ws, "race_snapshot")
        assert race["step"] == 10 and len(race["runs"]) == 2
        ws.send_json({"type": "export", "what": "json"})
        assert "leave the optimizer race" in receive(ws, "error")["message"]
        ws.send_json({"type": "race", "optimizers": None})
        assert receive(ws, "ready")["race"] is None


def test_every_catalogue_schedule_is_offered_and_warm_restarts_moves_the_lr(client):
    from steepest.optim.catalogue import SCHEDULERS

    with client.websocket_connect("/ws") as ws:
        welcome = receive(ws, "welcome")
        assert welcome["schedules"] == ["none", *SCHEDULERS]
        assert welcome["defaults"]["schedule"] == "none"
        ready, first = configure(ws, hidden=[3], optimizer="sgd", lr=0.1,
                                 schedule="warm_restarts", T_0=4)
        assert ready["config"]["T_0"] == 4 and ready["config"]["T_mult"] == 1
        assert first["lr"] == 0.1
        seen = []
        for _ in range(8):
            ws.send_json({"type": "step", "n": 1})
            seen.append(receive(ws, "snapshot")["lr"])
        # SGDR: ½·lr·(1 + cos(π·t/T_0)) for t = step mod T_0, restarting at lr every 4 steps
        expected = [0.05 * (1 + np.cos(np.pi * (t % 4) / 4)) for t in range(1, 9)]
        np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-15)
        # a config of the old menu is translated, and the page is told how
        ready, _ = configure(ws, hidden=[3], schedule="cosine", schedule_steps=200)
        assert ready["config"]["schedule"] == "cosine" and ready["config"]["T_max"] == 200
        assert "schedule_steps" not in ready["config"]


def test_the_welcome_offers_the_networks_and_the_paths_their_own_optimizers(client):
    """The network and race menus leave out entries not offered for the largest network
    (by max_parameters); the paths offer every entry, Newton and L-BFGS included."""
    from steepest.optim import catalogue

    with client.websocket_connect("/ws") as ws:
        welcome = receive(ws, "welcome")
    assert "newton" not in welcome["network_optimizers"]
    assert {"lbfgs", "sgd", "adam"} <= set(welcome["network_optimizers"])
    assert {"lbfgs", "newton"} <= set(welcome["path_optimizers"])
    assert welcome["network_optimizers"] == [
        n for n, e in catalogue.OPTIMIZERS.items()
        if e.max_parameters is None or e.max_parameters >= 478]
    assert welcome["race_settings"][0] == "momentum" and "damping" in welcome["race_settings"]


def test_page_and_vendored_chart_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'data-testid="play"' in page.text
    assert client.get("/vendor/uPlot.iife.min.js").status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text


def test_serve_binds_localhost_and_needs_a_join_code_on_open_hosts(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append((app, kw)))
    server_module.serve(open_browser=False)
    app, kw = calls[-1]
    assert kw["host"] == "127.0.0.1" and app.state.access.code is None
    assert "code=" not in capsys.readouterr().out.splitlines()[0]
    server_module.serve(host="0.0.0.0", port=8123, open_browser=False)
    app, kw = calls[-1]
    assert kw["host"] == "0.0.0.0" and kw["port"] == 8123
    code = app.state.access.code
    out = capsys.readouterr().out
    assert len(code) == 6 and f"?code={code}" in out and f"join code {code}" in out
    assert "\u2588" in out or "\u2580" in out          # the QR code, drawn with block characters
    assert app.state.access.teacher_code in out and app.state.access.teacher_code != code
    server_module.serve(port=8124, open_browser=False, code="class7")   # --code on loopback
    assert calls[-1][0].state.access.code == "class7"


def test_cli_starts_the_playground(monkeypatch):
    from steepest.cli import main

    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append(kw))
    assert main(["playground", "--port", "8124", "--no-browser"]) == 0
    assert len(calls) == 1 and calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8124
    assert calls[0]["http"] is server_module.GuardedH11Protocol and calls[0]["limit_concurrency"] > 40
    assert main(["playground", "--port", "0"]) == 2


def test_odd_messages_never_end_the_session(client):
    odd = ["[]", "null", '"play"', "42", '{"type": ["config"]}', '{"type": null}',
           '{"type": "export", "what": []}', '{"type": "inspect", "layer": "0", "row": 0, "col": 0}',
           '{"type": "set", "lr": "fast"}', '{"type": "set", "lr": 0.1, "momentum": 0.9}',
           '{"type": "config", "config": {"hidden": [[]]}}', '{"type": "paths", "start": "here"}',
           '{"type": "race", "optimizers": [1, 2]}', '{"type": "step", "n": true}']
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[2])
        for text in odd:
            ws.send_text(text)
            message = receive(ws, "error")["message"]
            assert message and "internal error" not in message, (text, message)
        ws.send_bytes(b'{"type": "step", "n": 4}')
        assert receive(ws, "snapshot")["step"] == 4


def test_a_page_that_leaves_mid_reply_ends_its_session_quietly(capsys):
    """A tab closed while the server answers must not print a traceback or send again."""
    import asyncio

    from starlette.websockets import WebSocketDisconnect

    class ClosingSocket:
        open, sent_after_close = True, 0

        async def send_text(self, text):
            if not self.open:
                self.sent_after_close += 1
                raise WebSocketDisconnect(code=1006)

        send_bytes = send_text

    socket = ClosingSocket()
    from steepest.playground.worker import InlineWorker

    worker = InlineWorker()
    worker.open(1)
    conversation = server_module.Conversation(socket, Limits(), worker, 1)

    async def configure_then_close_then_pause():
        assert await conversation._handle(json.dumps(
            {"type": "config", "config": {"dataset": "xor"}}))
        socket.open = False
        return await conversation._handle(json.dumps({"type": "pause"}))

    assert asyncio.run(configure_then_close_then_pause()) is False
    assert socket.sent_after_close == 1    # no second send of an error to a closed socket
    assert "Traceback" not in capsys.readouterr().err


def test_cli_says_in_one_line_when_the_port_is_taken_or_out_of_range():
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for argv, fragment in ((["--port", str(port)], f"--port {port} is in use"),
                               (["--port", "99999"], "must be from 1 to 65535")):
            done = subprocess.run([sys.executable, "-m", "steepest", "playground", "--no-browser",
                                   *argv], capture_output=True, text=True, timeout=120)
            assert done.returncode == 2
            assert fragment in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------- a class on one server

def test_a_closed_tab_frees_its_slot_at_once_even_mid_computation(monkeypatch):
    import threading
    import time

    running, release, finished = threading.Event(), threading.Event(), threading.Event()
    real_step = Session.step

    def held_step(self, n=1):
        if n == 999:                     # held until the test lets go: it outlives its tab
            running.set()
            release.wait(60)
            finished.set()
        return real_step(self, n)

    monkeypatch.setattr(Session, "step", held_step)
    app = create_app(Limits(max_sessions=1), TEST_ACCESS)
    with TestClient(app) as client:
        try:
            with client.websocket_connect("/ws") as ws:
                configure(ws, hidden=[1])
                ws.send_json({"type": "step", "n": 999})
                assert running.wait(30), "the step never reached the worker"
                ws.close()               # the tab closes (its computation goes on)
                deadline = time.monotonic() + 30
                while app.state.room.active and not finished.is_set() \
                        and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert not finished.is_set() and app.state.room.active == 0, \
                    "the closed tab's slot waited for the old computation"
                with client.websocket_connect("/ws") as again:
                    again.send_json({"type": "hello", "name": "Ada"})
                    assert receive(again, "hello")["name"] == "Ada"
                assert not finished.is_set()
        finally:
            release.set()


def test_an_idle_session_is_released_with_a_message():
    with TestClient(create_app(Limits(idle_minutes=0.01), TEST_ACCESS)) as client:
        with client.websocket_connect("/ws") as ws:
            configure(ws, hidden=[1])
            assert "released after" in receive(ws, "error")["message"]
            code, reason = closed_with(ws)
            assert code == 4000 and "released" in reason


def test_speed_sets_the_steps_per_frame(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[2])
        ws.send_json({"type": "speed", "steps_per_frame": 7})
        assert receive(ws, "speed")["steps_per_frame"] == 7
        ws.send_json({"type": "play"})
        steps = [receive(ws, "snapshot")["step"] for _ in range(5)]
        ws.send_json({"type": "pause"})
        assert steps[-1] > 0 and all(s % 7 == 0 for s in steps), steps
        ws.send_json({"type": "speed", "steps_per_frame": -1})
        assert "steps_per_frame must be" in receive(ws, "error")["message"]


def test_maps_come_as_one_binary_frame_and_are_not_resent_unchanged(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "config", "config": {"hidden": [3, 2]}})
        receive(ws, "ready")
        snap = receive(ws, "snapshot")
        layout = snap["maps"]
        frame = ws.receive()["bytes"]
        assert layout["output"]["parts"] == ["data"] and layout["neurons"] == [3, 2]
        assert len(frame) == 40 * 40 + 5 * 20 * 20
        session = Session({"hidden": [3, 2]})
        probability = session.task.probabilities(session._forward_all(session.X_grid)[-1])
        decoded = np.frombuffer(frame[:1600], np.uint8) / 127.5 - 1
        np.testing.assert_allclose(decoded, 2 * probability - 1, atol=1 / 127)
        ws.send_json({"type": "pause"})          # nothing changed: no maps, no binary frame
        assert receive(ws, "snapshot")["maps"] is None
        ws.send_json({"type": "step"})
        assert receive(ws, "snapshot")["maps"] is not None
        assert len(ws.receive()["bytes"]) == len(frame)


def test_huge_integers_anywhere_get_an_error_not_a_traceback(client, capsys):
    huge = "1" * 400
    with client.websocket_connect("/ws") as ws:
        configure(ws, hidden=[2])
        for text in ('{"type": "paths", "start": [%s, 0]}' % huge,
                     '{"type": "config", "config": {"seed": %s}}' % huge,
                     '{"type": "step", "n": -%s}' % huge, '{"type": "set", "lr": NaN}'):
            ws.send_text(text)
            assert "malformed JSON" in receive(ws, "error")["message"]
        ws.send_json({"type": "step", "n": 2})
        assert receive(ws, "snapshot")["step"] == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_join_code_guards_page_and_socket():
    access = Access(code="abc234", hosts=(*LOCAL_HOSTS, "testserver"))
    with TestClient(create_app(Limits(), access)) as client:
        assert client.get("/").status_code == 403 and "join code" in client.get("/").text
        assert client.get("/?code=wrong").status_code == 403
        assert client.get("/?code=abc234").status_code == 200
        with client.websocket_connect("/ws") as ws:
            assert "needs the join code" in receive(ws, "error")["message"]
            assert closed_with(ws)[0] == 1008
        with client.websocket_connect("/ws?code=abc234") as ws:
            configure(ws, hidden=[1])


def test_origin_and_host_must_be_the_servers_own(client):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
        assert "another site" in receive(ws, "error")["message"]
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        configure(ws, hidden=[1])
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 421
    assert client.get("/", headers={"host": "127.0.0.1:8000"}).status_code == 200
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"host": "attacker.example"}) as ws:
            ws.receive()


def test_the_teacher_sees_students_pauses_everyone_and_shares_a_setup():
    access = Access(teacher_code="teach99", hosts=(*LOCAL_HOSTS, "testserver"))
    with TestClient(create_app(Limits(fps=30), access)) as client:
        assert client.get("/teacher").status_code == 403
        assert client.get("/teacher?code=teach99").status_code == 200
        with client.websocket_connect("/teacher/ws?code=nope") as refused:
            assert "teacher's code" in receive(refused, "error")["message"]
        with client.websocket_connect("/ws") as ada, client.websocket_connect("/ws") as bob, \
                client.websocket_connect("/teacher/ws?code=teach99") as teacher:
            ada.send_json({"type": "hello", "name": "Ada"})
            receive(ada, "hello")
            configure(ada, dataset="xor", optimizer="adam", lr=0.01, hidden=[3])
            ada.send_json({"type": "step", "n": 30})
            receive(ada, "snapshot")
            configure(bob, hidden=[1])
            bob.send_json({"type": "play"})
            for _ in range(10):
                listed = receive(teacher, "class")["sessions"]
                row = next((s for s in listed if s["name"] == "Ada"), None)
                if row and row["step"] == 30:
                    break
            assert row["dataset"] == "xor" and row["optimizer"] == "adam" and row["lr"] == 0.01
            assert row["train_loss"] > 0 and len(row["sparkline"]) >= 2
            teacher.send_json({"type": "pause_all"})
            assert "paused 2" in receive(teacher, "done")["message"]
            assert "paused everyone" in receive(bob, "notice")["message"]
            teacher.send_json({"type": "send_setup", "id": row["id"]})
            shared = receive(bob, "teacher_setup")
            assert shared["from"] == "Ada" and shared["config"]["dataset"] == "xor"


def test_half_open_and_slow_connections_are_closed(monkeypatch):
    """A connection that never finishes its first request is closed (uvicorn waits for ever)."""
    import socket
    import threading
    import time

    import uvicorn

    monkeypatch.setattr(server_module.GuardedH11Protocol, "HANDSHAKE_TIMEOUT", 0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Limits()), host="127.0.0.1", port=port,
                                           log_level="warning", http=server_module.GuardedH11Protocol))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        silent = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")      # headers never finish
        for conn in (silent, slow):
            conn.settimeout(5)
            assert conn.recv(100) == b"", "the server kept a half-open connection"
            conn.close()
        with socket.create_connection(("127.0.0.1", port)) as fine:   # a real request is served
            fine.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            fine.settimeout(5)
            assert fine.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_cli_flags_reach_the_server(monkeypatch):
    from steepest.cli import main

    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append(app))
    assert main(["playground", "--no-browser", "--max-sessions", "30", "--workers", "0",
                 "--idle-minutes", "5", "--code", "abcd12", "--teacher-code", "teach123"]) == 0
    state = calls[-1].state
    assert state.limits.max_sessions == 30 and state.limits.workers == 0
    assert state.limits.idle_minutes == 5 and state.access.code == "abcd12"
    assert state.access.teacher_code == "teach123"
    assert main(["playground", "--no-browser", "--code", "a!"]) == 2
    assert main(["playground", "--no-browser", "--idle-minutes", "-1"]) == 2
