"""Adam's flat update on 1 thread against N threads, for flat buffers of 2^k elements.

    python benchmarks/bench_optim_threads.py [--threads 2] [--sizes 18,20,22] [--steps 30]

One parameter pair of 2^k float32 elements in one flat bucket; the figure is the median wall
time of ``opt.step()`` over ``--steps`` steps, each size timed 1 thread, N threads, 1, N and
the faster run of each kept. The results are the same bits either way (tests/test_compile.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import steepest as st  # noqa: E402


def step_time(size: int, threads: int, steps: int) -> float:
    st.manual_seed(0)
    params = [st.nn.Parameter(st.randn(size // 2, dtype=st.float32)),
              st.nn.Parameter(st.randn(size - size // 2, dtype=st.float32))]
    opt = st.optim.Adam(params)
    opt.threads, opt.thread_min_size = threads, 1
    for p in params:
        p.grad = st.randn(p.shape[0], dtype=st.float32)
    for _ in range(3):
        opt.step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="16,18,20,22", help="exponents k of 2^k elements")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.threads} threads against 1")
    for k in (int(s) for s in args.sizes.split(",")):
        one = min(step_time(1 << k, 1, args.steps) for _ in range(2))
        many = min(step_time(1 << k, args.threads, args.steps) for _ in range(2))
        print(f"2^{k} elements: 1 thread {one * 1e6:8.0f} us, {args.threads} threads "
              f"{many * 1e6:8.0f} us, ratio {many / one:.2f}")


if __name__ == "__main__":
    main()
