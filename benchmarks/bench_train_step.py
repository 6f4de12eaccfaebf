"""One training step, steepest against torch eager, a hand-written NumPy net and micrograd.

    python benchmarks/bench_train_step.py [--quick] [--threads N] [--write BENCHMARKS.md]

All timings run in one process. Within each case the implementations are timed round-robin
(one block of steps each per repeat, the starting implementation rotating), after a warm-up,
and the reported figure is the median over repeats of the mean time per step in a block. Peak
memory is measured in a child process that imports only NumPy and steepest.
NumPy's BLAS and torch use the same number of threads (set through OMP/OPENBLAS/MKL_NUM_THREADS
before NumPy is imported, and torch.set_num_threads).

Before any timing, the script checks that the three MLP implementations (and the small nets,
and micrograd against steepest) started from the same weights agree after three steps in
float64, so that the timed code computes the same thing.
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="few repeats and short blocks (a smoke run, numbers are noisy)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: cores, at most 2)")
    parser.add_argument("--write", metavar="PATH", default=None,
                        help="write the results as Markdown to PATH (e.g. BENCHMARKS.md)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU time instead of the wall clock "
                             "(needs --threads 1): steadier on a machine that other "
                             "processes keep busy")
    parser.add_argument("--only", metavar="TEXT", default=None,
                        help="run only the cases whose label contains TEXT (no memory run)")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


ARGS = _parse_args()
if ARGS.cpu_time and ARGS.threads != 1:
    sys.exit("--cpu-time needs --threads 1: with more threads, CPU time adds up the work "
             "of every thread (and the spinning of idle BLAS threads)")
try:
    CORES = len(os.sched_getaffinity(0))
except AttributeError:  # not Linux
    CORES = os.cpu_count() or 1
THREADS = ARGS.threads if ARGS.threads else min(CORES, 2)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
if "numpy" in sys.modules and any(os.environ.get(v) != str(THREADS) for v in _THREAD_VARS):
    # NumPy came in before us (sitecustomize?): its BLAS pool is sized; start afresh.
    for var in _THREAD_VARS:
        os.environ[var] = str(THREADS)
    os.execv(sys.executable, [sys.executable] + sys.argv)
for var in _THREAD_VARS:
    os.environ[var] = str(THREADS)

import datetime  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import steepest as st  # noqa: E402

st.optim.Optimizer.threads = THREADS  # large optimizer updates split over as many threads

if not ARGS.memory_child:  # the memory run is a child process with NumPy and steepest only
    import torch  # noqa: E402
    import torch.nn.functional as TF  # noqa: E402

    torch.set_num_threads(THREADS)
    try:
        import threadpoolctl  # noqa: E402
    except ImportError:  # optional: only used to report the BLAS
        threadpoolctl = None
    try:
        from micrograd import nn as mg_nn  # noqa: E402
        from micrograd.engine import Value as MGValue  # noqa: E402
    except ImportError:
        mg_nn = None

QUICK = ARGS.quick
REPEATS = 5 if QUICK else 15
BLOCK_S = 0.03 if QUICK else 0.1          # target length of one timed block of steps
WARMUP_S = 0.05 if QUICK else 0.3         # warm-up per implementation and case
PAUSE_S = 0.15                            # idle time before each block (see time_round_robin)
TIMER = time.process_time if ARGS.cpu_time else time.perf_counter
MIN_WARMUP_CALLS = 6                      # a compiled step replays from its 5th call
SLOW_REPEATS = 3 if QUICK else 5          # for micrograd, whose step takes 0.1-0.6 s
MEMORY_STEPS = 200
COMPILED_MEMORY_STEPS = 10_000

MLP_SIZES = (784, 256, 256, 10)
SMALL_SIZES = (2, 16, 16, 1)
PLAYGROUND_SIZES = (2, 8, 8, 1)
ADAM_LR = 1e-3
SGD_LR = 0.1
MICROGRAD_LR = 0.1
MICROGRAD_ALPHA = 1e-4                    # L2 weight of micrograd's demo loss


# =============================================================================== weights
def initial_weights(sizes, dtype, seed):
    """torch-style initial weights, drawn by steepest's own Linear, as (W, b) arrays."""
    generator = np.random.default_rng(seed)
    layers = [st.nn.Linear(i, o, dtype=dtype, generator=generator)
              for i, o in zip(sizes[:-1], sizes[1:])]
    return [(layer.weight.numpy().copy(), layer.bias.numpy().copy()) for layer in layers]


# =============================================================================== steepest
def steepest_model(weights, activation, dtype):
    layers = []
    for i, (w, b) in enumerate(weights):
        layer = st.nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
        layer.weight.numpy()[...] = w
        layer.bias.numpy()[...] = b
        layers.append(layer)
        if i < len(weights) - 1:
            layers.append(st.nn.ReLU() if activation == "relu" else st.nn.Tanh())
    return st.nn.Sequential(*layers)


