"""Flat storage in the optimizers: the same bits as the per-parameter path, whatever users do.

Every comparison here is ``np.array_equal`` on purpose: the flat path and the per-parameter
path run the same elementwise ufuncs (+, −, ×, ÷, √, max, each correctly rounded) on the same
numbers in the same order on the same machine, only over one long array instead of several
short ones, so any difference at all would be a bug, not rounding. Agreement with torch is
tested, with tolerances, in test_optim.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import steepest as st
from steepest import optim
from steepest.training.checkpoint import load_checkpoint, save_checkpoint

CONFIGS = [
    ("GD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9))),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
]
IDS = [name + "-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]

X = np.random.default_rng(5).standard_normal((16, 3))
Y = np.random.default_rng(6).standard_normal((16, 2))


def make_model(dtype=np.float64, sizes=(3, 40, 25, 2)):
    return st.nn.mlp(list(sizes), activation="tanh", dtype=dtype,
                     generator=np.random.default_rng(1))


def loss_of(model):
    x = X.astype(model[0].weight.dtype)
    return st.losses.mse(model(st.tensor(x)), Y.astype(x.dtype))


def train(model, opt, steps, before_step=None):
    for step in range(steps):
        opt.zero_grad()
        loss_of(model).backward()
        if before_step is not None:
            before_step(step, model, opt)
        opt.step()
    return model


def make_optimizer(name, params, flat, **kwargs):
    """``flat=False``: the per-parameter path from the start (the parameters keep their own
    arrays), as with ``flat_storage = False`` on the class when the optimizer is made."""
    previous = optim.Optimizer.flat_storage
    optim.Optimizer.flat_storage = flat
    try:
        return getattr(optim, name)(params, **kwargs)
    finally:
        optim.Optimizer.flat_storage = previous


def pair(name, kwargs, dtype=np.float64, **model_kw):
    """A flat and a per-parameter optimizer on two copies of the same model."""
    runs = []
    for flat in (True, False):
        model = make_model(dtype, **model_kw)
        runs.append((model, make_optimizer(name, model.parameters(), flat, **kwargs)))
    return runs


def assert_same_bits(model_a, opt_a, model_b, opt_b):
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for index, state in sa["state"].items():
        assert state.keys() == sb["state"][index].keys()
        for key, value in state.items():
            other = sb["state"][index][key]
            if isinstance(value, np.ndarray):
                assert type(other) is np.ndarray and np.array_equal(value, other), key
            else:
                assert value == other, key


def uses_one_buffer(model):
    """Whether every parameter's data is a view into one common flat buffer."""
    bases = [p.data.base for p in model.parameters()]
    return bases[0] is not None and all(base is bases[0] for base in bases)


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_flat_updates_are_bit_identical_to_per_parameter_updates(name, kwargs, dtype):
    (model_a, opt_a), (model_b, opt_b) = pair(name, kwargs, dtype)
    train(model_a, opt_a, 7)
    train(model_b, opt_b, 7)
    assert uses_one_buffer(model_a) and not uses_one_buffer(model_b)
    assert_same_bits(model_a, opt_a, model_b, opt_b)


def test_a_group_larger_than_one_cache_block_is_bit_identical():
    sizes = (3, 300, 200, 2)  # 61k parameters: the flat buffer runs in several blocks
    (model_a, opt_a), (model_b, opt_b) = pair("Adam", dict(lr=1e-3, amsgrad=True), sizes=sizes)
    train(model_a, opt_a, 3)
    train(model_b, opt_b, 3)
    assert_same_bits(model_a, opt_a, model_b, opt_b)


def test_state_arrays_are_views_of_one_buffer_and_stay_so():
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    arrays = [p.data for p in model.parameters()]
    train(model, opt, 2)
    first = [opt.state[p]["exp_avg"] for p in model.parameters()]
    train(model, opt, 2)
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))
    assert all(opt.state[p]["exp_avg"] is a for p, a in zip(model.parameters(), first))
    assert len({id(a.base) for a in first}) == 1 and first[0].base is not None
    assert all(opt.state[p]["step"] == 4 for p in model.parameters())


