"""The steepest command: train, resume, lr-find, tour, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest

from steepest.cli import main
from steepest.training.checkpoint import checkpoint_info

PNG = b"\x89PNG\r\n\x1a\n"


def _weights(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k.startswith("model/")}


def test_train_end_to_end_writes_everything(tmp_path, capsys):
    out = tmp_path / "moons"
    code = main(["train", "--data", "moons", "--n-samples", "400", "--hidden", "16,16",
                 "--activation", "relu", "--optimizer", "adam", "--lr", "0.01", "--epochs",
                 "40", "--batch-size", "32", "--seed", "0", "--val-split", "0.2",
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    for name in ("history.json", "training_curves.png", "gradient_norms.png",
                 "decision_boundary.png", "checkpoint.npz"):
        assert (out / name).exists(), name
    for name in ("training_curves.png", "gradient_norms.png", "decision_boundary.png"):
        assert (out / name).read_bytes()[:8] == PNG
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == list(range(40))
    assert history["final"]["validation"]["accuracy"] >= 0.97
    assert history["config"]["hidden"] == [16, 16]
    assert len(history["history"]["grad_norm/0"]) == 40
    assert "validation accuracy" in printed.out and "train accuracy" in printed.out
    assert printed.err == ""
    assert checkpoint_info(out / "checkpoint.npz")["epoch"] == 40


def test_resume_equals_the_uninterrupted_run(tmp_path, capsys):
    common = ["--data", "circles", "--n-samples", "200", "--hidden", "8", "--optimizer",
              "adam", "--lr", "0.02", "--seed", "3"]
    assert main(["train", *common, "--epochs", "6", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", *common, "--epochs", "3", "--out", str(tmp_path / "b")]) == 0
    assert main(["train", "--resume", "--epochs", "6", "--out", str(tmp_path / "b")]) == 0
    printed = capsys.readouterr().out
    assert "resuming after epoch 3" in printed
    a, b = _weights(tmp_path / "a" / "checkpoint.npz"), _weights(tmp_path / "b" / "checkpoint.npz")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    history_a = json.loads((tmp_path / "a" / "history.json").read_text())
    history_b = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history_a["history"] == history_b["history"]


def test_lr_find_writes_plot_and_json_and_prints_the_suggestion(tmp_path, capsys):
    out = tmp_path / "lr"
    code = main(["lr-find", "--data", "digits", "--hidden", "64", "--optimizer", "adam",
                 "--num-steps", "80", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "lr_find.png").read_bytes()[:8] == PNG
    result = json.loads((out / "lr_find.json").read_text())
    assert "suggested learning rate for Adam: " in printed
    assert f"{result['suggested_lr']:.3g}" in printed
    assert 1e-7 <= result["suggested_lr"] <= 10
    assert len(result["lrs"]) == len(result["losses"]) <= 80


def _expect_error(capsys, argv, code, *fragments):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    return last


@pytest.mark.parametrize("argv, fragments", [
    (["train", "--data", "moons", "--optimizer", "adamm", "--out", "x"],
     ["steepest train: error: argument --optimizer: invalid choice: 'adamm'", "'adam'",
      "'sgd'", "'rmsprop'"]),
    (["train", "--data", "moons", "--activation", "softplus", "--out", "x"],
     ["argument --activation: invalid choice: 'softplus'", "'relu'", "'tanh'"]),
    (["train", "--data", "mnist", "--out", "x"],
     ["argument --data: invalid choice: 'mnist'", "'digits'", "'moons'"]),
    (["train", "--data", "moons", "--hidden", "16,x", "--out", "x"],
     ["argument --hidden: expected comma-separated layer sizes"]),
    (["train", "--data", "moons", "--lr", "-1", "--out", "x"],
     ["argument --lr: must be a number > 0, got -1"]),
    (["train", "--data", "moons", "--val-split", "1.5", "--out", "x"],
     ["argument --val-split: must be a number > 0 and < 1"]),
    (["train", "--data", "moons", "--epochs", "0", "--out", "x"],
     ["argument --epochs: must be >= 1"]),
    (["train", "--data", "moons"], ["the following arguments are required: --out"]),
    ([], ["steepest: error: the following arguments are required"]),
    (["fly"], ["invalid choice: 'fly'"]),
    (["lr-find", "--data", "moons", "--num-steps", "1", "--out", "x"],
     ["argument --num-steps: must be >= 2, got 1"]),
])
def test_bad_arguments_get_argparse_messages(capsys, argv, fragments):
    _expect_error(capsys, argv, 2, *fragments)


def test_bad_settings_get_one_line_errors(tmp_path, capsys):
    out = str(tmp_path / "run")
    _expect_error(capsys, ["train", "--out", out], 2,
                  "steepest train: error: the following argument is required: --data")
    _expect_error(capsys, ["train", "--resume", "--out", out], 2,
                  "steepest train: error: no checkpoint to resume from at")
    _expect_error(capsys, ["train", "--data", "digits", "--n-samples", "50", "--out", out],
                  2, "steepest train: error: data set 'digits' does not take argument(s) "
                     "n_samples")
    _expect_error(capsys, ["train", "--data", "moons", "--optimizer", "adam", "--momentum",
                           "0.9", "--out", out], 2,
                  "--momentum applies to sgd, momentum, nesterov, rmsprop and muon, not adam")
    assert main(["train", "--data", "moons", "--epochs", "1", "--out", out]) == 0
    _expect_error(capsys, ["train", "--resume", "--hidden", "4", "--out", out], 2,
                  "--hidden 4 differs from the checkpoint's run (16,16)")
    (tmp_path / "file").write_text("")
    _expect_error(capsys, ["train", "--data", "moons", "--out", str(tmp_path / "file")], 2,
                  "exists and is not a directory")
    _expect_error(capsys, ["lr-find", "--data", "moons", "--start-lr", "1", "--end-lr",
                           "0.1", "--out", out], 2, "--start-lr (1) must be smaller")
    _expect_error(capsys, ["train", "--data", "moons", "--out", ""], 2,
                  "steepest train: error: --out must name a directory")


def test_divergence_is_reported_in_one_line_with_advice(tmp_path, capsys):
    last = _expect_error(capsys, ["train", "--data", "moons", "--optimizer", "gd", "--lr",
                                  "10000", "--out", str(tmp_path)], 1,
                         "steepest train: error: training diverged at epoch 1",
                         "lr = 10000", "lr/10 = 1000", "--clip-grad-norm")
    assert last.count("error:") == 1


def test_help_exits_zero(capsys):
    assert main(["train", "--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_tour_calls_run_tour_and_reports_its_errors(tmp_path, monkeypatch, capsys):
    calls = []

    def run_tour(out_dir, only=None, open_browser=False, quick=False):
        calls.append((out_dir, only, open_browser, quick))
        if only and "nope" in only:
            raise ValueError("unknown lesson 'nope'; valid names: a, b")
        return str(tmp_path / "index.html")

    monkeypatch.setitem(sys.modules, "steepest.report", types.SimpleNamespace(run_tour=run_tour))
    assert main(["tour", "--out", str(tmp_path), "--only", "a", "b", "--open"]) == 0
    assert main(["tour", "--quick"]) == 0
    assert calls == [(str(tmp_path), ["a", "b"], True, False),
                     ("steepest-tour", None, False, True)]
    _expect_error(capsys, ["tour", "--only", "nope"], 2,
                  "steepest tour: error: unknown lesson 'nope'; valid names: a, b")


def test_the_installed_command_line_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "steepest.cli", "train", "--data", "moons",
                           "--optimizer", "adamm", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "steepest train: error: argument --optimizer: invalid choice: 'adamm'")


def test_lr_find_json_is_strict_even_without_a_suggestion(tmp_path, capsys):
    out = tmp_path / "lr"
    assert main(["lr-find", "--data", "moons", "--num-steps", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    result = json.loads((out / "lr_find.json").read_text(),
                        parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    assert result["suggested_lr"] is None


# --------------------------------------------------------------------------- issue 12

def _run(*argv, timeout=120):
    """The command in a fresh interpreter (warnings and imports as a user meets them)."""
    return subprocess.run([sys.executable, "-m", "steepest.cli", *argv], capture_output=True,
                          text=True, timeout=timeout)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and ".py" not in stderr, stderr
    return lines[0]


def test_a_finished_run_is_not_replaced_without_overwrite(tmp_path, capsys):
    out = str(tmp_path / "run")
    argv = ["train", "--data", "moons", "--n-samples", "100", "--epochs", "2", "--out", out]
    assert main(argv) == 0
    before = {name: (tmp_path / "run" / name).read_bytes()
              for name in ("checkpoint.npz", "history.json")}
    capsys.readouterr()
    last = _expect_error(capsys, ["train", "--data", "circles", "--epochs", "1", "--out", out],
                         2, f"steepest train: error: --out {out} already holds a run "
                            f"(checkpoint.npz, history.json)", "--resume", "--overwrite")
    assert last.count("error:") == 1
    for name, content in before.items():
        assert (tmp_path / "run" / name).read_bytes() == content, name
    assert main(["train", "--data", "circles", "--epochs", "1", "--overwrite", "--out", out]) == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["config"]["data"] == "circles" and history["epoch"] == [0]
    capsys.readouterr()
    _expect_error(capsys, ["train", "--resume", "--overwrite", "--out", out], 2,
                  "argument --overwrite: not allowed with argument --resume")


def test_a_diverged_run_keeps_its_history_and_loss_curve(tmp_path, capsys):
    out = tmp_path / "run"
    last = _expect_error(capsys, ["train", "--data", "moons", "--optimizer", "gd", "--lr", "50",
                                  "--out", str(out)], 1,
                         "steepest train: error: training diverged at epoch 1 of 30, step 3")
    saved = json.loads((out / "history.json").read_text())
    diverged = saved["diverged"]
    assert diverged["epoch"] == 0 and diverged["step"] == 2 and diverged["lr"] == 50
    assert diverged["message"] in last.replace("(--clip-grad-norm 1.0)",
                                               "(fit(..., clip_grad_norm=1.0))")
    steps = saved["step_losses"]
    assert len(steps) == 3 and steps[-1] == diverged["loss"]
    assert steps[-1] > 1000 * steps[0]  # what the guard measured
    assert f"its first value {steps[0]:.4g}" in last
    assert (out / "training_curves.png").read_bytes()[:8] == PNG


def test_a_run_that_diverges_later_also_keeps_its_gradient_norms(tmp_path, capsys,
                                                                  monkeypatch):
    import math

    import steepest as st

    calls = []
    real = st.losses.cross_entropy

    def nan_at_epoch_3_step_4(output, target):  # 10 steps + 1 validation batch per epoch
        calls.append(1)
        return real(output, target) * math.nan if len(calls) == 2 * 11 + 4 else \
            real(output, target)
    monkeypatch.setattr(st.losses, "cross_entropy", nan_at_epoch_3_step_4)
    out = tmp_path / "run"
    code = main(["train", "--data", "moons", "--n-samples", "400", "--epochs", "5",
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1 and "epoch 3 of 5, step 4 of 10" in printed.err
    saved = json.loads((out / "history.json").read_text())
    assert saved["epoch"] == [0, 1] and saved["diverged"]["epoch"] == 2
    assert len(saved["step_losses"]) == 2 * 10 + 4 and saved["step_losses"][-1] is None
    assert saved["step_losses"][:10] != saved["step_losses"][10:20]
    assert (out / "gradient_norms.png").read_bytes()[:8] == PNG
    assert (out / "training_curves.png").read_bytes()[:8] == PNG
    assert "the run up to the divergence" in printed.out


@pytest.mark.parametrize("argv, code, fragment", [
    (["--hidden", "1000000,1000000"], 2, "makes a network of 1e+12 parameters"),
    (["--noise", "1e308"], 2, "noise 1e+308 is too large"),
    (["--lr", "1e308"], 1, "training diverged at epoch 1"),
])
def test_no_traceback_and_no_runtime_warning_reaches_the_user(tmp_path, argv, code, fragment):
    done = _run("train", "--data", "moons", *argv, "--out", str(tmp_path / "run"))
    assert done.returncode == code
    line = _one_error_line(done.stderr)
    assert line.startswith("steepest train: error: ") and fragment in line


def test_a_damaged_checkpoint_is_one_line_on_resume(tmp_path, capsys):
    from test_checkpoint import _rewrite

    out = tmp_path / "run"
    assert main(["train", "--data", "moons", "--n-samples", "60", "--epochs", "1",
                 "--out", str(out)]) == 0
    _rewrite(out / "checkpoint.npz", lambda meta, arrays: {**meta, "extra": [1, 2]})
    _expect_error(capsys, ["train", "--resume", "--out", str(out)], 2,
                  "was not written by 'steepest train'")
    _rewrite(out / "checkpoint.npz", lambda meta, arrays: [meta])
    _expect_error(capsys, ["train", "--resume", "--out", str(out)], 2,
                  "its metadata is a JSON list")


def test_ctrl_c_while_steepest_is_imported_is_one_line_and_exit_130():
    script = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'numpy':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "import steepest_command\n"
        "sys.exit(steepest_command.main(['train', '--data', 'moons', '--out', 'x']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=str(__import__("pathlib").Path(__file__).parents[1]
                                              / "src"))
    assert done.returncode == 130
    assert _one_error_line(done.stderr) == "steepest: interrupted"


def test_ctrl_c_warnings_and_bugs_inside_a_command_are_one_line(monkeypatch, capsys):
    import warnings

    from steepest import cli

    def interrupted(args):
        warnings.warn("a library warning", RuntimeWarning)
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_cmd_train", interrupted)
    assert main(["train", "--data", "moons", "--out", "x"]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "steepest train: warning: a library warning", "steepest train: interrupted"]

    def buggy(args):
        raise TypeError("unsupported operand")
    monkeypatch.setattr(cli, "_cmd_train", buggy)
    assert main(["train", "--data", "moons", "--out", "x"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("steepest train: error: unexpected TypeError: unsupported operand")

    def out_of_memory(args):
        raise MemoryError
    monkeypatch.setattr(cli, "_cmd_train", out_of_memory)
    assert main(["train", "--data", "moons", "--out", "x"]) == 1
    assert "out of memory" in _one_error_line(capsys.readouterr().err)


def test_lr_find_help_shows_only_what_it_uses_with_defaults(capsys):
    assert main(["lr-find", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--resume" not in text and "--lr " not in text and "[--lr" not in text
    assert "--start-lr LR learning rate of the first step (default 1e-07)" in text
    assert "--end-lr LR learning rate of the last step (default 10)" in text
    assert "(default 200)" in text
    _expect_error(capsys, ["lr-find", "--data", "moons", "--lr", "0.1", "--out", "x"], 2,
                  "unrecognized arguments: --lr 0.1")


def test_the_final_line_says_it_is_a_fresh_evaluation(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "moons", "--n-samples", "100", "--epochs", "3",
                 "--verbose", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    final = json.loads((out / "history.json").read_text())["final"]
    line = next(line for line in printed.splitlines() if line.startswith("final evaluation"))
    assert line.startswith("final evaluation after epoch 3 (the trained model on the whole "
                           "sets, in eval mode): ")
    assert f"validation accuracy {final['validation']['accuracy']:.2%}" in line


def test_train_says_what_is_wrong_and_what_to_try(tmp_path, capsys):
    """Issue 12 §4: GD at lr 5 kills every ReLU; a deep sigmoid net stays at chance."""
    out = tmp_path / "relu"
    # seed 1: initial weights (torch's stream) from which lr 5 kills a whole layer
    assert main(["train", "--data", "moons", "--optimizer", "gd", "--lr", "5", "--seed", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    diagnosis = [line for line in printed.splitlines() if line.startswith("diagnosis: ")]
    text = " ".join(diagnosis)
    assert "chance level" in text and "dead ReLUs" in text and "all of hidden layer" in text
    assert "--optimizer adam" in text and "--activation leaky_relu" in text
    saved = json.loads((out / "history.json").read_text())
    assert [f"diagnosis: {d}" for d in saved["diagnosis"]] == diagnosis
    assert saved["final"]["validation"]["accuracy"] <= 0.55

    out = tmp_path / "sigmoid"
    assert main(["train", "--data", "digits", "--hidden", ",".join(["32"] * 10),
                 "--activation", "sigmoid", "--optimizer", "gd", "--lr", "0.1", "--epochs",
                 "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "chance level" in text and "vanishing gradients" in text
    assert "--activation relu" in text


def test_overwrite_keeps_the_old_run_until_the_new_one_ends(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "--data", "moons", "--n-samples", "100", "--epochs", "2",
                 "--out", str(out)]) == 0
    old = {path.name: path.read_bytes() for path in out.iterdir()}
    assert "decision_boundary.png" in old

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr("steepest.training.loop.fit", interrupted)  # where the CLI takes it
        assert main(["train", "--data", "circles", "--epochs", "1", "--overwrite",
                     "--out", str(out)]) == 130
    assert {path.name: path.read_bytes() for path in out.iterdir()} == old

    assert main(["train", "--data", "digits", "--hidden", "8", "--epochs", "1", "--overwrite",
                 "--out", str(out)]) == 0
    left = {path.name for path in out.iterdir()}
    assert "decision_boundary.png" not in left   # the old run's, not written by a 64-D run
    assert {"history.json", "checkpoint.npz"} <= left


def test_resume_with_nothing_to_do_stops_there_and_restores_the_sigterm_handler(tmp_path,
                                                                                capsys):
    import signal

    out = tmp_path / "run"
    before = signal.getsignal(signal.SIGTERM)
    assert main(["train", "--data", "moons", "--n-samples", "100", "--epochs", "2",
                 "--out", str(out)]) == 0
    assert signal.getsignal(signal.SIGTERM) is before
    saved = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", "--epochs", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nothing to do" in text and "wrote" not in text
    assert (out / "checkpoint.npz").read_bytes() == saved


@pytest.mark.parametrize("key, value, expected", [
    ("optimizer", "adamm", "optimizer must be one of gd, sgd"),
    ("optimizer", None, "optimizer=null"),
    ("activation", "softplus", "activation must be one of"),
    ("batch_size", None, "batch_size must be a whole number >= 1"),
    ("lr", -1, "lr must be null or a number > 0"),
    ("hidden", [0], "hidden must be null or a list of layer sizes"),
    ("standardize", "yes", "standardize must be true or false"),
    ("schedule", "sgdr", "schedule must be null or one of step, exponential"),
    ("schedule", ["cosine"], "schedule must be null or one of step"),
    ("schedule_options", [1], "schedule_options must be null or an object of settings"),
    ("optimizer_options", "amsgrad", "optimizer_options must be null or an object"),
])
def test_resume_names_an_unusable_setting_in_the_checkpoint(tmp_path, capsys, key, value,
                                                           expected):
    from test_checkpoint import _rewrite

    out = tmp_path / "run"
    assert main(["train", "--data", "moons", "--n-samples", "60", "--epochs", "1",
                 "--out", str(out)]) == 0

    def change(meta, arrays):
        meta["extra"]["config"][key] = value
        return meta
    _rewrite(out / "checkpoint.npz", change)
    line = _expect_error(capsys, ["train", "--resume", "--epochs", "2", "--out", str(out)], 2,
                         "steepest train: error: ", f"checkpoint.npz holds the setting {key}=",
                         expected)
    assert "unexpected" not in line


def test_a_network_larger_than_the_memory_is_refused_before_allocating(tmp_path, capsys,
                                                                      monkeypatch):
    import steepest as st
    from steepest import cli

    def no_allocation(*args, **kwargs):
        raise AssertionError("the network was allocated")
    monkeypatch.setattr(st.nn, "mlp", no_allocation)
    _expect_error(capsys, ["train", "--data", "moons", "--hidden", "1000000000,1000000000",
                           "--out", str(tmp_path / "run")], 2,
                  "--hidden 1000000000,1000000000 makes a network of 1e+18 parameters",
                  "GiB of memory this machine has available", "use smaller hidden layers")
    monkeypatch.setattr(cli, "_available_memory", lambda: 2**20)  # 1 MiB left
    _expect_error(capsys, ["train", "--data", "moons", "--hidden", "4096", "--out",
                           str(tmp_path / "run")], 2, "makes a network of 2.05e+04 parameters",
                  "more than the 0.000977 GiB of memory")
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_available_memory_reads_meminfo():
    from steepest import cli

    with open("/proc/meminfo") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    kib = int(fields["MemAvailable"].split()[0])
    assert abs(cli._available_memory() - kib * 1024) < 2**30  # it moves while we read


def test_a_noise_that_overflows_the_standardisation_is_refused_before_training(tmp_path,
                                                                              capsys):
    out = tmp_path / "run"
    _expect_error(capsys, ["train", "--data", "moons", "--noise", "1e200", "--out", str(out)],
                  2, "steepest train: error: noise 1e+200 is too large: the features' "
                     "standard deviation overflows")
    assert not (out / "history.json").exists()


@pytest.mark.parametrize("host, fragment", [
    ("256.300.1.1", "--host 256.300.1.1 is not an IPv4 address"),
    ("", "--host must name an address, got an empty string"),
    ("  ", "--host must name an address"),
    ("192.0.2.1", "--host 192.0.2.1 is not an address of this machine"),
])
def test_playground_names_a_bad_host_not_the_port(capsys, monkeypatch, host, fragment):
    from steepest.playground import server

    monkeypatch.setattr(server, "serve", lambda **kwargs: pytest.fail("it served"))
    line = _expect_error(capsys, ["playground", "--host", host, "--no-browser"], 2,
                         "steepest playground: error: ", fragment)
    assert "port" not in line


def test_playground_names_a_port_in_use(capsys, monkeypatch):
    import socket

    from steepest.playground import server

    monkeypatch.setattr(server, "serve", lambda **kwargs: pytest.fail("it served"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _expect_error(capsys, ["playground", "--port", str(port), "--no-browser"], 2,
                      f"--port {port} is in use on 127.0.0.1", f"try --port {port + 1}")


# --------------------------------------------------------------------------- catalogue options

def _torch_lrs(make, steps, metrics=None, lr=0.1):
    """The lr torch's scheduler ``make(opt)`` gives before each of ``steps`` steps."""
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(opt)
    lrs = []
    for i in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step(*([] if metrics is None else [metrics[i]]))
    return lrs, opt.param_groups[0]["lr"]


