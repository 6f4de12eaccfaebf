"""st.compile: the replayed step equals the eager step bit for bit, re-traces or refuses when
what it traced changes, and keeps its memory flat."""

import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import steepest as st
from steepest.compile import CompileError, compile as st_compile
from steepest.optim import catalogue, lr_scheduler

N_STEPS = 7


def _setup(optimizer="adam", dtype=st.float64, dropout=0.0, scheduler=None, seed=0,
           **options):
    """A small MLP, its optimizer (from the catalogue), an optional scheduler and its step."""
    st.manual_seed(seed)
    layers = [st.nn.Linear(4, 8, dtype=dtype), st.nn.Tanh()]
    if dropout:
        layers.append(st.nn.Dropout(dropout))
    layers += [st.nn.Linear(8, 8, dtype=dtype), st.nn.ReLU(), st.nn.Linear(8, 3, dtype=dtype)]
    model = st.nn.Sequential(*layers)
    opt = catalogue.build_optimizer(optimizer, model.parameters(), **options)
    sched = None if scheduler is None else scheduler(opt)

    def step(x, y):
        opt.zero_grad()
        loss = st.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss
    return model, opt, step


def _batches(dtype, n=N_STEPS, batch=5, seed=1):
    rng = np.random.default_rng(seed)
    return [(st.tensor(rng.standard_normal((batch, 4)), dtype=dtype),
             st.tensor(rng.integers(0, 3, batch))) for _ in range(n)]


def _run(step, batches, seed=7):
    st.manual_seed(seed)  # dropout's masks come from here, in both runs
    np.random.seed(seed)  # and a step's own draws from NumPy's global generator
    return [step(x, y).item() for x, y in batches]


def _params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def _assert_same_bits(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), np.max(np.abs(x - y))


def _compare(make, batches=None, dtype=st.float64, fallback=None):
    """Eager and compiled runs of the same step from the same start: same bits; returns the
    compiled step. ``fallback``: the RuntimeWarning (a regex) with which the compiled step
    falls back to eager; without it, any warning fails."""
    batches = batches or _batches(dtype)
    model_e, _, step_e = make()
    model_c, _, step_c = make()
    compiled = st_compile(step_c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager, or only the expected one
        if fallback is None:
            losses_c = _run(compiled, batches)
        else:
            with pytest.warns(RuntimeWarning, match=fallback):
                losses_c = _run(compiled, batches)
    losses_e = _run(step_e, batches)
    _assert_same_bits(losses_e, losses_c)
    _assert_same_bits(_params(model_e), _params(model_c))
    return compiled


def _replayed(compiled) -> int:
    """How many kinds of call have a verified tape (the replay is in use)."""
    assert compiled.eager_reason is None
    return sum(entry.verified and entry.tape is not None
               for entry in compiled._entries.values())


@pytest.mark.parametrize("dtype", [st.float32, st.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", [name for name, entry in catalogue.OPTIMIZERS.items()
                                  if not entry.cls.needs_closure])  # L-BFGS: refused, below
def test_every_optimizer_with_a_schedule_compiled_equals_eager(name, dtype):
    def make():
        return _setup(name, dtype=dtype,
                      scheduler=lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.5))
    compiled = _compare(make, _batches(dtype), dtype)
    assert _replayed(compiled) == 1
    assert compiled.traces == 2


@pytest.mark.parametrize("dtype", [st.float32, st.float64], ids=["float32", "float64"])
def test_dropout_draws_fresh_masks_in_eager_order(dtype):
    compiled = _compare(lambda: _setup("adam", dtype=dtype, dropout=0.4), _batches(dtype),
                        dtype)
    assert _replayed(compiled) == 1


def test_onecycle_schedule_and_hyperparameters_changed_between_calls_take_effect():
    runs = []
    for compiled in (False, True):
        model, opt, step = _setup("adam", scheduler=lambda o: lr_scheduler.OneCycleLR(
            o, max_lr=0.05, total_steps=20))
        step = st_compile(step) if compiled else step
        st.manual_seed(7)
        losses = []
        for i, (x, y) in enumerate(_batches(st.float64, n=10)):
            if i == 6:  # edited between calls, as a user (or a callback) would
                opt.param_groups[0]["betas"] = (0.8, 0.99)
                opt.param_groups[0]["weight_decay"] = 1e-3
                opt.param_groups[0]["amsgrad"] = True
            losses.append(step(x, y).item())
        runs.append((losses, _params(model), step))
    _assert_same_bits(runs[0][0], runs[1][0])
    _assert_same_bits(runs[0][1], runs[1][1])
    assert _replayed(runs[1][2]) == 1