def test_rebinding_data_is_detected_and_used():
    def rebind(step, model, opt):
        if step == 3:  # the user replaces a weight's array (fresh values, same shape)
            layer = model[2]
            layer.weight.data = np.full_like(layer.weight.data, 0.01)

    (model_a, opt_a), (model_b, opt_b) = pair("Adam", dict(lr=0.01))
    train(model_a, opt_a, 6, rebind)
    train(model_b, opt_b, 6, rebind)
    assert_same_bits(model_a, opt_a, model_b, opt_b)
    assert uses_one_buffer(model_a)  # re-flattened after the rebind


@pytest.mark.parametrize("name, kwargs", [("Adam", dict(lr=0.01)),
                                          ("SGD", dict(lr=0.05, momentum=0.9))])
def test_frozen_and_gradless_parameters_are_skipped_as_in_torch(name, kwargs):
    def freeze(step, model, opt):
        # weight 0 frozen for the steps 2, 3 and 4 (at 4 its backward ran while frozen)
        if step == 2:
            model[0].weight.requires_grad_(False)
        if step == 4:
            model[0].weight.requires_grad_(True)
        if step in (5, 6):
            model[2].bias.grad = None  # as if unused in this step's loss

    (model_a, opt_a), (model_b, opt_b) = pair(name, kwargs)
    train(model_a, opt_a, 8, freeze)
    train(model_b, opt_b, 8, freeze)
    assert_same_bits(model_a, opt_a, model_b, opt_b)
    if name == "Adam":  # skipped steps are not counted, as in torch
        assert opt_a.state[model_a[0].weight]["step"] == 5
        assert opt_a.state[model_a[2].bias]["step"] == 6
        assert opt_a.state[model_a[0].bias]["step"] == 8


def test_freezing_after_the_optimizer_is_made_gets_a_bucket_of_its_own():
    (model_a, opt_a), (model_b, opt_b) = pair("Adam", dict(lr=0.01))
    for model in (model_a, model_b):
        model[2].weight.requires_grad_(False)
    train(model_a, opt_a, 5)
    train(model_b, opt_b, 5)
    assert_same_bits(model_a, opt_a, model_b, opt_b)
    trainable = [p for p in model_a.parameters() if p.requires_grad]
    assert len({id(p.data.base) for p in trainable}) == 1  # one buffer again, without it
    assert model_a[2].weight.data.base is not trainable[0].data.base


def test_frozen_parameter_does_not_move():
    model = make_model()
    model[0].weight.requires_grad_(False)
    opt = optim.Adam(model.parameters(), lr=0.1)
    before = model[0].weight.data.copy()
    train(model, opt, 3)
    assert np.array_equal(model[0].weight.data, before)
    assert model[0].weight not in opt.state


def test_add_param_group_later():
    runs = []
    for flat in (True, False):
        model = make_model()
        opt = make_optimizer("Adam", [model[0].weight, model[0].bias], flat, lr=0.01)

        def add_group(step, model, opt):
            if step == 3:
                opt.add_param_group({"params": list(model[2].parameters())
                                     + list(model[4].parameters()), "lr": 0.003})

        train(model, opt, 7, add_group)
        runs.append((model, opt))
    assert_same_bits(*runs[0], *runs[1])
    assert runs[0][0][4].weight.data.base is runs[0][0][2].bias.data.base