def _train_history(tmp_path, *flags, name="run"):
    out = tmp_path / name
    assert main(["train", "--data", "moons", "--n-samples", "100", "--hidden", "6",
                 "--optimizer", "sgd", "--lr", "0.1", "--verbose", "0", "--out", str(out),
                 *flags]) == 0
    return json.loads((out / "history.json").read_text())


def test_schedule_cosine_gives_torchs_learning_rates_once_per_epoch(tmp_path, capsys):
    import torch

    history = _train_history(tmp_path, "--epochs", "9", "--schedule", "cosine",
                             "--schedule-option", "T_max=4", "--schedule-option",
                             "eta_min=0.01")
    assert "lr schedule cosine (cosine annealing) T_max=4 eta_min=0.01" in \
        capsys.readouterr().out
    expected, _ = _torch_lrs(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=4, eta_min=0.01), 9)
    np.testing.assert_allclose(history["history"]["lr"], expected, rtol=1e-12, atol=1e-15)
    assert history["config"]["schedule"] == "cosine"
    assert history["config"]["schedule_options"] == {"T_max": 4, "eta_min": 0.01}


def test_schedule_warm_restarts_and_onecycle_per_batch_follow_torch(tmp_path):
    import torch

    history = _train_history(tmp_path, "--epochs", "7", "--schedule", "warm_restarts",
                             "--schedule-option", "T_0=2", "--schedule-option", "T_mult=2",
                             name="restarts")
    expected, _ = _torch_lrs(lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=2, T_mult=2), 7)
    np.testing.assert_allclose(history["history"]["lr"], expected, rtol=1e-12, atol=1e-15)
    # onecycle steps per batch: 80 training samples / batch 32 = 3 batches per epoch
    history = _train_history(tmp_path, "--epochs", "4", "--batch-size", "32", "--schedule",
                             "onecycle", "--schedule-option", "total_steps=12",
                             "--schedule-option", "max_lr=0.5", name="onecycle")
    per_batch, last = _torch_lrs(lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.5, total_steps=12, cycle_momentum=False), 12)
    # fit logs the lr at each epoch's end, after that epoch's 3 batches stepped it
    np.testing.assert_allclose(history["history"]["lr"], [*per_batch[3::3], last], rtol=1e-12)