def test_python_side_effects_inside_the_step_are_caught_and_run_eagerly():
    def make():
        model, opt, step = _setup("adam")

        def editing(x, y):
            loss = step(x, y)
            opt.param_groups[0]["lr"] *= 0.9  # Python state the tape cannot replay
            return loss
        return model, opt, editing
    _compare(make, fallback="differs from the eager one.*'lr'")


def test_a_new_batch_size_retraces():
    batches = _batches(st.float64, n=5, batch=5) + _batches(st.float64, n=5, batch=3, seed=2)
    compiled = _compare(lambda: _setup("sgd", momentum=0.9), batches)
    assert _replayed(compiled) == 2 and compiled.traces == 4


def test_a_new_input_dtype_retraces():
    batches = _batches(st.float64, n=5) + _batches(st.float32, n=5, seed=3)
    compiled = _compare(lambda: _setup("adam"), batches)
    assert _replayed(compiled) == 2


def test_a_changed_parameter_set_retraces():
    runs = []
    for compiled in (False, True):
        model, opt, step = _setup("adam")
        step = st_compile(step) if compiled else step
        st.manual_seed(7)
        losses = []
        for i, (x, y) in enumerate(_batches(st.float64, n=10)):
            if i == 5:  # between calls: one weight frozen, its gradient gone
                model[0].weight.requires_grad_(False)
                model[0].weight.grad = None
            losses.append(step(x, y).item())
        runs.append((losses, _params(model), step))
    _assert_same_bits(runs[0][0], runs[1][0])
    _assert_same_bits(runs[0][1], runs[1][1])
    assert runs[1][2].traces > 2 and runs[1][2].eager_reason is None


def test_train_and_eval_modes_are_traced_apart():
    model, opt, step = _setup("adam", dropout=0.5)
    model_e, _, step_e = _setup("adam", dropout=0.5)
    compiled = st_compile(step)
    batches = _batches(st.float64, n=12)
    st.manual_seed(3)
    out_c = [compiled(x, y).item() for x, y in batches[:5]]
    model.eval()
    out_c += [compiled(x, y).item() for x, y in batches[5:]]
    st.manual_seed(3)
    out_e = [step_e(x, y).item() for x, y in batches[:5]]
    model_e.eval()
    out_e += [step_e(x, y).item() for x, y in batches[5:]]
    _assert_same_bits(out_e, out_c)
    _assert_same_bits(_params(model_e), _params(model))
    assert len(compiled._entries) == 2


def test_value_dependent_control_flow_falls_back_to_eager_with_the_cause():
    model, opt, step = _setup("sgd")

    def branching(x, y):
        loss = step(x, y)
        if loss.item() > 1.0:  # a Python branch on a value
            opt.param_groups[0]["lr"] = 0.5
        return loss
    model_e, opt_e, step_e = _setup("sgd")

    def branching_e(x, y):
        loss = step_e(x, y)
        if loss.item() > 1.0:
            opt_e.param_groups[0]["lr"] = 0.5
        return loss
    compiled = st_compile(branching)
    batches = _batches(st.float64)
    with pytest.warns(RuntimeWarning, match="two traces of the step differ"):
        out_c = _run(compiled, batches)
    _assert_same_bits(_run(branching_e, batches), out_c)
    assert "depend on the values" in compiled.eager_reason


def test_a_check_that_fails_at_replay_refuses():
    model, opt, step = _setup("adam")
    compiled = st_compile(step)
    batches = _batches(st.float64, n=4)
    for x, y in batches:
        compiled(x, y)
    bad = st.tensor(np.array([0, 1, 2, 7, 1]))  # a class index out of range
    with pytest.raises(CompileError, match="read a value into Python"):
        compiled(batches[0][0], bad)


