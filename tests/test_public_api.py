"""Every public module of the nn/losses/data surface declares ``__all__``: a star import gives
its own API, not the NumPy, ``annotations`` or ``inspect`` it imports for itself."""

from __future__ import annotations

import importlib
import types

import pytest

MODULES = ["steepest.losses", "steepest.data", "steepest.nn", "steepest.nn.functional",
           "steepest.nn.loss", "steepest.nn.layers", "steepest.nn.module", "steepest.nn.init",
           "steepest.nn.utils", "steepest.nn.utils.clip_grad", "steepest.utils",
           "steepest.utils.data", "steepest.serialization"]
HELPERS = {"np", "numpy", "annotations", "inspect", "lru_cache", "math", "numbers", "json",
           "os", "warnings", "resources", "OrderedDict", "Iterator"}
SUBMODULES = {"functional", "init", "utils", "data"}


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_modules_own_api(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"
    assert len(set(module.__all__)) == len(module.__all__)
    namespace: dict = {}
    exec(f"from {name} import *", namespace)
    exported = set(namespace) - {"__builtins__"}
    assert exported == set(module.__all__)
    assert not exported & HELPERS, f"{name} exports {sorted(exported & HELPERS)}"
    for item in exported:
        value = namespace[item]
        assert not isinstance(value, types.ModuleType) or item in SUBMODULES, item
        assert not item.startswith("_"), item


def test_torch_style_imports_work():
    import steepest as st
    import steepest.nn.functional as F
    from steepest.utils.data import DataLoader, TensorDataset
    assert F is st.nn.functional and DataLoader is st.utils.data.DataLoader
    assert TensorDataset is st.utils.data.TensorDataset
    assert callable(st.save) and callable(st.load)


def test_a_one_element_integer_tensor_indexes_a_list_like_torchs():
    import numpy as np
    import torch

    import steepest as st
    classes = ["zero", "one", "two"]
    scores = [[0.1, 0.7, 0.2]]
    assert classes[st.tensor(scores)[0].argmax(0)] == classes[torch.tensor(scores)[0].argmax(0)]
    assert [10, 20][st.tensor([1])] == 20
    for bad in (st.tensor(1.0), st.tensor([0, 1])):
        with pytest.raises(TypeError, match="one-element integer tensor"):
            classes[bad]
    np.testing.assert_array_equal(np.arange(5)[st.tensor([1, 3])], [1, 3])


def _public_modules():
    import pkgutil

    import steepest
    return [info.name for info in pkgutil.walk_packages(steepest.__path__, "steepest.")
            if not any(part.startswith("_") for part in info.name.split(".")[1:])]


def test_every_public_module_declares_all_and_its_names_exist():
    import warnings

    missing, unknown = [], []
    for name in _public_modules():
        with warnings.catch_warnings():  # the old paths (steepest.train ...) warn: tested elsewhere
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(name)
        if not isinstance(getattr(module, "__all__", None), list):
            missing.append(name)
        else:
            unknown += [f"{name}.{item}" for item in module.__all__ if not hasattr(module, item)]
    assert not missing, f"modules without __all__: {missing}"
    assert not unknown, f"__all__ names that do not exist: {unknown}"