def _steepest_parts(weights, batches, activation, loss, optimizer, dtype):
    """The model, its parameters, optimizer, loss, batch cycle and first-batch loss."""
    model = steepest_model(weights, activation, dtype)
    params = list(model.parameters())
    if optimizer == "adam":
        opt = st.optim.Adam(params, lr=ADAM_LR)
    else:
        opt = st.optim.SGD(params, lr=SGD_LR)
    loss_fn = st.losses.cross_entropy if loss == "ce" else st.losses.mse
    data = itertools.cycle([(st.tensor(x), st.tensor(y)) for x, y in batches])
    first = st.tensor(batches[0][0]), st.tensor(batches[0][1])

    def current_loss():
        with st.no_grad():
            return float(loss_fn(model(first[0]), first[1]).item())
    return model, params, opt, loss_fn, data, current_loss


def make_steepest(weights, batches, activation, loss, optimizer, dtype):
    model, params, opt, loss_fn, data, current_loss = _steepest_parts(
        weights, batches, activation, loss, optimizer, dtype)

    def step():
        xt, yt = next(data)
        opt.zero_grad()
        out = loss_fn(model(xt), yt)
        out.backward()
        opt.step()
        return out
    return step, current_loss, lambda: [p.numpy() for p in params]


def make_compiled(weights, batches, activation, loss, optimizer, dtype):
    """steepest's step through ``st.compile``: traced on its first calls, then replayed."""
    model, params, opt, loss_fn, data, current_loss = _steepest_parts(
        weights, batches, activation, loss, optimizer, dtype)

    @st.compile
    def train_step(xt, yt):
        opt.zero_grad()
        out = loss_fn(model(xt), yt)
        out.backward()
        opt.step()
        return out

    def step():
        return train_step(*next(data))
    return step, current_loss, lambda: [p.numpy() for p in params]


# =============================================================================== torch
def make_torch(weights, batches, activation, loss, optimizer, dtype):
    tdtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    layers = []
    for i, (w, b) in enumerate(weights):
        layer = torch.nn.Linear(w.shape[1], w.shape[0], dtype=tdtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        layers.append(layer)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)  # default foreach (None)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR)
    loss_fn = TF.cross_entropy if loss == "ce" else TF.mse_loss
    pool = [(torch.from_numpy(x.copy()), torch.from_numpy(y.copy())) for x, y in batches]
    data = itertools.cycle(pool)

    def step():
        xt, yt = next(data)
        opt.zero_grad()
        out = loss_fn(model(xt), yt)
        out.backward()
        opt.step()
        return out

    def current_loss():
        with torch.no_grad():
            return float(loss_fn(model(pool[0][0]), pool[0][1]).item())
    return step, current_loss, lambda: [p.detach().numpy() for p in model.parameters()]