def test_closure_optimizers_are_refused():
    st.manual_seed(0)
    model = st.nn.Linear(2, 1, dtype=st.float64)
    opt = st.optim.LBFGS(model.parameters())
    x, y = st.tensor(np.ones((3, 2))), st.tensor(np.zeros((3, 1)))

    def step(x, y):
        def closure():
            opt.zero_grad()
            loss = st.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss
        return opt.step(closure)
    compiled = st_compile(step)
    compiled(x, y)
    with pytest.raises(CompileError, match="closure"):
        compiled(x, y)


def test_a_step_without_an_optimizer_stays_eager():
    compiled = st_compile(lambda x: (x * 2).sum())
    assert compiled(st.tensor([1.0, 2.0])).item() == 6.0
    assert "no optimizer" in compiled.eager_reason


def test_memory_stays_flat_over_many_compiled_steps():
    model, opt, step = _setup("adam", dtype=st.float32, dropout=0.2)
    compiled = st_compile(step)
    x, y = _batches(st.float32, n=1)[0]
    for _ in range(10):
        compiled(x, y)
    assert _replayed(compiled) == 1
    tracemalloc.start()
    try:
        for _ in range(3000):  # fills Python's free lists (up to 2000 objects per kind)
            compiled(x, y)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            compiled(x, y)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 4096, after - before