def test_mixed_dtypes_in_one_group():
    runs = []
    for flat in (True, False):
        a = st.nn.Parameter(np.linspace(-1, 1, 6).reshape(2, 3))
        b = st.nn.Parameter(np.linspace(0, 2, 4, dtype=np.float32))
        c = st.nn.Parameter(np.array([0.5, -0.25]))
        d = st.nn.Parameter(np.array([[1.5]], dtype=np.float32))
        opt = make_optimizer("Adam", [a, b, c, d], flat, lr=0.1, weight_decay=0.01)
        for _ in range(5):
            opt.zero_grad()
            (st.ops.sum(a * a) + st.ops.sum(b * b * b) + st.ops.sum(c * a[0, :2])
             + st.ops.sum(d * d)).backward()
            opt.step()
        runs.append((a, b, c, d, opt))
    for p, q in zip(runs[0][:4], runs[1][:4]):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data)
    a, b, c, d, flat_opt = runs[0]
    assert a.data.base is c.data.base and b.data.base is d.data.base  # one buffer per dtype
    assert a.dtype == np.float64 and b.dtype == np.float32
    assert flat_opt.state[b]["exp_avg"].dtype == np.float32


def test_gradients_set_by_hand_each_step():
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(p.shape) for p in make_model().parameters()]
             for _ in range(4)]
    runs = []
    for flat in (True, False):
        model = make_model()
        opt = make_optimizer("SGD", model.parameters(), flat, lr=0.1, momentum=0.9)
        for step_grads in grads:
            for p, g in zip(model.parameters(), step_grads):
                p.grad = g.copy()  # a fresh array each step, not a view of anything
            opt.step()
        runs.append((model, opt))
    assert_same_bits(*runs[0], *runs[1])
    assert np.array_equal(runs[0][0][0].weight.grad, grads[-1][0])  # .grad left alone


def test_state_dict_round_trip_continues_exactly():
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    train(model, opt, 4)
    saved_params = [p.data.copy() for p in model.parameters()]
    saved = opt.state_dict()
    per_param = make_model()
    reference = make_optimizer("Adam", per_param.parameters(), False, lr=0.01, amsgrad=True)
    train(per_param, reference, 4)
    reference_saved = reference.state_dict()
    for index, state in saved["state"].items():  # the saved format does not depend on the path
        for key, value in state.items():
            ref = reference_saved["state"][index][key]
            assert (np.array_equal(value, ref) and value.base is None
                    if isinstance(value, np.ndarray) else value == ref)
    train(model, opt, 3)

    resumed = make_model()
    for p, values in zip(resumed.parameters(), saved_params):
        p.data[...] = values
    resumed_opt = optim.Adam(resumed.parameters(), lr=0.01, amsgrad=True)
    resumed_opt.load_state_dict(saved)
    train(resumed, resumed_opt, 3)
    assert_same_bits(model, opt, resumed, resumed_opt)
    assert uses_one_buffer(resumed)
    assert resumed_opt.state[resumed[0].weight]["exp_avg"].base is \
        resumed_opt.state[resumed[4].bias]["exp_avg"].base  # gathered back into one buffer


def test_resuming_from_a_checkpoint(tmp_path):
    model = make_model(np.float32)
    opt = optim.AdamW(model.parameters(), lr=0.01)
    train(model, opt, 3)
    save_checkpoint(tmp_path / "run.ckpt", model, opt, epoch=3)
    train(model, opt, 4)

    resumed = make_model(np.float32)
    resumed_opt = optim.AdamW(resumed.parameters(), lr=0.01)
    train(resumed, resumed_opt, 1)  # state that the load must replace
    load_checkpoint(tmp_path / "run.ckpt", resumed, resumed_opt)
    train(resumed, resumed_opt, 4)
    assert_same_bits(model, opt, resumed, resumed_opt)


def test_one_parameter_and_single_parameter_groups_work():
    p = st.nn.Parameter(np.array([3.0, -1.0]))
    q = st.nn.Parameter(np.array([3.0, -1.0]))
    opt_p = optim.Adam([p], lr=0.1)
    opt_q = make_optimizer("Adam", [q], False, lr=0.1)
    for _ in range(3):
        for param, opt in ((p, opt_p), (q, opt_q)):
            opt.zero_grad()
            st.ops.sum(param * param).backward()
            opt.step()
    assert np.array_equal(p.data, q.data)
