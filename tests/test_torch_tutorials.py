"""PyTorch's own tutorial programs, written once and run twice: with ``torch`` and with steepest
standing in for it. Same final weights and losses (float64, 1e-9) and the same accuracy.

The programs follow "Learning PyTorch with Examples" (polynomial fits of sin(x): tensors with
a hand-written backward, autograd with manual ``-=`` updates under no_grad, nn with
``MSELoss(reduction='sum')`` and ``Flatten(0, 1)``, optim with RMSprop, a custom
``nn.Module``, the dynamic net) and the "Quickstart" train/test loop (DataLoader,
CrossEntropyLoss, SGD, ``argmax(1) == y``, save/load and predict), line for line. Only what
cannot be equal across libraries is made explicit: the random initial values are passed in,
Python's ``random`` draws come from a seeded ``random.Random``, the bundled 8x8 digits replace
FashionMNIST, and loops are shorter.
"""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
import torch

import steepest as st

TOL = {"rtol": 1e-9, "atol": 1e-12}
STEPS = 2000
# RMSprop divides each step by the running RMS of its gradient: once the bias's gradient
# (a sum of 2000 residuals) passes through zero, near step 800, the last-bit difference
# between two summation orders becomes a different step (relative 1e-15 -> 1e-5 at once).
# Up to there the two runs agree to 1e-15, so the RMSprop program is compared up to there.
RMSPROP_STEPS = 700
INIT = dict(zip("abcde", np.random.default_rng(0).normal(size=5)))


@pytest.fixture
def torch_float64():
    """The programs use the default dtype; float64 in both libraries makes the two runs
    comparable to 1e-9."""
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)   # 2000-element ops: threads only add contention on small machines
    with st.default_dtype(st.float64):
        yield
    torch.set_default_dtype(previous)
    torch.set_num_threads(threads)


def both(program, *args):
    """Run ``program`` with torch and with steepest as its torch module."""
    return program(torch, *args), program(st, *args)


def _numpy(value):
    return value.detach().numpy() if isinstance(value, (torch.Tensor, st.Tensor)) \
        else np.asarray(value)


def assert_same_state(torch_state: dict, st_state: dict):
    assert list(torch_state) == list(st_state)
    for key in torch_state:
        np.testing.assert_allclose(_numpy(st_state[key]), _numpy(torch_state[key]), **TOL,
                                   err_msg=key)


# ----------------------------------------------------------------- Learning PyTorch with Examples
def polynomial_tensors(torch):
    dtype = torch.float64
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.tensor(INIT["a"], dtype=dtype)
    b = torch.tensor(INIT["b"], dtype=dtype)
    c = torch.tensor(INIT["c"], dtype=dtype)
    d = torch.tensor(INIT["d"], dtype=dtype)

    learning_rate = 1e-6
    losses = []
    for t in range(STEPS):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            losses.append(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    result = f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3'
    return {"a": a, "b": b, "c": c, "d": d}, losses, result


def polynomial_autograd(torch):
    dtype = torch.float64
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.tensor(INIT["a"], dtype=dtype, requires_grad=True)
    b = torch.tensor(INIT["b"], dtype=dtype, requires_grad=True)
    c = torch.tensor(INIT["c"], dtype=dtype, requires_grad=True)
    d = torch.tensor(INIT["d"], dtype=dtype, requires_grad=True)

    learning_rate = 1e-6
    losses = []
    for t in range(STEPS):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    result = f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3"
    return {"a": a, "b": b, "c": c, "d": d}, losses, result


def _polynomial_nn(torch, optimizer_name: str | None):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )
    model.load_state_dict({"0.weight": torch.tensor([[INIT["b"], INIT["c"], INIT["d"]]]),
                           "0.bias": torch.tensor([INIT["a"]])})
    loss_fn = torch.nn.MSELoss(reduction='sum')
    if optimizer_name == "RMSprop":
        learning_rate = 1e-3
        optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    else:
        learning_rate = 1e-6
    losses = []
    for t in range(RMSPROP_STEPS if optimizer_name == "RMSprop" else STEPS):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            losses.append(loss.item())
        if optimizer_name is None:
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= learning_rate * param.grad
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    linear_layer = model[0]
    result = (f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
              f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    return model.state_dict(), losses, result


def polynomial_nn(torch):
    return _polynomial_nn(torch, None)


def polynomial_optim(torch):
    return _polynomial_nn(torch, "RMSprop")


def polynomial_module(torch):
    class Polynomial3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(INIT["a"]))
            self.b = torch.nn.Parameter(torch.tensor(INIT["b"]))
            self.c = torch.nn.Parameter(torch.tensor(INIT["c"]))
            self.d = torch.nn.Parameter(torch.tensor(INIT["d"]))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return (f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + '
                    f'{self.d.item()} x^3')

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = Polynomial3()
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    losses = []
    for t in range(STEPS):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.state_dict(), losses, f'Result: {model.string()}'


