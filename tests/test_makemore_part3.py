"""Karpathy's makemore part 3 ("Activations & Gradients, BatchNorm"), written once against a
``torch`` module and run with torch and with steepest: the MLP with a hand-written BatchNorm
(``hpreact.std(0, keepdim=True)``, running statistics under ``no_grad``, the calibration pass,
``@torch.no_grad()`` on ``split_loss``), then the six-layer net of hand-written ``Linear``,
``BatchNorm1d`` and ``Tanh`` classes with the lecture's statistics cells: ``layer.out
.retain_grad()``, the activation and gradient statistics per Tanh layer (mean, std, percent
saturated, ``torch.histogram(t, density=True)``), the weights' gradient-to-data ratio, the
update-to-data ratios ``((lr*p.grad).std() / p.data.std()).log10()``, eval-mode losses and
sampled names.

The lecture's code with fewer steps; every random number (weights, minibatches, samples) comes
from the lecture's own ``torch.Generator`` in each library. Prints and plots become returned
numbers. ``names.txt`` is test_makemore.py's; the first 5000 names keep the test fast.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F
from threadpoolctl import threadpool_limits

import steepest as st
import steepest.nn.functional as st_F
from test_makemore import WORDS

STEPS = 150
N_WORDS = 5000  # the first 5000 names (36 000 examples): the calibration pass stays small


def dataset(torch):
    words = WORDS[:N_WORDS]
    chars = sorted(list(set(''.join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi['.'] = 0
    itos = {i: s for s, i in stoi.items()}
    vocab_size = len(itos)
    block_size = 3

    def build_dataset(words):
        X, Y = [], []
        for w in words:
            context = [0] * block_size
            for ch in w + '.':
                ix = stoi[ch]
                X.append(context)
                Y.append(ix)
                context = context[1:] + [ix]
        X = torch.tensor(X)
        Y = torch.tensor(Y)
        return X, Y

    random.Random(42).shuffle(words)
    n1 = int(0.8 * len(words))
    n2 = int(0.9 * len(words))
    Xtr, Ytr = build_dataset(words[:n1])
    Xdev, Ydev = build_dataset(words[n1:n2])
    return dict(itos=itos, vocab_size=vocab_size, block_size=block_size,
                Xtr=Xtr, Ytr=Ytr, Xdev=Xdev, Ydev=Ydev)


def batchnorm_mlp(torch, F, d, max_steps=STEPS):
    """The MLP revisited: tanh-gain init and a BatchNorm written out by hand."""
    vocab_size, block_size = d["vocab_size"], d["block_size"]
    Xtr, Ytr, Xdev, Ydev = d["Xtr"], d["Ytr"], d["Xdev"], d["Ydev"]
    n_embd = 10
    n_hidden = 200

    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((vocab_size, n_embd), generator=g)
    W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) \
        * (5/3)/((n_embd * block_size)**0.5)
    W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.01
    b2 = torch.randn(vocab_size, generator=g) * 0

    bngain = torch.ones((1, n_hidden))
    bnbias = torch.zeros((1, n_hidden))
    bnmean_running = torch.zeros((1, n_hidden))
    bnstd_running = torch.ones((1, n_hidden))

    parameters = [C, W1, W2, b2, bngain, bnbias]
    n_parameters = sum(p.nelement() for p in parameters)
    for p in parameters:
        p.requires_grad = True

    batch_size = 32
    lossi = []
    for i in range(max_steps):
        ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]

        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with torch.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)

        for p in parameters:
            p.grad = None
        loss.backward()

        lr = 0.1 if i < 100000 else 0.01
        for p in parameters:
            p.data += -lr * p.grad

        lossi.append(loss.log10().item())

    with torch.no_grad():
        emb = C[Xtr]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        bnmean = hpreact.mean(0, keepdim=True)
        bnstd = hpreact.std(0, keepdim=True)

    @torch.no_grad()
    def split_loss(split):
        x, y = {
            'train': (Xtr, Ytr),
            'val': (Xdev, Ydev),
        }[split]
        emb = C[x]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        hpreact = bngain * (hpreact - bnmean_running) / bnstd_running + bnbias
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, y)
        return loss.item()

    return {"n_parameters": n_parameters, "lossi": lossi,
            "calibrated": [bnmean, bnstd], "running": [bnmean_running, bnstd_running],
            "split losses": [split_loss('train'), split_loss('val')],
            "parameters": parameters}


def deep_net(torch, F, d, max_steps=STEPS):
    """The six-layer net of hand-written layers and the lecture's statistics cells."""
    vocab_size, block_size, itos = d["vocab_size"], d["block_size"], d["itos"]
    Xtr, Ytr, Xdev, Ydev = d["Xtr"], d["Ytr"], d["Xdev"], d["Ydev"]

    class Linear:

        def __init__(self, fan_in, fan_out, bias=True):
            self.weight = torch.randn((fan_in, fan_out), generator=g) / fan_in**0.5
            self.bias = torch.zeros(fan_out) if bias else None

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:

        def __init__(self, dim, eps=1e-5, momentum=0.1):
            self.eps = eps
            self.momentum = momentum
            self.training = True
            self.gamma = torch.ones(dim)
            self.beta = torch.zeros(dim)
            self.running_mean = torch.zeros(dim)
            self.running_var = torch.ones(dim)

        def __call__(self, x):
            if self.training:
                xmean = x.mean(0, keepdim=True)
                xvar = x.var(0, keepdim=True)
            else:
                xmean = self.running_mean
                xvar = self.running_var
            xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
            self.out = self.gamma * xhat + self.beta
            if self.training:
                with torch.no_grad():
                    self.running_mean = (1 - self.momentum) * self.running_mean \
                        + self.momentum * xmean
                    self.running_var = (1 - self.momentum) * self.running_var \
                        + self.momentum * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    n_embd = 10
    n_hidden = 100
    g = torch.Generator().manual_seed(2147483647)

    C = torch.randn((vocab_size, n_embd), generator=g)
    layers = [
        Linear(n_embd * block_size, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size, bias=False), BatchNorm1d(vocab_size),
    ]

    with torch.no_grad():
        layers[-1].gamma *= 0.1
        for layer in layers[:-1]:
            if isinstance(layer, Linear):
                layer.weight *= 1.0

    parameters = [C] + [p for layer in layers for p in layer.parameters()]
    for p in parameters:
        p.requires_grad = True

    batch_size = 32
    lossi = []
    ud = []
    for i in range(max_steps):
        ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]

        emb = C[Xb]
        x = emb.view(emb.shape[0], -1)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Yb)

        for layer in layers:
            layer.out.retain_grad()
        for p in parameters:
            p.grad = None
        loss.backward()

        lr = 0.1 if i < 150000 else 0.01
        for p in parameters:
            p.data += -lr * p.grad

        lossi.append(loss.log10().item())
        with torch.no_grad():
            ud.append([((lr*p.grad).std() / p.data.std()).log10().item() for p in parameters])

    activations, gradients, weight_grads, histograms = [], [], [], []
    for i, layer in enumerate(layers[:-1]):
        if isinstance(layer, Tanh):
            t = layer.out
            activations.append((t.mean().item(), t.std().item(),
                                ((t.abs() > 0.97).float().mean()*100).item()))
            histograms.append(torch.histogram(t, density=True))
            t = layer.out.grad
            gradients.append((t.mean().item(), t.std().item()))
            histograms.append(torch.histogram(t, density=True))
    for i, p in enumerate(parameters):
        t = p.grad
        if p.ndim == 2:
            weight_grads.append((tuple(p.shape), t.mean().item(), t.std().item(),
                                 (t.std() / p.std()).item()))

    @torch.no_grad()
    def split_loss(split):
        x, y = {
            'train': (Xtr, Ytr),
            'val': (Xdev, Ydev),
        }[split]
        emb = C[x]
        x = emb.view(emb.shape[0], -1)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, y)
        return loss.item()

    for layer in layers:
        layer.training = False
    split_losses = [split_loss('train'), split_loss('val')]

    g = torch.Generator().manual_seed(2147483647 + 10)
    names = []
    for _ in range(20):
        out = []
        context = [0] * block_size
        while True:
            emb = C[torch.tensor([context])]
            x = emb.view(emb.shape[0], -1)
            for layer in layers:
                x = layer(x)
            logits = x
            probs = F.softmax(logits, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0:
                break
        names.append(''.join(itos[i] for i in out))

    return {"lossi": lossi, "ud": ud, "activations": activations, "gradients": gradients,
            "weight grads": weight_grads, "histograms": histograms,
            "split losses": split_losses, "names": names, "parameters": parameters}


def _numbers(value) -> np.ndarray:
    """A result (numbers, tuples, tensors) as one flat float64 array."""
    if isinstance(value, (list, tuple)):
        return np.concatenate([_numbers(v) for v in value] or [np.zeros(0)])
    if isinstance(value, (torch.Tensor, st.Tensor)):
        value = value.detach().numpy()
    return np.ravel(np.asarray(value, dtype=np.float64))


def _both(program, steps, torch_dtype, st_dtype):
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch_dtype)
    torch.set_num_threads(1)   # batches of 32: threads (torch's, and BLAS's below) only contend
    try:
        theirs = program(torch, torch_F, dataset(torch), steps)
    finally:
        torch.set_default_dtype(previous)
        torch.set_num_threads(threads)
    with st.default_dtype(st_dtype), threadpool_limits(1, user_api="blas"):
        ours = program(st, st_F, dataset(st), steps)
    return theirs, ours