def test_schedule_plateau_is_stepped_with_the_validation_loss(tmp_path):
    import torch

    history = _train_history(tmp_path, "--epochs", "12", "--lr", "3", "--schedule", "plateau",
                             "--schedule-option", "patience=0", "--schedule-option",
                             "factor=0.5", "--schedule-option", "threshold=0.05")
    val_loss, lrs = history["history"]["val_loss"], history["history"]["lr"]
    expected, _ = _torch_lrs(lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, patience=0, factor=0.5, threshold=0.05), 12, metrics=val_loss, lr=3.0)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert min(lrs) < 3.0  # the schedule did act in this run
    by_train_loss, _ = _torch_lrs(lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, patience=0, factor=0.5, threshold=0.05), 12, metrics=history["history"]["loss"],
        lr=3.0)
    assert by_train_loss != expected  # so the test tells the two metrics apart


def test_optimizer_options_reach_the_optimizer(tmp_path, monkeypatch, capsys):
    import steepest.cli as cli

    built = []

    def spy(name, params, **values):
        built.append(cli_build(name, params, **values))
        return built[-1]
    cli_build = cli.build_optimizer
    monkeypatch.setattr(cli, "build_optimizer", spy)
    out = tmp_path / "adam"
    assert main(["train", "--data", "moons", "--n-samples", "60", "--epochs", "2",
                 "--optimizer", "adam", "--optimizer-option", "amsgrad=true",
                 "--optimizer-option", "betas=0.8,0.99", "--verbose", "0",
                 "--out", str(out)]) == 0
    assert "Adam lr=0.01 amsgrad=True betas=0.8,0.99" in capsys.readouterr().out
    group = built[0].param_groups[0]
    assert group["amsgrad"] is True and tuple(group["betas"]) == (0.8, 0.99)
    assert all("max_exp_avg_sq" in built[0].state[p] for p in group["params"])
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["optimizer_options"] == {"amsgrad": True, "betas": [0.8, 0.99]}
    lbfgs = tmp_path / "lbfgs"
    assert main(["train", "--data", "moons", "--n-samples", "60", "--epochs", "1",
                 "--batch-size", "60", "--optimizer", "lbfgs", "--optimizer-option",
                 "line_search_fn=strong_wolfe", "--optimizer-option", "max_iter=5",
                 "--verbose", "0", "--out", str(lbfgs)]) == 0
    group = built[1].param_groups[0]
    assert group["line_search_fn"] == "strong_wolfe" and group["max_iter"] == 5


