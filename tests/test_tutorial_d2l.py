"""d2l.ai (Dive into Deep Learning, PyTorch edition 0.17), chapters 3.2, 3.3, 3.6, 3.7, 4.2, 4.3,
4.5 and 4.6: linear regression from scratch and concise, softmax regression from scratch and
concise, the MLP from scratch and concise, weight decay (scratch and concise) and dropout
(scratch and ``nn.Dropout``). Each chapter's code is written once against a ``torch`` module
(with ``d2l``'s helpers built from that same module, as ``d2l/torch.py`` defines them) and run
with torch and with steepest in its place.

The bundled 8x8 digits (64 features, 1500 to train, 297 to test) replace Fashion-MNIST, so
``784`` becomes ``64``, and ``num_epochs`` is cut (the numbers below). The random initial
weights, the synthetic data, the DataLoader's shuffling and the dropout masks all come from
each library's own generator after one ``manual_seed``; ``data_iter``'s ``random.shuffle`` is
Python's, seeded the same for both. Plotting (``Animator``) is replaced by a list of the
numbers it would plot; ``train_ch3``'s closing asserts become the test's checks.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import steepest as st
from steepest.data import load_digits

N_TRAIN = 1500
EPOCHS_CH3 = 3          # the book's 10 epochs of Fashion-MNIST; 3 of 6 digit batches suffice
EPOCHS_WEIGHT_DECAY = 20  # the book's 100


def make_d2l(torch):
    """The helpers of ``d2l/torch.py`` the chapters call, on the given module."""
    d2l = SimpleNamespace(normal=torch.normal, matmul=torch.matmul, tensor=torch.tensor,
                          exp=torch.exp, log=torch.log, ones=torch.ones, zeros=torch.zeros,
                          reshape=lambda x, *args, **kwargs: x.reshape(*args, **kwargs),
                          reduce_sum=lambda x, *args, **kwargs: x.sum(*args, **kwargs),
                          argmax=lambda x, *args, **kwargs: x.argmax(*args, **kwargs),
                          astype=lambda x, *args, **kwargs: x.type(*args, **kwargs),
                          size=lambda x, *args, **kwargs: x.numel(*args, **kwargs))
    data = torch.utils.data

    def synthetic_data(w, b, num_examples):
        """Generate y = Xw + b + noise."""
        X = d2l.normal(0, 1, (num_examples, len(w)))
        y = d2l.matmul(X, w) + b
        y += d2l.normal(0, 0.01, y.shape)
        return X, d2l.reshape(y, (-1, 1))

    def linreg(X, w, b):
        return d2l.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - d2l.reshape(y, y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    def load_data_digits(batch_size):
        """``load_data_fashion_mnist`` with the bundled digits."""
        dtype = np.float64 if torch.get_default_dtype() == torch.float64 else np.float32
        X, y = load_digits()
        X = torch.tensor(X.astype(dtype))
        y = torch.tensor(y)
        return (load_array((X[:N_TRAIN], y[:N_TRAIN]), batch_size),
                load_array((X[N_TRAIN:], y[N_TRAIN:]), batch_size, is_train=False))

    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = d2l.argmax(y_hat, axis=1)
        cmp = d2l.astype(y_hat, y.dtype) == y
        return float(d2l.reduce_sum(d2l.astype(cmp, y.dtype)))

    class Accumulator:
        def __init__(self, n):
            self.data = [0.0] * n

        def add(self, *args):
            self.data = [a + float(b) for a, b in zip(self.data, args)]

        def __getitem__(self, idx):
            return self.data[idx]

    def evaluate_accuracy(net, data_iter):
        if isinstance(net, torch.nn.Module):
            net.eval()
        metric = Accumulator(2)
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), d2l.size(y))
        return metric[0] / metric[1]

    def train_epoch_ch3(net, train_iter, loss, updater):
        if isinstance(net, torch.nn.Module):
            net.train()
        metric = Accumulator(3)
        for X, y in train_iter:
            y_hat = net(X)
            l = loss(y_hat, y)
            if isinstance(updater, torch.optim.Optimizer):
                updater.zero_grad()
                l.backward()
                updater.step()
                metric.add(float(l) * len(y), accuracy(y_hat, y),
                           y.size().numel())
            else:
                l.sum().backward()
                updater(X.shape[0])
                metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
        return metric[0] / metric[2], metric[1] / metric[2]

    def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
        """Returns what the Animator plots: (train loss, train acc, test acc) per epoch."""
        history = []
        for epoch in range(num_epochs):
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            history.append(train_metrics + (test_acc,))
        return history

    def evaluate_loss(net, data_iter, loss):
        metric = Accumulator(2)
        for X, y in data_iter:
            out = net(X)
            y = d2l.reshape(y, out.shape)
            l = loss(out, y)
            metric.add(d2l.reduce_sum(l), d2l.size(l))
        return metric[0] / metric[1]

    for helper in (synthetic_data, linreg, squared_loss, sgd, load_array, load_data_digits,
                   accuracy, Accumulator, evaluate_accuracy, train_epoch_ch3, train_ch3,
                   evaluate_loss):
        setattr(d2l, helper.__name__, helper)
    return d2l


# ------------------------------------------------------------------------------ chapter 3
def linear_regression_scratch(torch, d2l):
    """3.2"""
    true_w = d2l.tensor([2, -3.4])
    true_b = 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 1000)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = d2l.tensor(
                indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    batch_size = 10
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr = 0.03
    num_epochs = 3
    net = d2l.linreg
    loss = d2l.squared_loss
    losses = []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)
            l.sum().backward()
            d2l.sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            losses.append(float(train_l.mean()))
    return {"losses": losses, "w": w, "b": b}


def linear_regression_concise(torch, d2l):
    """3.3"""
    nn = torch.nn
    true_w = d2l.tensor([2, -3.4])
    true_b = 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 1000)
    batch_size = 10
    data_iter = d2l.load_array((features, labels), batch_size)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    num_epochs = 3
    printed = []
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        printed.append(f'epoch {epoch + 1}, loss {l:f}')
    w = net[0].weight.data
    b = net[0].bias.data
    return {"printed": printed, "w": w, "b": b}


def softmax_regression_scratch(torch, d2l):
    """3.6"""
    batch_size = 256
    train_iter, test_iter = d2l.load_data_digits(batch_size)
    num_inputs = 64
    num_outputs = 10
    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)

    def softmax(X):
        X_exp = d2l.exp(X)
        partition = d2l.reduce_sum(X_exp, 1, keepdim=True)
        return X_exp / partition

    X = d2l.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    sums = [d2l.reduce_sum(X, 0, keepdim=True), d2l.reduce_sum(X, 1, keepdim=True)]
    X = d2l.normal(0, 1, (2, 5))
    X_prob = softmax(X)
    demo = sums + [X_prob, d2l.reduce_sum(X_prob, 1)]

    def net(X):
        return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)

    y = d2l.tensor([0, 2])
    y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    demo.append(y_hat[[0, 1], y])

    def cross_entropy(y_hat, y):
        return - d2l.log(y_hat[range(len(y_hat)), y])

    demo += [cross_entropy(y_hat, y), d2l.accuracy(y_hat, y) / len(y),
             d2l.evaluate_accuracy(net, test_iter)]
    lr = 0.1

    def updater(batch_size):
        return d2l.sgd([W, b], lr, batch_size)

    history = d2l.train_ch3(net, train_iter, test_iter, cross_entropy, EPOCHS_CH3, updater)
    return {"demo": demo, "history": history, "W": W, "b": b}


def softmax_regression_concise(torch, d2l):
    """3.7"""
    nn = torch.nn
    batch_size = 256
    train_iter, test_iter = d2l.load_data_digits(batch_size)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    history = d2l.train_ch3(net, train_iter, test_iter, loss, EPOCHS_CH3, trainer)
    return {"history": history, "weight": net[1].weight}


# ------------------------------------------------------------------------------ chapter 4
def mlp_scratch(torch, d2l):
    """4.2"""
    nn = torch.nn
    batch_size = 256
    train_iter, test_iter = d2l.load_data_digits(batch_size)
    num_inputs, num_outputs, num_hiddens = 64, 10, 256
    W1 = nn.Parameter(torch.randn(
        num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(
        num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))
    params = [W1, b1, W2, b2]

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    def net(X):
        X = d2l.reshape(X, (-1, num_inputs))
        H = relu(X@W1 + b1)
        return (H@W2 + b2)

    loss = nn.CrossEntropyLoss()
    num_epochs, lr = EPOCHS_CH3, 0.1
    updater = torch.optim.SGD(params, lr=lr)
    history = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)
    return {"history": history, "W1": W1, "W2": W2}


def mlp_concise(torch, d2l):
    """4.3"""
    nn = torch.nn
    net = nn.Sequential(nn.Flatten(),
                        nn.Linear(64, 256),
                        nn.ReLU(),
                        nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    batch_size, lr, num_epochs = 256, 0.1, EPOCHS_CH3
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    train_iter, test_iter = d2l.load_data_digits(batch_size)
    history = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    return {"history": history, "state": list(net.state_dict().values())}


def weight_decay(torch, d2l):
    """4.5, from scratch (``l2_penalty``) and concise (``weight_decay`` in a parameter group)."""
    nn = torch.nn
    n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
    true_w, true_b = d2l.ones((num_inputs, 1)) * 0.01, 0.05
    train_data = d2l.synthetic_data(true_w, true_b, n_train)
    train_iter = d2l.load_array(train_data, batch_size)
    test_data = d2l.synthetic_data(true_w, true_b, n_test)
    test_iter = d2l.load_array(test_data, batch_size, is_train=False)

    def init_params():
        w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        return [w, b]

    def l2_penalty(w):
        return torch.sum(w.pow(2)) / 2

    def train(lambd):
        w, b = init_params()
        net, loss = lambda X: d2l.linreg(X, w, b), d2l.squared_loss
        num_epochs, lr = EPOCHS_WEIGHT_DECAY, 0.003
        curve = []
        for epoch in range(num_epochs):
            for X, y in train_iter:
                with torch.enable_grad():
                    l = loss(net(X), y) + lambd * l2_penalty(w)
                l.sum().backward()
                d2l.sgd([w, b], lr, batch_size)
            if (epoch + 1) % 5 == 0:
                curve.append((d2l.evaluate_loss(net, train_iter, loss),
                              d2l.evaluate_loss(net, test_iter, loss)))
        return curve, torch.norm(w).item()

    def train_concise(wd):
        net = nn.Sequential(nn.Linear(num_inputs, 1))
        for param in net.parameters():
            param.data.normal_()
        loss = nn.MSELoss()
        num_epochs, lr = EPOCHS_WEIGHT_DECAY, 0.003
        trainer = torch.optim.SGD([
            {"params": net[0].weight, 'weight_decay': wd},
            {"params": net[0].bias}], lr=lr)
        curve = []
        for epoch in range(num_epochs):
            for X, y in train_iter:
                with torch.enable_grad():
                    trainer.zero_grad()
                    l = loss(net(X), y)
                l.backward()
                trainer.step()
            if (epoch + 1) % 5 == 0:
                curve.append((d2l.evaluate_loss(net, train_iter, loss),
                              d2l.evaluate_loss(net, test_iter, loss)))
        return curve, net[0].weight.norm().item()

    return {"scratch 0": train(lambd=0), "scratch 3": train(lambd=3),
            "concise 0": train_concise(0), "concise 3": train_concise(3)}


def dropout(torch, d2l):
    """4.6, from scratch (``dropout_layer`` on ``torch.Tensor(shape).uniform_``) and with
    ``nn.Dropout``."""
    nn = torch.nn

    def dropout_layer(X, dropout):
        assert 0 <= dropout <= 1
        if dropout == 1:
            return torch.zeros_like(X)
        if dropout == 0:
            return X
        mask = (torch.Tensor(X.shape).uniform_(0, 1) > dropout).float()
        return mask * X / (1.0 - dropout)

    X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
    examples = [dropout_layer(X, 0.), dropout_layer(X, 0.5), dropout_layer(X, 1.)]

    num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 64, 10, 256, 256
    dropout1, dropout2 = 0.2, 0.5

    class Net(nn.Module):
        def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2,
                     is_training=True):
            super(Net, self).__init__()
            self.num_inputs = num_inputs
            self.training = is_training
            self.lin1 = nn.Linear(num_inputs, num_hiddens1)
            self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
            self.lin3 = nn.Linear(num_hiddens2, num_outputs)
            self.relu = nn.ReLU()

        def forward(self, X):
            H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
            if self.training == True:  # noqa: E712 (the book's line)
                H1 = dropout_layer(H1, dropout1)
            H2 = self.relu(self.lin2(H1))
            if self.training == True:  # noqa: E712
                H2 = dropout_layer(H2, dropout2)
            out = self.lin3(H2)
            return out

    net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)
    num_epochs, lr, batch_size = EPOCHS_CH3, 0.5, 256
    loss = nn.CrossEntropyLoss()
    train_iter, test_iter = d2l.load_data_digits(batch_size)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    scratch = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)

    net = nn.Sequential(nn.Flatten(),
                        nn.Linear(64, 256),
                        nn.ReLU(),
                        nn.Dropout(dropout1),
                        nn.Linear(256, 256),
                        nn.ReLU(),
                        nn.Dropout(dropout2),
                        nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    concise = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    return {"examples": examples, "scratch": scratch, "concise": concise,
            "state": list(net.state_dict().values())}


CHAPTERS = {"3.2": linear_regression_scratch, "3.3": linear_regression_concise,
            "3.6": softmax_regression_scratch, "3.7": softmax_regression_concise,
            "4.2": mlp_scratch, "4.3": mlp_concise, "4.5": weight_decay, "4.6": dropout}


def run(chapter, torch_module):
    torch_module.manual_seed(0)
    random.seed(0)
    return CHAPTERS[chapter](torch_module, make_d2l(torch_module))


def _numbers(value) -> np.ndarray:
    """A chapter's result (numbers, tuples, tensors, printed lines) as a flat float64 array."""
    if isinstance(value, dict):
        return np.concatenate([_numbers(v) for v in value.values()])
    if isinstance(value, (list, tuple)):
        return np.concatenate([_numbers(v) for v in value] or [np.zeros(0)])
    if isinstance(value, str):
        return np.array([float(word) for word in value.replace(",", " ").split()
                         if word.replace(".", "").replace("-", "").isdigit()])
    if isinstance(value, (torch.Tensor, st.Tensor)):
        value = value.detach().numpy()
    return np.ravel(np.asarray(value, dtype=np.float64))