def assert_same(theirs, ours, rtol):
    assert list(ours) == list(theirs)
    for (hist, edges), (their_hist, their_edges) in zip(ours.get("histograms", []),
                                                        theirs.get("histograms", [])):
        # an edge near 0 is start + i·step: its error is a rounding of the range, not of itself
        np.testing.assert_allclose(_numbers(edges), _numbers(their_edges), rtol=rtol,
                                   atol=rtol * np.abs(_numbers(their_edges)).max())
        np.testing.assert_allclose(_numbers(hist), _numbers(their_hist), rtol=rtol)
    for key in theirs:
        if key in ("names", "histograms"):
            continue
        if isinstance(theirs[key], list):
            assert len(ours[key]) == len(theirs[key]), key
            items = zip(ours[key], theirs[key])
        else:
            items = [(ours[key], theirs[key])]
        for a, b in items:
            a, b = _numbers(a), _numbers(b)
            assert a.shape == b.shape, key
            if key == "ud":
                # log10 of ratios: a gain or bias moved from all ones or zeros has
                # (lr*grad).std() equal to p.data.std() up to rounding, so log10 is rounding
                # noise around 0; the ratios themselves are what agree to rtol
                a, b = 10 ** a, 10 ** b
            # each item (a tensor; a layer's mean, std and saturation) to rtol of its own
            # scale: a weight or a mean near 0 carries the rounding of its neighbours
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(),
                                       err_msg=key)