@pytest.mark.parametrize("flags, fragments", [
    (["--optimizer-option", "foo=1"],
     ["--optimizer-option foo=1: optimizer adam has no setting 'foo'", "adam takes betas"]),
    (["--optimizer-option", "amsgrad=maybe"],
     ["--optimizer-option amsgrad=maybe: adam: amsgrad must be True or False, got 'maybe'"]),
    (["--optimizer-option", "betas=0.9,1.5"],
     ["--optimizer-option betas=0.9,1.5: adam: betas[1] must be a number in [0, 1), got 1.5"]),
    (["--optimizer-option", "eps=small"], ["eps=small: adam: eps must be a number in (0, ∞)"]),
    (["--optimizer", "sgd", "--optimizer-option", "amsgrad=true"],
     ["optimizer sgd has no setting 'amsgrad' (amsgrad is a setting of adam, adamw)"]),
    (["--optimizer", "lbfgs", "--optimizer-option", "max_iter=2.5"],
     ["max_iter=2.5: lbfgs: max_iter must be a whole number in [1, ∞), got '2.5'"]),
    (["--optimizer", "sgd", "--optimizer-option", "nesterov=true"],
     ["--optimizer-option: SGD: invalid nesterov True"]),
    (["--optimizer-option", "amsgrad"], ["--optimizer-option expects KEY=VALUE", "'amsgrad'"]),
    (["--optimizer-option", "lr=1"], ["lr has its own option; use --lr"]),
    (["--optimizer-option", "eps=1e-6", "--optimizer-option", "eps=1e-7"],
     ["eps is given twice"]),
    (["--schedule-option", "T_max=3"], ["--schedule-option T_max=3 needs --schedule"]),
    (["--schedule", "cosine", "--schedule-option", "gamma=0.5"],
     ["scheduler cosine has no setting 'gamma'", "cosine takes T_max, eta_min"]),
    (["--schedule", "step", "--schedule-option", "step_size=0"],
     ["--schedule-option step_size=0: step: step_size must be a whole number in [1, ∞)"]),
    (["--schedule", "onecycle", "--schedule-option", "total_steps=5"],
     ["onecycle steps once per batch: 3 epochs x 2 batches = 6 steps, more than its "
      "total_steps 5; give --schedule-option total_steps=6"]),
    (["--optimizer", "rprop", "--schedule", "cyclic", "--schedule-option",
      "cycle_momentum=true"], ["--schedule cyclic: CyclicLR: cycle_momentum=True needs"]),
])
def test_bad_catalogue_options_are_one_line_errors(tmp_path, capsys, flags, fragments):
    line = _expect_error(capsys, ["train", "--data", "moons", "--n-samples", "60", "--epochs",
                                  "3", "--out", str(tmp_path / "run"), *flags], 2,
                         "steepest train: error: ", *fragments)
    assert "unexpected" not in line
    assert not (tmp_path / "run" / "history.json").exists()