def dynamic_net(torch):
    draws = random.Random(0)

    class DynamicNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(INIT["a"]))
            self.b = torch.nn.Parameter(torch.tensor(INIT["b"]))
            self.c = torch.nn.Parameter(torch.tensor(INIT["c"]))
            self.d = torch.nn.Parameter(torch.tensor(INIT["d"]))
            self.e = torch.nn.Parameter(torch.tensor(INIT["e"]))

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, draws.randint(4, 6)):
                y = y + self.e * x ** exp
            return y

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = DynamicNet()
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    losses = []
    for t in range(STEPS):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.state_dict(), losses, None


@pytest.mark.parametrize("program", [polynomial_tensors, polynomial_autograd, polynomial_nn,
                                     polynomial_optim, polynomial_module, dynamic_net])
def test_learning_pytorch_with_examples(torch_float64, program):
    (torch_state, torch_losses, torch_result), (st_state, st_losses, st_result) = both(program)
    assert_same_state(torch_state, st_state)
    np.testing.assert_allclose(st_losses, torch_losses, **TOL)
    assert st_losses[-1] < 0.5 * st_losses[0]   # it learned, not just agreed
    if torch_result is not None:
        st_numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", st_result)]
        torch_numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", torch_result)]
        assert len(st_numbers) == len(torch_numbers) == 4
        np.testing.assert_allclose(st_numbers, torch_numbers, **TOL)


# ----------------------------------------------------------------- Quickstart
def _digits_split():
    X, y = st.data.load_digits()
    images = X.reshape(-1, 1, 8, 8)
    return (images[:1400], y[:1400]), (images[1400:], y[1400:])


def _initial_state():
    model = st.nn.Sequential(st.nn.Linear(64, 32, generator=np.random.default_rng(1)),
                             st.nn.ReLU(),
                             st.nn.Linear(32, 32, generator=np.random.default_rng(2)),
                             st.nn.ReLU(),
                             st.nn.Linear(32, 10, generator=np.random.default_rng(3)))
    return {f"linear_relu_stack.{k}": np.array(v) for k, v in model.state_dict().items()}


def quickstart(torch, nn, DataLoader, TensorDataset, path):
    (X_train, y_train), (X_test, y_test) = _digits_split()
    training_data = TensorDataset(torch.tensor(X_train), torch.tensor(y_train))
    test_data = TensorDataset(torch.tensor(X_test), torch.tensor(y_test))
    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    device = "cpu"
    output = []
    print = output.append

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(8 * 8, 32),
                nn.ReLU(),
                nn.Linear(32, 32),
                nn.ReLU(),
                nn.Linear(32, 10)
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    model.load_state_dict({k: torch.tensor(v) for k, v in _initial_state().items()})
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-1)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 10 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        return test_loss, correct

    epochs = 5
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        test_loss, correct = test(test_dataloader, model, loss_fn)
    print("Done!")

    torch.save(model.state_dict(), path)
    print(f"Saved PyTorch Model State to {path.name}")
    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(path, weights_only=True))
    classes = [str(digit) for digit in range(10)]
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x.unsqueeze(0))
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')
    return model.state_dict(), test_loss, correct, output


def _numbers(line: str) -> list:
    return [float(v) for v in re.findall(r"\d+\.\d+|\d+", line)]


def test_quickstart_train_test_loop(torch_float64, tmp_path):
    import torch.utils.data as tdata
    (tmp_path / "steepest").mkdir()
    (tmp_path / "torch").mkdir()
    ours = quickstart(st, st.nn, st.utils.data.DataLoader, st.utils.data.TensorDataset,
                      tmp_path / "steepest" / "model.pth")
    theirs = quickstart(torch, torch.nn, tdata.DataLoader, tdata.TensorDataset,
                        tmp_path / "torch" / "model.pth")
    assert_same_state(theirs[0], ours[0])
    np.testing.assert_allclose(ours[1], theirs[1], **TOL)           # average test loss
    assert ours[2] == theirs[2] and ours[2] > 0.8                    # accuracy, and it learned
    assert len(ours[3]) == len(theirs[3]) == 5 * (2 + 3) + 3
    assert ours[3][-2:] == theirs[3][-2:]                          # saved, reloaded, predicted
    assert re.fullmatch(r'Predicted: "\d", Actual: "\d"', ours[3][-1])
    for line, expected in zip(ours[3], theirs[3]):
        # the printed text is the same; printed numbers agree to their 6 printed decimals
        assert re.sub(r"\d", "0", line) == re.sub(r"\d", "0", expected)
        np.testing.assert_allclose(_numbers(line), _numbers(expected), rtol=0, atol=2e-6)
