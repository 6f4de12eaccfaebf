"""Karpathy's makemore part 2 (the character-level MLP on names.txt), written once against a
``torch`` module and run with torch and with steepest: the same seed gives the same initial
weights, the same minibatches, the same losses (float32, 1e-5) and the same sampled names.

The program is the lecture's, line for line, with fewer steps; the only addition is a
``manual_seed`` at its start (a fresh Python process starts both libraries at torch's default
seed, a test process does not). ``names.txt`` is bundled under ``tests/data`` with its MIT
licence.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import steepest as st
import steepest.nn.functional as st_F
from test_random import assert_torchs_values  # bit for bit on torch's AVX2 kernels

WORDS = (Path(__file__).parent / "data" / "names.txt").read_text().splitlines()
STEPS = 300


def makemore_mlp(torch, F, steps=STEPS):
    """makemore part 2: build the dataset, train the MLP, evaluate, sample."""
    torch.manual_seed(42)
    words = list(WORDS)
    chars = sorted(list(set(''.join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi['.'] = 0
    itos = {i: s for s, i in stoi.items()}

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

    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    parameters = [C, W1, b1, W2, b2]
    initial = [p.detach().numpy().copy() for p in parameters]
    for p in parameters:
        p.requires_grad = True

    lossi = []
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (32,))
        emb = C[Xtr[ix]]
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.item())

    with torch.no_grad():
        emb = C[Xdev]
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        dev_loss = F.cross_entropy(logits, Ydev).item()

    g = torch.Generator().manual_seed(2147483647 + 10)
    names = []
    for _ in range(10):
        out = []
        context = [0] * block_size
        while True:
            emb = C[torch.tensor([context])]
            h = torch.tanh(emb.view(1, -1) @ W1 + b1)
            logits = h @ W2 + b2
            probs = F.softmax(logits, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0:
                break
        names.append(''.join(itos[i] for i in out))
    return {"initial": initial, "losses": np.array(lossi), "dev_loss": dev_loss,
            "names": names, "final": [p.detach().numpy().copy() for p in parameters]}


FLOAT32_STEPS = 25


@pytest.fixture(scope="module")
def float32_runs():
    """torch's default dtype: the initial weights are equal to the bit; a matrix product or a
    tanh rounds in another order, and at lr 0.1 from a loss of 28 those last-bit differences
    grow about tenfold every 25 steps (6e-8 at step 1, 4e-6 at step 20, 3e-4 at step 300)."""
    return (makemore_mlp(torch, torch_F, FLOAT32_STEPS),
            makemore_mlp(st, st_F, FLOAT32_STEPS))


@pytest.fixture(scope="module")
def float64_runs():
    """The same program with both default dtypes set to float64: torch.randn draws float64
    values from the same stream, and the runs agree to 1e-9 all the way."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        theirs = makemore_mlp(torch, torch_F)
    finally:
        torch.set_default_dtype(previous)
    with st.default_dtype(st.float64):
        ours = makemore_mlp(st, st_F)
    return theirs, ours


@pytest.mark.parametrize("runs, dtype", [("float32_runs", np.float32),
                                         ("float64_runs", np.float64)])
def test_the_generator_gives_torchs_initial_weights_exactly(runs, dtype, request):
    theirs, ours = request.getfixturevalue(runs)
    for a, b in zip(ours["initial"], theirs["initial"]):
        assert a.dtype == b.dtype == dtype
        assert_torchs_values(a, b)


def test_float32_losses_are_torchs(float32_runs):
    """Same minibatches (torch.randint on the global stream), same float32 arithmetic up to the
    rounding order of a product: 1e-5 relative over the first 25 steps."""
    theirs, ours = float32_runs
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-5)
    assert ours["dev_loss"] == pytest.approx(theirs["dev_loss"], rel=1e-5)
    assert ours["names"] == theirs["names"]


def test_float64_losses_weights_and_samples_are_torchs(float64_runs):
    """A name could only differ if two of the 27 ratios p/E that multinomial compares were
    within rounding of each other."""
    theirs, ours = float64_runs
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-9)
    assert ours["dev_loss"] == pytest.approx(theirs["dev_loss"], rel=1e-9)
    for a, b in zip(ours["final"], theirs["final"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert ours["names"] == theirs["names"]