def test_resume_keeps_and_checks_the_schedule_and_optimizer_options(tmp_path, capsys):
    common = ["--data", "circles", "--n-samples", "200", "--hidden", "8", "--optimizer",
              "adam", "--optimizer-option", "amsgrad=true", "--lr", "0.05", "--schedule",
              "warm_restarts", "--schedule-option", "T_0=4", "--seed", "3", "--verbose", "0"]
    assert main(["train", *common, "--epochs", "6", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", *common, "--epochs", "3", "--out", str(tmp_path / "b")]) == 0
    assert main(["train", "--resume", "--epochs", "6", "--out", str(tmp_path / "b")]) == 0
    printed = capsys.readouterr().out
    assert "resuming after epoch 3" in printed
    assert printed.count("amsgrad=True, lr schedule warm_restarts (cosine warm restarts) "
                         "T_0=4") == 3
    a, b = _weights(tmp_path / "a" / "checkpoint.npz"), _weights(tmp_path / "b" / "checkpoint.npz")
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    history_a = json.loads((tmp_path / "a" / "history.json").read_text())
    history_b = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history_a["history"] == history_b["history"]
    assert len(set(history_a["history"]["lr"])) > 3  # the schedule moved the lr
    assert history_b["config"] == history_a["config"]
    out = str(tmp_path / "b")
    # the same values again are accepted, a changed one is refused, naming both
    assert main(["train", "--resume", "--epochs", "6", "--schedule", "warm_restarts",
                 "--schedule-option", "T_0=4", "--optimizer-option", "amsgrad=true",
                 "--out", out]) == 0
    _expect_error(capsys, ["train", "--resume", "--schedule-option", "T_0=3", "--out", out],
                  2, "--schedule-option T_0=3 differs from the checkpoint's run (T_0=4)")
    _expect_error(capsys, ["train", "--resume", "--schedule-option", "T_mult=2", "--out", out],
                  2, "--schedule-option T_mult=2 differs from the checkpoint's run (T_mult=1)")
    _expect_error(capsys, ["train", "--resume", "--optimizer-option", "amsgrad=false",
                           "--out", out], 2, "--optimizer-option amsgrad=False differs from "
                                             "the checkpoint's run (amsgrad=True)")
    _expect_error(capsys, ["train", "--resume", "--schedule", "cosine", "--out", out], 2,
                  "--schedule cosine differs from the checkpoint's run (warm_restarts)")


def test_lr_find_takes_optimizer_options(tmp_path, capsys):
    out = tmp_path / "lr"
    assert main(["lr-find", "--data", "moons", "--n-samples", "200", "--optimizer", "adam",
                 "--optimizer-option", "amsgrad=true", "--num-steps", "20",
                 "--out", str(out)]) == 0
    config = json.loads((out / "lr_find.json").read_text())["config"]
    assert config["optimizer_options"] == {"amsgrad": True} and "schedule" not in config