# =============================================================================== by hand
class HandNet:
    """A NumPy MLP with backprop written out, every buffer preallocated and reused (out=).

    Hidden activation ReLU or tanh (applied in place), fused softmax-cross-entropy or MSE,
    Adam (torch's update, written in place) or SGD. With ``flat=True`` all weights, biases
    and their gradients are views into one flat parameter buffer and one flat gradient
    buffer (backprop writes the gradients straight into their views), and the optimizer
    state is flat too, so each Adam or SGD operation is one ufunc call over all parameters:
    the practical lower bound for NumPy. ``flat=False`` updates parameter by parameter.
    """

    def __init__(self, weights, batches, activation, loss, optimizer, dtype, flat=False):
        dtype = np.dtype(dtype)
        n = batches[0][0].shape[0]
        self.pool = [(x.astype(dtype), y if loss == "ce" else y.astype(dtype))
                     for x, y in batches]
        self.data = itertools.cycle(self.pool)
        self.x, self.y = self.pool[0]
        self.n = n
        self.activation, self.loss, self.optimizer = activation, loss, optimizer
        arrays = [a.astype(dtype) for pair in weights for a in pair]
        if flat:
            self.flat_params = np.concatenate([a.reshape(-1) for a in arrays])
            self.flat_grads = np.empty_like(self.flat_params)
            self.params = _views(self.flat_params, arrays)
            self.grads = _views(self.flat_grads, arrays)
            update_params, update_grads = [self.flat_params], [self.flat_grads]
        else:
            self.params = arrays
            self.grads = [np.empty_like(p) for p in self.params]
            update_params, update_grads = self.params, self.grads
        self.W, self.b = self.params[0::2], self.params[1::2]
        self.a = [np.empty((n, w.shape[0]), dtype) for w in self.W]      # layer outputs
        self.delta = [np.empty((n, w.shape[0]), dtype) for w in self.W]  # dLoss/d(pre-act)
        self.mask = [np.empty((n, w.shape[0]), bool) for w in self.W]    # ReLU'
        self.slope = [np.empty((n, w.shape[0]), dtype) for w in self.W]  # tanh'
        # what the optimizer loops over: every parameter, or the one flat buffer
        self.update_params, self.update_grads = update_params, update_grads
        self.tmp = [np.empty_like(p) for p in update_params]
        if optimizer == "adam":
            self.m = [np.zeros_like(p) for p in update_params]
            self.v = [np.zeros_like(p) for p in update_params]
            self.t = 0
        if loss == "ce":
            self.rows = np.arange(n)
            self.col = np.empty((n, 1), dtype)

    def _forward(self):
        last = len(self.W) - 1
        inp = self.x
        for i, (w, b, a) in enumerate(zip(self.W, self.b, self.a)):
            np.matmul(inp, w.T, out=a)
            a += b
            if i < last:
                if self.activation == "relu":
                    np.maximum(a, 0, out=a)
                else:
                    np.tanh(a, out=a)
            inp = a
        return self.a[-1]

    def _loss_and_output_delta(self, out):
        """The loss, and delta = dLoss/dlogits written into self.delta[-1]."""
        d = self.delta[-1]
        if self.loss == "ce":
            col = self.col
            np.max(out, axis=1, keepdims=True, out=col)
            picked = out[self.rows, self.y]
            np.subtract(out, col, out=d)
            np.exp(d, out=d)
            loss_value = col[:, 0] - picked
            np.sum(d, axis=1, keepdims=True, out=col)
            loss_value += np.log(col[:, 0])
            d /= col
            d[self.rows, self.y] -= 1.0
            d *= 1.0 / self.n
            return loss_value.mean()
        np.subtract(out, self.y, out=d)
        loss_value = np.vdot(d, d) / d.size
        d *= 2.0 / d.size
        return loss_value

    def step(self):
        self.x, self.y = next(self.data)
        out = self._forward()
        loss_value = self._loss_and_output_delta(out)
        for i in range(len(self.W) - 1, -1, -1):
            d = self.delta[i]
            inp = self.x if i == 0 else self.a[i - 1]
            np.matmul(d.T, inp, out=self.grads[2 * i])
            np.sum(d, axis=0, out=self.grads[2 * i + 1])
            if i:
                prev = self.delta[i - 1]
                np.matmul(d, self.W[i], out=prev)
                a_prev = self.a[i - 1]
                if self.activation == "relu":
                    np.greater(a_prev, 0, out=self.mask[i - 1])
                    np.multiply(prev, self.mask[i - 1], out=prev)
                else:
                    t = self.slope[i - 1]
                    np.multiply(a_prev, a_prev, out=t)
                    np.subtract(1.0, t, out=t)
                    prev *= t
        self._update()
        return loss_value

    def _update(self):
        params, grads, tmps = self.update_params, self.update_grads, self.tmp
        if self.optimizer == "sgd":
            for p, g, tmp in zip(params, grads, tmps):
                np.multiply(g, SGD_LR, out=tmp)
                p -= tmp
            return
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        self.t += 1
        step_size = ADAM_LR / (1 - beta1 ** self.t)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.t)
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, tmps):
            # torch: m.lerp_(g, 1 - beta1); v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            np.subtract(g, m, out=tmp)
            tmp *= 1 - beta1
            m += tmp
            v *= beta2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            # denom = sqrt(v) / sqrt(bias_correction2) + eps; p -= step_size * m / denom
            np.sqrt(v, out=tmp)
            tmp /= bias_correction2_sqrt
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

    def current_loss(self):
        self.x, self.y = self.pool[0]
        out = self._forward()
        saved = self.delta[-1].copy()
        value = self._loss_and_output_delta(out)
        self.delta[-1][...] = saved
        return float(value)


def _views(flat, arrays):
    """Views into ``flat`` shaped like ``arrays``, one after the other."""
    views, start = [], 0
    for a in arrays:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views


def make_flat_hand(weights, batches, activation, loss, optimizer, dtype):
    net = HandNet(weights, batches, activation, loss, optimizer, dtype, flat=True)
    return net.step, net.current_loss, lambda: net.params


def make_hand(weights, batches, activation, loss, optimizer, dtype):
    net = HandNet(weights, batches, activation, loss, optimizer, dtype)
    return net.step, net.current_loss, lambda: net.params


# =============================================================================== micrograd
def two_moons(n=100, noise=0.1, seed=0):
    """sklearn.datasets.make_moons, rewritten in NumPy: (X (n, 2), y in {-1, +1})."""
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0, np.pi, n_outer)
    t_inner = np.linspace(0, np.pi, n_inner)
    X = np.vstack([np.c_[np.cos(t_outer), np.sin(t_outer)],
                   np.c_[1 - np.cos(t_inner), 1 - np.sin(t_inner) - 0.5]])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.r_[-np.ones(n_outer), np.ones(n_inner)]
    return X, y


def micrograd_weights(model):
    """micrograd's MLP parameters as (W (out, in), b) float64 arrays."""
    return [(np.array([[w.data for w in neuron.w] for neuron in layer.neurons]),
             np.array([neuron.b.data for neuron in layer.neurons], dtype=float))
            for layer in model.layers]


def make_micrograd(seed, X, y):
    random.seed(seed)
    model = mg_nn.MLP(2, [16, 16, 1])
    inputs_rows = X.tolist()          # Python floats (the demo's np.float64 scalars are slower)
    labels = y.tolist()
    params = model.parameters()

    def total_loss():
        inputs = [list(map(MGValue, row)) for row in inputs_rows]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = MICROGRAD_ALPHA * sum(p * p for p in params)
        return data_loss + reg_loss

    def step():
        loss = total_loss()
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= MICROGRAD_LR * p.grad
        return loss

    def current_loss():
        return total_loss().data
    return model, step, current_loss