@pytest.mark.parametrize("dtype", [st.float32, st.float64], ids=["float32", "float64"])
def test_fit_compiled_equals_fit_eager(dtype):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((70, 4)).astype(dtype), rng.integers(0, 3, 70)
    runs = []
    for compiled in (False, True):
        st.manual_seed(0)
        model = st.nn.Sequential(st.nn.Linear(4, 16, dtype=dtype), st.nn.ReLU(),
                                 st.nn.Dropout(0.2), st.nn.Linear(16, 3, dtype=dtype))
        opt = st.optim.Adam(model.parameters(), lr=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            history = st.fit(model, st.losses.cross_entropy, opt, x, y, epochs=3,
                             batch_size=16, verbose=0, compile=compiled, validation_split=0.2,
                             scheduler=lr_scheduler.StepLR(opt, 1, 0.5))
        runs.append((history.history, _params(model)))
    assert runs[0][0] == runs[1][0]
    _assert_same_bits(runs[0][1], runs[1][1])


def test_fit_compile_with_gradient_clipping_stays_eager_and_says_so(capsys):
    st.manual_seed(0)
    model = st.nn.Linear(4, 3, dtype=st.float64)
    rng = np.random.default_rng(0)
    st.fit(model, st.losses.cross_entropy, st.optim.SGD(model.parameters(), lr=0.1),
           rng.standard_normal((20, 4)), rng.integers(0, 3, 20), epochs=1, verbose=0,
           compile=True, clip_grad_norm=1.0)
    assert "training eagerly" in capsys.readouterr().err


def test_sweep_runs_compiled_equal_eager_and_keep_their_identity():
    from steepest.sweeps.mlp import sweep_mlp
    from steepest.sweeps.records import config_key
    config = dict(data="moons", optimizer="adam", lr=0.05, seed=1, epochs=2, n_samples=80)
    eager = sweep_mlp(**config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled = sweep_mlp(**config, compile=True)
    assert eager.history == compiled.history
    assert config_key({**config, "compile": True}) == config_key(config)


def test_cli_train_compile_writes_the_same_history(tmp_path):
    import json

    from steepest.cli import main
    histories = []
    for flags in ([], ["--compile"]):
        out = tmp_path / ("compiled" if flags else "eager")
        assert main(["train", "--data", "moons", "--epochs", "2", "--n-samples", "80",
                     "--out", str(out), "--verbose", "0", *flags]) == 0
        histories.append(json.loads((out / "history.json").read_text())["history"])
    assert histories[0] == histories[1]


def test_a_penalty_on_the_weights_alone_is_replayed():
    def make():
        model, opt, _ = _setup("sgd", momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            penalty = sum(st.sum(st.abs(p)) for p in model.parameters()) * 1e-3  # weights only
            loss = st.nn.functional.cross_entropy(model(x), y) + penalty
            loss.backward()
            opt.step()
            return loss
        return model, opt, step
    assert _replayed(_compare(make)) == 1


def test_forward_and_backward_compiled_with_the_update_outside():
    runs = []
    for compiled in (False, True):
        model, opt, _ = _setup("adam")

        def grads(x, y):
            opt.zero_grad()
            loss = st.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss
        step = st.compile(grads, optimizers=[opt]) if compiled else grads
        losses = []
        for x, y in _batches(st.float64):
            loss = step(x, y)
            if loss.item() < 100:  # a check outside the compiled part, then the update
                opt.step()
            losses.append(loss.item())
        runs.append((losses, _params(model), step))
    _assert_same_bits(runs[0][0], runs[1][0])
    _assert_same_bits(runs[0][1], runs[1][1])
    assert _replayed(runs[1][2]) == 1


# ------------------------------------------------------------------ threaded optimizer passes
ELEMENTWISE = [name for name in catalogue.OPTIMIZERS
               if catalogue.entry("optimizer", name).cls.elementwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_threaded_flat_updates_equal_one_thread_bit_for_bit(name):
    """Large flat updates split across 3 threads (chunks of whole blocks, the last one short)
    against one thread, from the first step (new state made on one thread) on."""
    runs = []
    for threads in (1, 3):
        st.manual_seed(0)
        params = [st.nn.Parameter(st.randn(300, 250, dtype=st.float32)),
                  st.nn.Parameter(st.randn(1111, dtype=st.float32))]
        opt = catalogue.build_optimizer(name, params)
        opt.threads, opt.thread_min_size, opt.block_size = threads, 1000, 4096
        rng = np.random.default_rng(1)
        for _ in range(4):
            for p in params:
                p.grad = st.tensor(rng.standard_normal(p.shape), dtype=st.float32)
            opt.step()
        runs.append([p.detach().numpy().copy() for p in params]
                    + [np.asarray(v).copy() for s in opt.state.values() for v in s.values()])
    _assert_same_bits(runs[0], runs[1])
    assert opt._thread_count(params[0].numel() + params[1].numel()) == 3


def test_small_or_non_elementwise_updates_stay_on_one_thread():
    params = [st.nn.Parameter(st.zeros(10, 10)), st.nn.Parameter(st.zeros(10))]
    assert st.optim.Adam(params)._thread_count(110) == 1
    big = st.optim.Adam(params)
    big.threads = 2
    assert big._thread_count(1 << 20) == 2
    factored = st.optim.Adafactor(params)
    factored.threads = 2
    assert factored._thread_count(1 << 20) == 1


def test_steps_compiled_on_two_threads_at_once_equal_eager():
    from concurrent.futures import ThreadPoolExecutor

    def made(compiled):  # on this thread: the models draw from the global generator
        model, opt, step = _setup("adam", seed=3)
        return model, st_compile(step) if compiled else step

    def run(pair):
        model, step = pair
        losses = [step(x, y).item() for x, y in _batches(st.float64, n=12)]
        return losses, _params(model), step
    expected = run(made(False))
    pairs = [made(True), made(True)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the two traces interleave op by op
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(run, pairs))
    finally:
        sys.setswitchinterval(interval)
    for losses, params, step in results:
        _assert_same_bits(expected[0], losses)
        _assert_same_bits(expected[1], params)
        assert _replayed(step) == 1


def test_an_input_that_requires_grad_runs_eagerly_with_the_cause():
    model, opt, step = _setup("sgd")
    compiled = st_compile(step)
    x, y = _batches(st.float64, n=1)[0]
    compiled(x, y)
    x.requires_grad_(True)
    with pytest.warns(RuntimeWarning, match="requires grad"):
        compiled(x, y)
    assert x.grad is not None


def test_an_array_made_outside_the_trace_is_caught_by_the_first_replay_check():
    def make():
        model, opt, _ = _setup("adam")

        def noisy(x, y):
            opt.zero_grad()
            noise = st.tensor(np.random.standard_normal(x.shape))  # NumPy's global generator
            loss = st.nn.functional.cross_entropy(model(x + noise * 0.1), y)
            loss.backward()
            opt.step()
            return loss
        return model, opt, noisy
    _compare(make, fallback="differs from the eager one")
