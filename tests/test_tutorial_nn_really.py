"""PyTorch's tutorial "What is torch.nn really?" (Jeremy Howard), every MLP stage, written once
against a ``torch`` module and run with torch and with steepest in its place.

The stages follow the tutorial's order and code: the logistic model from scratch (hand-written
``log_softmax`` and ``nll``, ``weights.grad.zero_()`` under ``no_grad``), then
``F.cross_entropy``, an ``nn.Module`` with ``nn.Parameter``, ``nn.Linear``, ``optim.SGD``,
``TensorDataset``, ``DataLoader``, the validation loop with ``shuffle=True``, and finally
``loss_batch``/``fit``/``get_data``. The bundled 8x8 digits (64 features) stand in for MNIST
(784), so ``784`` becomes ``64``; everything random (``randn`` weights, ``nn.Linear``'s init,
the DataLoader's shuffling) comes from each library's own generator after one
``manual_seed`` at the start. The CNN stages are left out (steepest has no convolutions).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import steepest as st
from steepest.data import load_digits

N_TRAIN = 1500


def nn_really(torch):
    """The tutorial's program; returns every stage's printed numbers and final weights."""
    torch.manual_seed(0)
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    dtype = np.float64 if torch.get_default_dtype() == torch.float64 else np.float32
    X, y = load_digits()
    x_train, y_train, x_valid, y_valid = (X[:N_TRAIN].astype(dtype), y[:N_TRAIN],
                                          X[N_TRAIN:].astype(dtype), y[N_TRAIN:])
    out = {}

    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    n, c = x_train.shape

    # Neural net from scratch (no torch.nn)
    weights = torch.randn(64, 10) / math.sqrt(64)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    bs = 64
    xb = x_train[0:bs]
    preds = model(xb)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll
    yb = y_train[0:bs]

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    out["initial"] = (loss_func(preds, yb).item(), accuracy(preds, yb).item())

    lr = 0.5
    epochs = 2
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    out["scratch"] = (loss_func(model(xb), yb).item(), accuracy(model(xb), yb).item())
    out["scratch weights"] = weights.detach().numpy().copy()

    # Using torch.nn.functional
    loss_func = F.cross_entropy

    def model(xb):
        return xb @ weights + bias

    out["functional"] = (loss_func(model(xb), yb).item(), accuracy(model(xb), yb).item())

    # Refactor using nn.Module
    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.randn(64, 10) / math.sqrt(64))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    model = Mnist_Logistic()

    def fit():
        for epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                end_i = start_i + bs
                xb = x_train[start_i:end_i]
                yb = y_train[start_i:end_i]
                pred = model(xb)
                loss = loss_func(pred, yb)

                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()

    fit()
    out["module"] = loss_func(model(xb), yb).item()

    # Refactor using nn.Linear
    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 10)

        def forward(self, xb):
            return self.lin(xb)

    model = Mnist_Logistic()
    out["linear initial"] = loss_func(model(xb), yb).item()
    fit()
    out["linear"] = loss_func(model(xb), yb).item()

    # Refactor using optim
    def get_model():
        model = Mnist_Logistic()
        return model, optim.SGD(model.parameters(), lr=lr)

    model, opt = get_model()
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    out["optim"] = loss_func(model(xb), yb).item()

    # Refactor using Dataset
    train_ds = TensorDataset(x_train, y_train)
    model, opt = get_model()
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs: i * bs + bs]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    out["dataset"] = loss_func(model(xb), yb).item()

    # Refactor using DataLoader
    train_dl = DataLoader(train_ds, batch_size=bs)
    model, opt = get_model()
    for epoch in range(epochs):
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    out["dataloader"] = loss_func(model(xb), yb).item()

    # Add validation
    train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True)
    valid_ds = TensorDataset(x_valid, y_valid)
    valid_dl = DataLoader(valid_ds, batch_size=bs * 2)
    model, opt = get_model()
    out["validation"] = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)
        out["validation"].append((valid_loss / len(valid_dl)).item())

    # Create fit() and get_data()
    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)

        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()

        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        val_losses = []
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)

            model.eval()
            with torch.no_grad():
                losses, nums = zip(
                    *[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl]
                )
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            val_losses.append(val_loss)
        return val_losses

    def get_data(train_ds, valid_ds, bs):
        return (
            DataLoader(train_ds, batch_size=bs, shuffle=True),
            DataLoader(valid_ds, batch_size=bs * 2),
        )

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    model, opt = get_model()
    out["fit"] = fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    out["fit weights"] = [p.detach().numpy().copy() for p in model.parameters()]
    return out


def _run(torch_dtype, st_dtype):
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch_dtype)
    torch.set_num_threads(1)   # 64-feature batches: threads only add contention
    try:
        theirs = nn_really(torch)
    finally:
        torch.set_default_dtype(previous)
        torch.set_num_threads(threads)
    with st.default_dtype(st_dtype), threadpool_limits(1, user_api="blas"):
        ours = nn_really(st)
    return theirs, ours


@pytest.fixture(scope="module")
def float64_runs():
    return _run(torch.float64, st.float64)


@pytest.fixture(scope="module")
def float32_runs():
    """torch's default dtype and MNIST's float32 pixels: 24 steps an epoch at lr 0.5 on a
    convex loss, so rounding differences do not grow."""
    return _run(torch.float32, st.float32)


def _numbers(value) -> np.ndarray:
    """One stage's result (a number, a tuple of numbers, arrays) as one flat float64 array."""
    parts = value if isinstance(value, (list, tuple)) else [value]
    return np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in parts])


@pytest.mark.parametrize("runs, rtol", [("float64_runs", 1e-9), ("float32_runs", 1e-5)])
def test_every_stage_gives_torchs_numbers(runs, rtol, request):
    theirs, ours = request.getfixturevalue(runs)
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_allclose(_numbers(ours[key]), _numbers(theirs[key]),
                                   rtol=rtol, atol=rtol * 1e-3, err_msg=key)


def test_the_stages_learn(float64_runs):
    """Not only equal but meaningful: every refactoring trains the digits classifier."""
    _, ours = float64_runs
    assert ours["initial"][0] > 2.0
    assert ours["scratch"][0] < 0.6 and ours["scratch"][1] > 0.85
    assert ours["fit"][1] < ours["fit"][0] < 1.5
    assert ours["fit weights"][0].shape == (10, 64)