def make_steepest_svm(weights, X, y):
    """micrograd's demo loss, batched: mean(relu(1 − y·score)) + α Σ p², with SGD."""
    model = steepest_model(weights, "relu", np.float64)
    params = list(model.parameters())
    opt = st.optim.SGD(params, lr=MICROGRAD_LR)
    xt, yt = st.tensor(X), st.tensor(y[:, None])

    def total_loss():
        scores = model(xt)
        data_loss = st.relu(1 - yt * scores).mean()
        reg_loss = MICROGRAD_ALPHA * sum((p * p).sum() for p in params)
        return data_loss + reg_loss

    def step():
        loss = total_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def current_loss():
        with st.no_grad():
            return float(total_loss().item())
    return step, current_loss, lambda: [p.numpy() for p in params]


# =============================================================================== data
def pool_size(batch):
    """Distinct batches to cycle through: at least 8, and at least ~4096 examples.

    Training on one fixed batch, a net soon fits it: at batch 1 the loss fell to ~0 within
    ~100 Adam steps, the gradients to ~1e-20, and Adam's squares went subnormal, which made
    every implementation's update 3x slower than on real data. A pool of random examples
    larger than the net can memorise in a benchmark keeps the numbers in the normal range.
    """
    return max(8, -(-4096 // batch))


def mlp_data(batch, dtype, seed=1):
    """Batches of standard-normal inputs (batch, 784) with random int64 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, MLP_SIZES[0]), dtype=dtype),
             rng.integers(0, MLP_SIZES[-1], size=batch).astype(np.int64))
            for _ in range(pool_size(batch))]


def small_data(batch, dtype, seed=2):
    """Batches of uniform inputs (batch, 2) in [-1, 1] with targets sin(3·x₀)·x₁, (batch, 1)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(pool_size(batch)):
        x = rng.uniform(-1, 1, size=(batch, 2)).astype(dtype)
        batches.append((x, (np.sin(3 * x[:, :1]) * x[:, 1:]).astype(dtype)))
    return batches


IMPLEMENTATIONS = {"steepest": make_steepest, "compiled": make_compiled, "torch": make_torch,
                   "flat": make_flat_hand, "hand": make_hand}
BASELINES = ("torch", "flat", "hand")
COMPILED_BASELINES = ("torch", "flat")
COMPILED_CHECK_STEPS = 8  # the first three run eagerly (discovery, two traces)


# =============================================================================== checks
def check_agreement():
    """Same weights, three steps in float64: every implementation must agree to ~1e-10."""
    lines = []
    for label, sizes, activation, loss, optimizer, batch, data in (
            ("MLP 784-256-256-10 ReLU CE Adam", MLP_SIZES, "relu", "ce", "adam", 32, mlp_data),
            ("tiny 2-16-16-1 ReLU MSE Adam", SMALL_SIZES, "relu", "mse", "adam", 64,
             small_data),
            ("small 2-16-16-1 tanh MSE SGD", SMALL_SIZES, "tanh", "mse", "sgd", 64, small_data),
            ("playground 2-8-8-1 tanh MSE SGD", PLAYGROUND_SIZES, "tanh", "mse", "sgd", 10,
             small_data)):
        weights = initial_weights(sizes, np.float64, seed=0)
        batches = data(batch, np.float64)
        losses, params = {}, {}
        for name, make in IMPLEMENTATIONS.items():
            step, current_loss, get_params = make(weights, batches, activation, loss,
                                                  optimizer, np.float64)
            if name == "compiled":  # bit for bit against a fresh eager run, past the traces
                eager, _, eager_params = make_steepest(weights, batches, activation, loss,
                                                       optimizer, np.float64)
                runs = [[f().item() for _ in range(COMPILED_CHECK_STEPS)]
                        for f in (eager, step)]
                same = runs[0] == runs[1] and all(
                    np.array_equal(a, b) for a, b in zip(get_params(), eager_params()))
                assert same, f"{label}: the compiled step differs from the eager one"
                lines.append(f"{label}: compiled vs eager steepest: identical bits over "
                             f"{COMPILED_CHECK_STEPS} steps")
                continue
            history = [step().item() for _ in range(3)]
            history.append(current_loss())
            losses[name] = np.array(history)
            params[name] = [np.array(p, copy=True) for p in get_params()]
        for name in BASELINES:
            loss_gap = np.max(np.abs(losses[name] - losses["steepest"]))
            param_gap = max(np.max(np.abs(a - b)) for a, b in zip(params[name],
                                                                   params["steepest"]))
            assert loss_gap < 1e-10 and param_gap < 1e-10, (
                f"{label}: steepest and {name} disagree after 3 steps: losses "
                f"{losses['steepest']} vs {losses[name]} (max gap {loss_gap:.3g}), "
                f"parameters differ by up to {param_gap:.3g}")
            lines.append(f"{label}: steepest vs {name}: loss gap {loss_gap:.1e}, "
                         f"parameter gap {param_gap:.1e}")
    if mg_nn is not None:
        X, y = two_moons()
        model, mg_step, mg_loss = make_micrograd(0, X, y)
        step, current_loss, _ = make_steepest_svm(micrograd_weights(model), X, y)
        mg_hist = [mg_step().data for _ in range(3)] + [mg_loss()]
        st_hist = [step().item() for _ in range(3)] + [current_loss()]
        gap = np.max(np.abs(np.array(mg_hist) - np.array(st_hist)))
        assert gap < 1e-10, f"micrograd and steepest disagree: {mg_hist} vs {st_hist}"
        lines.append(f"micrograd MLP(2,[16,16,1]) SVM+L2 SGD: steepest vs micrograd: "
                     f"loss gap {gap:.1e}")
    return lines


# =============================================================================== timing
def time_round_robin(steps: dict, repeats: int, block_s: float, warmup_s: float,
                     gc_off: bool = False) -> dict:
    """Median seconds per step for each implementation, timed in interleaved blocks.

    Before every block the process sleeps ``PAUSE_S``: idle OpenBLAS threads spin (yielding)
    for ~2^28 cycles after their last call and torch's OpenMP threads for a while too, so
    without the pause one library's idle pool steals cores from the next one's block (on 2
    cores that made torch's small steps up to 10x slower). With it, each block runs with
    every library's default threading behaviour and nothing left over from the others.
    ``gc_off`` disables Python's cyclic garbage collector inside the blocks (as timeit does).
    The clock is ``TIMER``: the wall clock, or with ``--cpu-time`` the process's CPU time.
    """
    per_block = {}
    for name, step in steps.items():
        time.sleep(PAUSE_S)
        step()                                   # first call: lazy state, caches
        start = TIMER()
        count = 0
        while True:
            step()
            count += 1
            elapsed = TIMER() - start
            if elapsed >= warmup_s and (count >= MIN_WARMUP_CALLS or not warmup_s):
                break
        per_block[name] = max(1, round(block_s / (elapsed / count)))
    names = list(steps)
    samples = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            step, n = steps[name], per_block[name]
            gc.collect()
            time.sleep(PAUSE_S)
            if gc_off:
                gc.disable()
            start = TIMER()
            for _ in range(n):
                step()
            samples[name].append((TIMER() - start) / n)
            gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


def bench_cases():
    cases = []
    for dtype, batch in ((np.float32, 1), (np.float32, 32), (np.float32, 128),
                         (np.float32, 1024), (np.float64, 128)):
        cases.append((f"MLP 784-256-256-10 ReLU CE Adam {np.dtype(dtype).name} b={batch}",
                      MLP_SIZES, "relu", "ce", "adam", dtype, batch, mlp_data))
    cases.append(("tiny 2-16-16-1 ReLU MSE Adam float32 b=64", SMALL_SIZES, "relu", "mse",
                  "adam", np.float32, 64, small_data))
    cases.append(("small 2-16-16-1 tanh MSE SGD float32 b=64", SMALL_SIZES, "tanh", "mse",
                  "sgd", np.float32, 64, small_data))
    for optimizer in ("sgd", "adam"):
        cases.append((f"playground 2-8-8-1 tanh MSE {optimizer.upper() if optimizer == 'sgd' else 'Adam'}"
                      f" float64 b=10", PLAYGROUND_SIZES, "tanh", "mse", optimizer, np.float64, 10,
                      small_data))
    return cases


def run_benchmarks():
    rows = []
    for label, sizes, activation, loss, optimizer, dtype, batch, data in bench_cases():
        if ARGS.only and ARGS.only not in label:
            continue
        weights = initial_weights(sizes, dtype, seed=0)
        batches = data(batch, dtype)
        steps = {name: make(weights, batches, activation, loss, optimizer, dtype)[0]
                 for name, make in IMPLEMENTATIONS.items()}
        result = time_round_robin(steps, REPEATS, BLOCK_S, WARMUP_S)
        rows.append((label, result))
        print(format_row(label, result), flush=True)
    return rows


def run_micrograd():
    """micrograd against steepest, with Python's cyclic GC on (as in a training loop) and off.

    micrograd's closures make a reference cycle per Value (~65k per step here), so with the
    collector on a step also pays for collections whose cost grows with everything else the
    process holds (torch included); with it off, only the arithmetic and graph are timed.
    """
    X, y = two_moons()
    model, mg_step, _ = make_micrograd(0, X, y)
    st_step, _, _ = make_steepest_svm(micrograd_weights(model), X, y)
    steps = {"micrograd": mg_step, "steepest": st_step}
    gc_on = time_round_robin(steps, SLOW_REPEATS, BLOCK_S, warmup_s=0.0)
    gc_off = time_round_robin(steps, SLOW_REPEATS, BLOCK_S, warmup_s=0.0, gc_off=True)
    return {"gc on": gc_on, "gc off": gc_off}


# =============================================================================== memory
def _proc_status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_memory(steps=MEMORY_STEPS, batch=1024, compiled=False):
    """Peak RSS while steepest trains the float32 MLP at batch 1024 for ``steps`` steps
    (``compiled``: the compiled step of the tiny 2-16-16-1 net at batch 64).

    Run in a child process that imports only NumPy and steepest (see ``memory_in_child``),
    so the figures are steepest's own and not the heap left by torch and the other cases.
    """
    if compiled:
        weights = initial_weights(SMALL_SIZES, np.float32, seed=0)
        step = make_compiled(weights, small_data(batch, np.float32), "relu", "mse", "adam",
                             np.float32)[0]
        for _ in range(MIN_WARMUP_CALLS):  # past the traces: the replay's memory is measured
            step()
    else:
        weights = initial_weights(MLP_SIZES, np.float32, seed=0)
        step = make_steepest(weights, mlp_data(batch, np.float32), "relu", "ce", "adam",
                             np.float32)[0]
    gc.collect()
    try:  # hand freed heap memory back to the OS, so that RSS counts live data only
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    reset = _reset_peak_rss()
    before = _proc_status_kib("VmRSS")
    sampled_peak = before or 0
    peaks = {}
    for i in range(1, steps + 1):
        step()
        rss = _proc_status_kib("VmRSS") or 0
        sampled_peak = max(sampled_peak, rss)
        if i in (10, steps):
            hwm = _proc_status_kib("VmHWM") if reset else None
            peaks[i] = (hwm if hwm is not None else sampled_peak, rss)
    (p10, _), (p_end, rss_end) = peaks[10], peaks[steps]
    return {"method": "VmHWM reset through /proc/self/clear_refs" if reset
            else "max VmRSS sampled after each step",
            "before_mib": (before or 0) / 1024, "peak10_mib": p10 / 1024,
            "peak_end_mib": p_end / 1024, "rss_end_mib": rss_end / 1024,
            "growth_pct": 100.0 * (p_end - p10) / p10, "steps": steps, "batch": batch}


def memory_in_child() -> dict:
    """Run ``measure_memory`` in a fresh interpreter (same threads) and return its result."""
    import json
    import subprocess
    argv = [sys.executable, os.path.abspath(__file__), "--memory-child", "--threads",
            str(THREADS)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# =============================================================================== reporting
def format_row(label, result):
    s = result["steepest"]
    cells = [f"{label:<46}"]
    cells += [f"{result[name] * 1e3:>9.3f}" for name in IMPLEMENTATIONS]
    cells += [f"{s / result[name]:>7.2f}x" for name in BASELINES]
    c = result["compiled"]
    cells += [f"{c / result[name]:>7.2f}x" for name in COMPILED_BASELINES]
    cells += [f"{1 / s:>9.0f}", f"{1 / c:>9.0f}"]
    return " ".join(cells)


def header():
    top = [f"{'case':<46}"] + [f"{name:>9}" for name in IMPLEMENTATIONS]
    top += [f"{'st/' + name:>8}" for name in BASELINES]
    top += [f"{'cp/' + name:>8}" for name in COMPILED_BASELINES]
    top += [f"{'steepest':>9}", f"{'compiled':>9}"]
    bottom = [f"{'':<46}"] + [f"{'ms/step':>9}" for _ in IMPLEMENTATIONS]
    bottom += [f"{'':>8}" for _ in BASELINES + COMPILED_BASELINES]
    bottom += [f"{'steps/s':>9}", f"{'steps/s':>9}"]
    return " ".join(top) + "\n" + " ".join(bottom)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "unknown"
    if threadpoolctl is not None:
        pools = threadpoolctl.threadpool_info()
        numpy_pools = [p for p in pools if p.get("user_api") == "blas"
                       and ("numpy" in p.get("filepath", "") or "openblas" in
                            p.get("filepath", "").lower())] or \
            [p for p in pools if p.get("user_api") == "blas"]
        if numpy_pools:
            p = numpy_pools[0]
            blas = (f"{p.get('internal_api')} {p.get('version')} "
                    f"({p.get('threading_layer', '?')} threading, {p.get('num_threads')} "
                    f"threads, arch {p.get('architecture', '?')})")
    else:
        try:
            config = np.show_config(mode="dicts")
            info = config["Build Dependencies"]["blas"]
            blas = f"{info.get('name')} {info.get('version')}"
        except Exception:  # noqa: BLE001 - best effort
            pass
    torch_blas = "?"
    for part in torch.__config__.show().replace("\n", ",").split(","):
        if "BLAS_INFO" in part:
            torch_blas = part.split("=", 1)[1].strip()
    return {"cpu": cpu, "cores": CORES, "threads": THREADS, "numpy_blas": blas,
            "torch_blas": torch_blas, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__.split("+")[0] + (
                "+" + torch.__version__.split("+")[1] if "+" in torch.__version__ else ""),
            "steepest": st.__version__, "micrograd": "0.1.0" if mg_nn is not None else "absent",
            "os": f"{platform.system()} {platform.release()}"}


def markdown(info, checks, rows, mg, memory, command, cmem):
    out = ["# Benchmarks: one training step", "",
           f"Measured {datetime.date.today().isoformat()} with `{command}`"
           f"{' (quick mode: few repeats, noisy)' if QUICK else ''}.", "",
           f"- Machine: {info['cpu']}, {info['cores']} cores available, {info['os']}",
           f"- Threads: {info['threads']} for NumPy's BLAS (OMP/OPENBLAS/MKL_NUM_THREADS) and "
           f"{info['torch_threads']} for torch (`torch.set_num_threads`)",
           f"- NumPy BLAS: {info['numpy_blas']}; torch BLAS: {info['torch_blas']}",
           f"- Python {info['python']}, NumPy {info['numpy']}, torch {info['torch']}, "
           f"steepest {info['steepest']}, micrograd {info['micrograd']}",
           f"- Load average (1 min) at start / end: {info['load_start']:.2f} / "
           f"{info['load_end']:.2f} (other processes on the machine add noise)", "",
           "Method: one process; per case the implementations are timed round-robin (one "
           "block of steps each per repeat, starting implementation rotating), after a "
           f"warm-up; figure = median over {REPEATS} repeats of the mean "
           f"{'CPU time of the process (`time.process_time`, one thread everywhere)' if ARGS.cpu_time else 'wall-clock time'}"
           f" per step in a "
           f"block of ~{BLOCK_S * 1e3:.0f} ms (at least one step), with a {PAUSE_S:.2f} s idle "
           "pause before every block so that no library's idle thread pool (OpenBLAS and "
           "OpenMP threads spin after their work) eats into the next block; Python's garbage "
           "collector stays on (it is part of the cost of a step). A step is "
           "zero_grad, forward, loss, backward, optimizer update, on the next batch of a "
           "pool of pre-made random batches (at least 8 and ~4096 examples, so that no net "
           "memorises its data: on one fixed batch, Adam's squared gradients went subnormal "
           "within ~100 steps at batch 1 and every update got 3x slower); no data loading.", "",
           "- **steepest**: `st.nn.Sequential` of `st.nn.Linear`/`ReLU` (or `Tanh`), "
           "`st.losses.cross_entropy` with int64 labels (or `st.losses.mse`), "
           "`st.optim.Adam(lr=1e-3)` (or `st.optim.SGD(lr=0.1)`).",
           "- **torch**: eager `torch.nn`, `F.cross_entropy` / `F.mse_loss`, "
           "`torch.optim.Adam(lr=1e-3)` with the default foreach setting (single-tensor on "
           "CPU) / `torch.optim.SGD(lr=0.1)`.",
           "- **flat**: NumPy with backprop written out, fused softmax-cross-entropy, every "
           "buffer preallocated and updated in place with `out=`; all weights, biases and "
           "gradients are views into one flat parameter buffer and one flat gradient buffer "
           "(backprop writes straight into them) and the Adam/SGD state is flat, so every "
           "optimizer operation is one ufunc call over all parameters (like torch's "
           "fused/foreach Adam): the practical limit for NumPy.",
           "- **hand**: the same hand-written net with the optimizer looping over the "
           "parameters (one ufunc call per operation and parameter).", "",
           "- **compiled**: the steepest step through `st.compile` (traced on its first calls, "
           "then replayed as a flat list of NumPy calls into preallocated buffers; the "
           "optimizer's update is called as is); checked bit for bit against the eager step "
           "before timing.", "",
           "| case | steepest (eager) ms/step | compiled ms/step | torch ms/step | "
           "flat hand-written ms/step | hand-written ms/step | steepest/torch | "
           "steepest/flat | steepest/hand | compiled/torch | compiled/flat | "
           "steepest steps/s | compiled steps/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        s, c = r["steepest"], r["compiled"]
        out.append(f"| {label} | " + " | ".join(f"{r[name] * 1e3:.3f}" for name in IMPLEMENTATIONS)
                   + " | " + " | ".join(f"{s / r[name]:.2f}" for name in BASELINES)
                   + " | " + " | ".join(f"{c / r[name]:.2f}" for name in COMPILED_BASELINES)
                   + f" | {1 / s:,.0f} | {1 / c:,.0f} |")
    out.append("")
    if mg is not None:
        out += ["## micrograd", "",
                "micrograd's own `MLP(2, [16, 16, 1])` (ReLU) on 100 two-moons points "
                "(NumPy, seed 0, noise 0.1, inputs as Python floats), one step as in its demo: "
                "forward over all points, SVM max-margin loss mean(relu(1 − y·score)) + "
                f"{MICROGRAD_ALPHA:g}·Σp², backward, SGD update (lr {MICROGRAD_LR}; the demo's "
                "accuracy bookkeeping is left out). steepest runs the same net, weights and "
                "loss batched in float64, with `st.optim.SGD`. Median of "
                f"{SLOW_REPEATS} interleaved repeats, with Python's cyclic garbage collector on "
                "(as in a training loop) and off inside the timed blocks. micrograd makes a "
                "reference cycle per `Value` (its `_backward` closure holds the `Value`), about "
                "65k per step here, so with the collector on most of its time goes to "
                "collections, whose cost grows with everything else the process holds (torch "
                "included); the GC-off row times its arithmetic and graph alone.", "",
                "| case | micrograd ms/step | steepest ms/step | speed-up |",
                "|---|---:|---:|---:|"]
        for mode, r in mg.items():
            out.append(f"| MLP(2,[16,16,1]) SVM+L2, 100 points, GC {mode[3:]} | "
                       f"{r['micrograd'] * 1e3:.2f} | {r['steepest'] * 1e3:.3f} | "
                       f"{r['micrograd'] / r['steepest']:.0f}x |")
        out.append("")
    out += ["## Memory", "",
            f"steepest, float32 MLP 784-256-256-10, Adam, batch {memory['batch']}, "
            f"{memory['steps']} steps, in a child process that imports only NumPy and "
            f"steepest; peak resident set size ({memory['method']}). RSS before the first "
            f"step (interpreter, NumPy, steepest, model and the pool of "
            f"{pool_size(memory['batch'])} input batches): {memory['before_mib']:.1f} MiB.", "",
            "| peak after 10 steps | peak after "
            f"{memory['steps']} steps | growth | peak − RSS before | RSS at the end |",
            "|---:|---:|---:|---:|---:|",
            f"| {memory['peak10_mib']:.1f} MiB | {memory['peak_end_mib']:.1f} MiB | "
            f"{memory['growth_pct']:+.1f}% | "
            f"{memory['peak_end_mib'] - memory['before_mib']:.1f} MiB | "
            f"{memory['rss_end_mib']:.1f} MiB |", "",
            f"Compiled step (tiny 2-16-16-1, Adam, float32, batch 64), {cmem['steps']:,} "
            f"replayed steps after its traces: peak RSS {cmem['peak10_mib']:.1f} MiB after 10, "
            f"{cmem['peak_end_mib']:.1f} MiB after {cmem['steps']:,} "
            f"({cmem['growth_pct']:+.1f}%).", "",
            "## Correctness check (run before timing)", ""]
    out += [f"- {line}" for line in checks]
    out += ["", "Where the time goes (profiles, and what would close the remaining gaps): "
            "[benchmarks/README.md](benchmarks/README.md).", "",
            "Reproduce:", "", "```", command, "```", ""]
    return "\n".join(out)


def main():
    t0 = time.perf_counter()
    info = machine_info()
    info["load_start"] = _load()
    if info["load_start"] > 0.5:
        print(f"warning: load average {info['load_start']:.2f}: other processes are running, "
              f"timings will be noisy")
    print(f"{info['cpu']}, {info['cores']} cores; threads {THREADS} (NumPy BLAS: "
          f"{info['numpy_blas']}; torch {info['torch_threads']}, BLAS {info['torch_blas']})")
    print(f"Python {info['python']}, NumPy {info['numpy']}, torch {info['torch']}, "
          f"steepest {info['steepest']}{', quick mode' if QUICK else ''}")
    checks = check_agreement()
    print("correctness (float64, 3 steps, same weights):")
    for line in checks:
        print("  " + line)
    print()
    print(header())
    rows = run_benchmarks()
    mg = None
    if mg_nn is not None and (not ARGS.only or ARGS.only in "micrograd"):
        mg = run_micrograd()
        print("\nmicrograd MLP(2,[16,16,1]) SVM+L2 on 100 two-moons points "
              "(steepest batched, float64):")
        for mode, r in mg.items():
            print(f"  GC {mode[3:]:<3}: micrograd {r['micrograd'] * 1e3:8.2f} ms/step, steepest "
                  f"{r['steepest'] * 1e3:.3f} ms/step: {r['micrograd'] / r['steepest']:.0f}x")
    if ARGS.only:
        return
    both = memory_in_child()
    memory, cmem = both["eager"], both["compiled"]
    print(f"compiled tiny 2-16-16-1 Adam float32, batch 64: peak after 10 steps "
          f"{cmem['peak10_mib']:.1f} MiB, after {cmem['steps']} {cmem['peak_end_mib']:.1f} MiB "
          f"({cmem['growth_pct']:+.1f}%)")
    print(f"\nmemory (steepest float32 MLP, batch {memory['batch']}, child process, "
          f"{memory['method']}): RSS before {memory['before_mib']:.1f} MiB, "
          f"peak after 10 steps {memory['peak10_mib']:.1f} MiB, after {memory['steps']} "
          f"{memory['peak_end_mib']:.1f} MiB ({memory['growth_pct']:+.1f}%), RSS at the end "
          f"{memory['rss_end_mib']:.1f} MiB")
    info["load_end"] = _load()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average {info['load_start']:.2f} "
          f"at start, {info['load_end']:.2f} at end")
    if ARGS.write:
        argv = ["python", "benchmarks/bench_train_step.py"] + sys.argv[1:]
        if ARGS.threads is None:
            argv += ["--threads", str(THREADS)]
        command = " ".join(shlex.quote(a) for a in argv)
        with open(ARGS.write, "w") as f:
            f.write(markdown(info, checks, rows, mg, memory, command, cmem))
        print(f"wrote {ARGS.write}")


if __name__ == "__main__":
    if ARGS.memory_child:
        import json
        print(json.dumps({"eager": measure_memory(),
                          "compiled": measure_memory(COMPILED_MEMORY_STEPS, 64, True)}))
    else:
        main()
