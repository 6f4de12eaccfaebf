"""Instructions per eager training step, this checkout against an earlier commit.

    python benchmarks/bench_step_instructions.py [--against REV] [--steps N] [--only TEXT]

Wall-clock and CPU times of a 70 µs step move by a few percent with whatever else runs on
the machine; the number of instructions the CPU executes for it does not. Each of
bench_train_step.py's small cases, and its MLP at batch 1, runs in a child process under
valgrind's callgrind, once with its warm-up only and once with ``--steps`` more steps: the
difference divided by the steps is the instructions per step (import and set-up cancel
out). The earlier commit runs from a temporary git worktree with its own
bench_train_step.py, so each side builds its step the way its code allows. Needs valgrind;
NumPy's BLAS is held to one thread.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("tiny", "small", "playground 2-8-8-1 tanh MSE SGD", "playground 2-8-8-1 tanh MSE Adam",
         "MLP 784-256-256-10 ReLU CE Adam float32 b=1")

# Run in the child: build one case with that checkout's bench_train_step.py (no torch: the
# benchmark's memory-child mode imports NumPy and steepest only), warm up, then take N steps.
CHILD = """
import importlib.util, sys
root, case, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.argv = ["bench", "--threads", "1", "--memory-child"]
spec = importlib.util.spec_from_file_location("bench", root + "/benchmarks/bench_train_step.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
for label, sizes, act, loss, opt, dtype, batch, data in bench.bench_cases():
    if case in label:
        step = bench.make_steepest(bench.initial_weights(sizes, dtype, seed=0),
                                   data(batch, dtype), act, loss, opt, dtype)[0]
        for _ in range(200 + steps):
            step()
        break
else:
    sys.exit("no case " + repr(case))
"""


def instructions(root: Path, case: str, steps: int) -> int:
    """Instructions callgrind counts for the child process of ``root``'s code."""
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               os.path.realpath(sys.executable), "-c", CHILD, str(root), case, str(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or not found:
        sys.exit(f"callgrind failed for {root} / {case}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_step(root: Path, case: str, steps: int) -> float:
    return (instructions(root, case, steps) - instructions(root, case, 0)) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="753b035", metavar="REV",
                        help="the earlier commit (default 753b035, the start of round 3)")
    parser.add_argument("--steps", type=int, default=1000, help="steps counted (default 1000)")
    parser.add_argument("--only", default="", help="run only the cases containing TEXT")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        earlier = Path(tmp) / "earlier"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(earlier),
                        args.against], check=True, capture_output=True)
        try:
            print(f"| case | {args.against} instructions/step | now | change |")
            print("|---|---:|---:|---:|")
            for case in CASES:
                if args.only not in case:
                    continue
                before, now = per_step(earlier, case, args.steps), per_step(ROOT, case, args.steps)
                print(f"| {case} | {before:,.0f} | {now:,.0f} | {now / before - 1:+.1%} |",
                      flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(earlier)], check=False, capture_output=True)


if __name__ == "__main__":
    main()
