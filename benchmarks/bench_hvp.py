"""Hessian-vector product against a gradient, steepest beside torch.

    python benchmarks/bench_hvp.py [--quick] [--threads N] [--dtype float32|float64]

The 784-256-256-10 ReLU MLP with cross-entropy at batch 128, as a function of its six parameter
tensors. Timed per call (forward included in each): a gradient (one reverse pass), steepest's
``autograd.functional.hvp`` (a double vector-Jacobian product: ∇(∇L · v), two reverse passes
of which the first records its graph), torch's gradient, torch's ``functional.hvp`` (the
double-backward trick: three passes) and torch's own double vjp. The figure is the median over
repeats of the mean time per call in a block, the rows timed round-robin. The HVP is checked
against torch's first.
"""

from __future__ import annotations

import argparse
import os
import time


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for NumPy's BLAS and torch (default 1)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    return parser.parse_args(argv)


ARGS = _parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.autograd.functional as torch_functional  # noqa: E402

import steepest as st  # noqa: E402
from steepest.autograd import functional, grad  # noqa: E402

torch.set_num_threads(ARGS.threads)
SIZES, BATCH = (784, 256, 256, 10), 128


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_out, fan_in)),
                   rng.uniform(-bound, bound, fan_out)]
    x, y = rng.normal(size=(BATCH, SIZES[0])), rng.integers(0, SIZES[-1], BATCH)
    v = [rng.normal(size=p.shape) for p in params]
    return [p.astype(ARGS.dtype) for p in params], x.astype(ARGS.dtype), y, \
        [w.astype(ARGS.dtype) for w in v]


def _loss(lib, x, y):
    functional_ = lib.nn.functional

    def loss(*params):
        h = x
        for layer in range(0, len(params), 2):
            h = functional_.linear(h, params[layer], params[layer + 1])
            if layer + 2 < len(params):
                h = lib.relu(h)
        return functional_.cross_entropy(h, y)
    return loss


def _timed(functions: dict, repeats: int, block: int) -> dict:
    """ms per call of each function: the median over repeats of a block's mean, the functions
    timed round-robin within each repeat so that a busy spell of the machine hits all alike."""
    for fn in functions.values():
        fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            for _ in range(block):
                fn()
            times[name].append((time.perf_counter() - start) / block)
    return {name: float(np.median(values)) * 1e3 for name, values in times.items()}


def main():
    params, x, y, v = _problem()
    st_params = [st.tensor(p, requires_grad=True) for p in params]
    st_v = [st.tensor(w) for w in v]
    st_loss = _loss(st, st.tensor(x), st.tensor(y))
    torch_params = [torch.tensor(p, requires_grad=True) for p in params]
    torch_v = [torch.tensor(w) for w in v]
    torch_loss = _loss(torch, torch.tensor(x), torch.tensor(y))

    def st_grad():
        return grad(st_loss(*st_params), st_params)

    def st_hvp():
        return functional.hvp(st_loss, tuple(st_params), tuple(st_v))[1]

    def torch_grad():
        return torch.autograd.grad(torch_loss(*torch_params), torch_params)

    def torch_hvp():
        return torch_functional.hvp(torch_loss, tuple(torch_params), tuple(torch_v))[1]

    def torch_double_vjp():
        gradients = torch.autograd.grad(torch_loss(*torch_params), torch_params,
                                        create_graph=True)
        dot = sum((g * w).sum() for g, w in zip(gradients, torch_v))
        return torch.autograd.grad(dot, torch_params)

    ours, theirs = st_hvp(), torch_hvp()
    gap = max(float(np.max(np.abs(a.numpy() - b.numpy())) / (np.max(np.abs(b.numpy())) or 1))
              for a, b in zip(ours, theirs))
    print(f"{ARGS.dtype}, threads {ARGS.threads}, NumPy {np.__version__}, torch "
          f"{torch.__version__}; hvp steepest vs torch: max relative gap {gap:.1e}")
    repeats, block = (3, 3) if ARGS.quick else (7, 10)
    rows = [("steepest gradient", st_grad), ("steepest hvp", st_hvp),
            ("torch gradient", torch_grad), ("torch functional.hvp", torch_hvp),
            ("torch double vjp", torch_double_vjp)]
    timings = _timed(dict(rows), repeats, block)
    print(f"{'MLP 784-256-256-10 ReLU CE, batch 128':40s} {'ms/call':>9s} {'x gradient':>11s}")
    for name, _ in rows:
        base = timings[("steepest" if name.startswith("steepest") else "torch") + " gradient"]
        print(f"{name:40s} {timings[name]:9.2f} {timings[name] / base:10.2f}x")
    print(f"steepest hvp / torch functional.hvp: "
          f"{timings['steepest hvp'] / timings['torch functional.hvp']:.2f}x")


if __name__ == "__main__":
    main()