@pytest.mark.parametrize("program", [batchnorm_mlp, deep_net])
def test_float64_gives_torchs_numbers(program):
    """Every loss, statistic, update ratio, weight and sampled name, to 1e-9."""
    theirs, ours = _both(program, STEPS, torch.float64, st.float64)
    assert_same(theirs, ours, 1e-9)
    assert ours.get("names") == theirs.get("names")


@pytest.mark.parametrize("program", [batchnorm_mlp, deep_net])
def test_float32_gives_torchs_numbers(program):
    """torch's default dtype, all the way: unlike part 2 (tenfold growth of the last-bit
    differences every 25 steps), BatchNorm renormalises every layer, and the losses stay
    within 1.4e-7 of torch's over 300 steps (measured); everything agrees to 1e-5."""
    theirs, ours = _both(program, STEPS, torch.float32, st.float32)
    assert_same(theirs, ours, 1e-5)
    assert ours.get("names") == theirs.get("names")


# ------------------------------------------------- the surface the lecture needs, against torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"density": True}, {"bins": 7, "range": (-1, 0.5)},
                                    {"bins": 5, "weight": True}])
@pytest.mark.parametrize("data", ["normal", "tanh", "constant", "tiny"])
def test_histogram_is_torchs(data, kwargs, dtype):
    """Counts, densities and edges as torch's ``histogram`` (edges to the range's rounding:
    torch's float32 linspace rounds its vectorised steps in another order)."""
    rng = np.random.default_rng(0)
    x = {"normal": rng.normal(size=(32, 100)), "tanh": np.tanh(3 * rng.normal(size=5000)),
         "constant": np.full(7, 2.0), "tiny": 1e-4 * rng.normal(size=1000)}[data].astype(dtype)
    kwargs = dict(kwargs)
    weight = rng.random(x.shape).astype(dtype) if kwargs.pop("weight", False) else None
    hist, edges = st.histogram(st.tensor(x), weight=None if weight is None else st.tensor(weight),
                               **kwargs)
    their_hist, their_edges = torch.histogram(
        torch.tensor(x), weight=None if weight is None else torch.tensor(weight), **kwargs)
    assert hist.dtype == edges.dtype == dtype
    assert hist.shape == tuple(their_hist.shape) and edges.shape == tuple(their_edges.shape)
    np.testing.assert_allclose(edges.numpy(), their_edges.numpy(), rtol=1e-6,
                               atol=1e-6 * np.abs(their_edges.numpy()).max())
    np.testing.assert_allclose(hist.numpy(), their_hist.numpy(), rtol=1e-5)


def test_histogram_refuses_integer_input_and_no_bins():
    with pytest.raises(TypeError, match="histogram: input must be a float tensor"):
        st.histogram(st.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="bins must be a positive int, got 0"):
        st.histogram(st.tensor([1.0]), bins=0)


@pytest.mark.parametrize("reduction", ["sum", "mean", "var", "std"])
def test_float32_reductions_over_many_rows_are_torchs(reduction):
    """The calibration pass: a float32 mean over 180 000 rows. NumPy adds a non-last axis one
    row at a time (4e-4 relative off here); steepest accumulates it in float64 as torch's
    cascade sum keeps it accurate (1e-6)."""
    x = (np.random.default_rng(0).normal(size=(180_000, 8)) + 0.5).astype(np.float32)
    ours = getattr(st.tensor(x), reduction)(0)
    theirs = getattr(torch.tensor(x), reduction)(0)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-6)