@pytest.fixture(scope="module", params=["float64", "float32"])
def dtype(request):
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(getattr(torch, request.param))
    torch.set_num_threads(1)  # small matrices: threads only add contention on a small machine
    with st.default_dtype(getattr(st, request.param)), threadpool_limits(1, user_api="blas"):
        yield request.param
    torch.set_default_dtype(previous)
    torch.set_num_threads(threads)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_chapter_gives_torchs_numbers(chapter, dtype):
    theirs, ours = run(chapter, torch), run(chapter, st)
    rtol = 1e-9 if dtype == "float64" else 1e-5
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = _numbers(ours[key]), _numbers(theirs[key])
        assert a.shape == b.shape, key
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2, err_msg=key)


# ------------------------------------------------- the surface the chapters need, against torch
def test_size_is_a_tuple_with_numel_as_torchs():
    """``y.size().numel()`` (train_epoch_ch3) and ``y.shape`` as a ``Size``."""
    x = np.zeros((3, 4, 5))
    ours, theirs = st.tensor(x), torch.tensor(x)
    for a, b in ((ours.size(), theirs.size()), (ours.shape, theirs.shape),
                 (ours[0].shape, theirs[0].shape), (ours.sum().shape, theirs.sum().shape)):
        assert isinstance(a, st.Size) and isinstance(a, tuple)
        assert a == tuple(b) and a.numel() == b.numel()
    assert ours.size(1) == theirs.size(1) == 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tensor_of_a_size_is_a_new_tensor_of_that_shape(dtype):
    """``torch.Tensor(X.shape).uniform_(0, 1)`` (dropout_layer): a float tensor of the default
    dtype and that shape (torch leaves it uninitialized; steepest fills zeros)."""
    x = np.zeros((2, 8), dtype=dtype)
    with st.default_dtype(getattr(st, dtype)):
        ours = st.Tensor(st.tensor(x).shape)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        theirs = torch.Tensor(torch.tensor(x).shape)
    finally:
        torch.set_default_dtype(previous)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(st.Tensor(st.Size((3,))).numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(st.Tensor([3, 4]).numpy(), [3, 4])   # data stays data
