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
                           "0.9", "--out", out], 2, "--momentum applies to sgd and rmsprop")
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

    def run_tour(out_dir, only=None, open_browser=False):
        calls.append((out_dir, only, open_browser))
        if only and "nope" in only:
            raise ValueError("unknown lesson 'nope'; valid names: a, b")
        return str(tmp_path / "index.html")

    monkeypatch.setitem(sys.modules, "steepest.report", types.SimpleNamespace(run_tour=run_tour))
    assert main(["tour", "--out", str(tmp_path), "--only", "a", "b", "--open"]) == 0
    assert main(["tour"]) == 0
    assert calls == [(str(tmp_path), ["a", "b"], True), ("steepest-tour", None, False)]
    _expect_error(capsys, ["tour", "--only", "nope"], 2,
                  "steepest tour: error: unknown lesson 'nope'; valid names: a, b")


def test_the_installed_command_line_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "steepest.cli", "train", "--data", "moons",
                           "--optimizer", "nesterov", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "steepest train: error: argument --optimizer: invalid choice: 'nesterov'")


def test_lr_find_json_is_strict_even_without_a_suggestion(tmp_path, capsys):
    out = tmp_path / "lr"
    assert main(["lr-find", "--data", "moons", "--num-steps", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    result = json.loads((out / "lr_find.json").read_text(),
                        parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    assert result["suggested_lr"] is None
