"""Sweep benchmark: speed-up of local worker processes over serial, and overhead per run.

    python benchmarks/bench_sweep.py [--repeats 3] [--epochs 40] [--no-dask]

1. A 40-run sweep (moons, MLP 2-16-16-2, 4 optimizers x 10 learning rates, one seed) run
   serially in this process and on a process pool of 2 workers (and on a Dask LocalCluster
   of 2 single-threaded workers): wall time, median over repeats, executors alternating.
   A control beside it: the same speed-up for pure CPU loops (the most two processes could
   gain on this machine at that moment; on a shared machine it is well below 2).
2. Overhead per run: 200 runs of a function that returns at once, per executor (the pool or
   cluster already started, so start-up is not counted; it is reported separately).

BLAS threads are pinned to 1 (set before NumPy loads) so that two workers use two cores.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import steepest as st  # noqa: E402
from steepest.sweeps import SerialExecutor, dask_executor, sweep_mlp  # noqa: E402


def spin(n: int) -> int:
    """Pure CPU work, no memory traffic: how much two processes can run in parallel right now."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop(i):
    """A run that does nothing: what is left of its time is the executor's overhead."""
    return {"loss": float(i)}


def grid(epochs: int) -> dict:
    return {"data": ["moons"], "n_samples": [200], "hidden": [[16, 16]], "epochs": [epochs],
            "optimizer": ["sgd", "momentum", "rmsprop", "adam"],
            "lr": st.log_range(1e-3, 0.3, 10), "seed": [0]}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--runs", type=int, default=200, help="no-op runs for the overhead")
    parser.add_argument("--no-dask", dest="dask", action="store_false")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores available, load average at start "
          f"{os.getloadavg()[0]:.2f}; Python {platform.python_version()}")
    the_grid = grid(args.epochs)
    start = time.perf_counter()
    pool = ProcessPoolExecutor(2)
    pool.submit(noop, 0).result()
    pool_start = time.perf_counter() - start
    executors = {"serial": SerialExecutor(), "process pool (2)": pool}
    dask_start = None
    if args.dask:
        start = time.perf_counter()
        executors["Dask LocalCluster (2)"] = dask_executor("local", workers=2)
        executors["Dask LocalCluster (2)"].submit(noop, 0).result()
        dask_start = time.perf_counter() - start

    times = {name: [] for name in executors}
    ceiling = []
    reference = None
    for repeat in range(args.repeats):
        work = 4_000_000
        one = timed(lambda: [spin(work) for _ in range(4)])
        two = timed(lambda: list(pool.map(spin, [work] * 4)))
        ceiling.append(one / two)
        names = list(executors)
        names = names[repeat % len(names):] + names[:repeat % len(names)]  # rotate the order
        for name in names:
            result = None

            def run():
                nonlocal result
                result = st.sweep(sweep_mlp, the_grid, executor=executors[name])
            times[name].append(timed(run))
            records = [r.to_json()["history"] for r in result]
            reference = reference or records
            assert records == reference, f"{name} gave different histories"
    counts = result.counts()
    serial = statistics.median(times["serial"])
    print(f"\n40-run sweep, {args.epochs} epochs per run ({counts['ok']} ok, "
          f"{counts['diverged']} diverged), median of {args.repeats}; every executor gave "
          f"bit-identical histories")
    print(f"control: 4 pure-Python CPU loops, 2 processes over 1, same repeats: "
          f"{statistics.median(ceiling):.2f}x (what the machine's cores allowed meanwhile; "
          f"all: {', '.join(f'{c:.2f}' for c in ceiling)})")
    print("| executor | wall s | s per run | speed-up over serial |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        wall = statistics.median(values)
        print(f"| {name} | {wall:.2f} | {wall / 40:.3f} | {serial / wall:.2f}x |")

    print(f"\noverhead per run: {args.runs} runs of a function that returns at once, median of "
          f"{args.repeats}")
    print("| executor | ms per run | start-up s |")
    print("|---|---:|---:|")
    for name, executor in executors.items():
        walls = [timed(lambda: st.sweep(noop, {"i": list(range(args.runs))},
                                        executor=executor)) for _ in range(args.repeats)]
        startup = {"process pool (2)": f"{pool_start:.2f}",
                   "Dask LocalCluster (2)": f"{dask_start or 0:.2f}"}.get(name, "0")
        print(f"| {name} | {1000 * statistics.median(walls) / args.runs:.2f} | {startup} |")
    for executor in executors.values():
        executor.shutdown()
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
