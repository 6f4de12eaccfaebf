"""The package's layering: every module imports, lower layers never import higher ones, and
no two modules import each other in a circle (issue 12, section 5).

The layers are those of the README's architecture section. A new module must be given its
layer in ``LAYERS`` (the test says so), which is the point: where it sits is a decision.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "steepest"

#: engine <- nn <- optim <- data <- training <- lessons/viz <- report/... <- cli
LAYERS = {
    "_version": 0, "io": 0,  # import nothing of steepest: below everything that writes files
    "tensor": 0, "ops": 0, "activations": 0, "losses": 0, "gradcheck": 0, "autograd": 0,
    "random": 0,
    "nn": 1, "curvature": 1,
    "optim": 2,
    "data": 3, "utils": 3, "datasets": 3, "compile": 3,
    "training": 4,
    "lessons": 5, "viz": 5, "serialization": 5,
    "report": 6, "exercises": 6, "notebook_editions": 6, "sweeps": 6, "playground": 6,
    "cli": 7, "__main__": 7,
    # old paths kept for users, with a DeprecationWarning; nothing in the package imports them
    "train": 8, "callbacks": 8, "checkpoint": 8, "diagnostics": 8,
}
DEPRECATED = {"steepest.train", "steepest.callbacks", "steepest.checkpoint",
              "steepest.diagnostics"}

#: modules that still ``import steepest as st`` while the playground helper rewrites them
#: (round 3); each entry must still do so (a stale entry fails), so the list only shrinks
FACADE_PENDING: set = set()

#: inside ``steepest.training``: each module may import only those before it
TRAINING_ORDER = ("history", "checkpoint", "callbacks", "task", "diagnostics", "loop",
                  "__init__")

#: the engine's one known circle: tensor.py binds its operator methods to ops/activations
#: (and grad_fn/backward to autograd.graph) at the very end of the module, after everything
#: they need is defined (ENGINE's call)
KNOWN_LATE_IMPORTS = {("steepest.tensor", "steepest.ops"),
                      ("steepest.tensor", "steepest.activations"),
                      ("steepest.tensor", "steepest.autograd.graph"),
                      ("steepest.tensor", "steepest.random")}


def _module_names() -> list:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def _path_of(module: str) -> Path:
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _resolve(name: str, module: str) -> str:
    """The steepest module an imported dotted name refers to (a module, or a name in one).

    ``steepest.x.y`` is module ``steepest.x.y`` if there is one, else the name ``y`` of module
    ``steepest.x``; a name that is neither cannot be placed, and the test says so.
    """
    if name in MODULES:
        return name
    parent = name.rpartition(".")[0]
    if parent in MODULES:
        return parent
    pytest.fail(f"{module} imports {name}, which is no module of steepest and no name in one")


def _imports(module: str) -> list:
    """``[(target module, top_level)]`` for each steepest import in ``module``'s source."""
    tree = ast.parse(_path_of(module).read_text(encoding="utf-8"))
    is_package = _path_of(module).name == "__init__.py"
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] != "steepest":
                continue
            target = _resolve(name, module)
            if target != module:
                found.append((target, id(node) in top_level))
    return found


def _layer(module: str) -> tuple:
    parts = module.split(".")
    if len(parts) == 1:
        raise AssertionError(f"{module} is the package's facade, which has no layer")
    top = parts[1]
    if top not in LAYERS:
        pytest.fail(f"module {module} has no layer: add {top!r} to LAYERS in tests/test_layout.py "
                    f"(and to the README's architecture section)")
    inner = 0
    if top == "training":
        inner = TRAINING_ORDER.index(parts[2] if len(parts) > 2 else "__init__")
    return LAYERS[top], inner


def test_no_module_imports_the_package_facade_or_an_old_path():
    """``import steepest as st`` inside the package hides where a name comes from and makes
    every module depend on all of them; the deprecated paths are for users only."""
    facade = sorted(m for m in MODULES if m != "steepest"
                    and any(t == "steepest" for t, _ in _imports(m)))
    assert set(facade) == FACADE_PENDING, \
        f"modules importing the facade: {facade}; expected only {sorted(FACADE_PENDING)}"
    old = sorted(f"{m} imports {t}" for m in MODULES if m not in DEPRECATED
                 for t, _ in _imports(m) if t in DEPRECATED)
    assert not old, f"imports of deprecated paths inside the package: {old}"


def test_the_checks_see_facade_imports_and_refuse_unknown_names(tmp_path, monkeypatch):
    """The scanner is not blind: a facade import is seen, and a name it cannot place fails."""
    fake = tmp_path / "fake.py"
    fake.write_text("import steepest as st\nfrom steepest import losses\n"
                    "from steepest.optim.catalogue import OPTIMIZERS\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "_path_of", lambda module: fake)
    assert sorted(_imports("steepest.fake")) == [
        ("steepest", True), ("steepest.losses", True), ("steepest.optim.catalogue", True)]
    fake.write_text("from steepest.optim.catalog import OPTIMIZERS\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match="steepest.optim.catalog.OPTIMIZERS, which "
                                                    "is no module of steepest"):
        _imports("steepest.fake")


def test_every_module_is_layered_and_imports_only_lower_layers():
    wrong = []
    for module in MODULES:
        if module == "steepest":
            continue  # the facade imports everything
        for target, _ in _imports(module):
            if target == "steepest":
                continue  # test_no_module_imports_the_package_facade_or_an_old_path
            same_package = target.split(".")[:2] == module.split(".")[:2]
            if _layer(target) > _layer(module) and not (
                    same_package and target.split(".")[1] != "training"):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layering: " + "; ".join(wrong)


def test_no_import_circle_among_module_level_imports():
    graph = {m: sorted({t for t, top in _imports(m)
                        if top and (m, t) not in KNOWN_LATE_IMPORTS}) for m in MODULES}
    state: dict = {}
    path: list = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for module in MODULES:
        if module not in state:
            visit(module)


def test_training_modules_import_in_one_direction():
    """history <- checkpoint <- callbacks <- task <- diagnostics <- loop, checked by name."""
    edges = {(m, t) for m in MODULES if m.startswith("steepest.training.")
             for t, _ in _imports(m) if t.startswith("steepest.training")}
    assert ("steepest.training.callbacks", "steepest.training.history") in edges  # the test sees
    assert not {(m, t) for m, t in edges if t == "steepest.training"}, \
        "a training module imports the package facade (a circle through __init__)"


def _fresh_python(script: str, timeout: int = 300):
    """Run ``script`` in a new interpreter from src/; the JSON its last line prints."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=SRC, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    """Import each module first (so an order-dependent circle shows), in a clean process.

    Any ``import steepest.x`` runs the facade first, which always imports its modules in its
    own order; so the facade is imported once, then each other module is imported first
    among those the facade does not load (which are removed again after each).
    """
    script = (
        "import importlib, json, sys, warnings\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "failed = {}\n"
        "try:\n"
        "    import steepest\n"
        "except Exception as error:\n"
        "    failed['steepest'] = f'{type(error).__name__}: {error}'\n"
        "base = set(sys.modules)\n"
        f"for name in {MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('steepest.') "
        "and m not in base]:\n"
        "        del sys.modules[loaded]\n"
        "    if name == 'steepest.__main__' or name in base:\n"
        "        continue\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed[name] = f'{type(error).__name__}: {error}'\n"
        "print(json.dumps(failed))\n")
    assert _fresh_python(script) == {}


#: old module path -> where it lives now
MOVED = {"steepest.train": "steepest.training.loop",
         "steepest.callbacks": "steepest.training.callbacks",
         "steepest.checkpoint": "steepest.training.checkpoint",
         "steepest.diagnostics": "steepest.training.diagnostics"}


def test_old_module_paths_still_import_and_say_where_to_go():
    """Each old path gives the same objects as the new one, and warns with the new name."""
    script = (
        "import importlib, json, warnings\n"
        "warnings.simplefilter('always')\n"
        "result = {}\n"
        f"for old, new in {MOVED!r}.items():\n"
        "    with warnings.catch_warnings(record=True) as caught:\n"
        "        module = importlib.import_module(old)\n"
        "    moved = importlib.import_module(new)\n"
        "    result[old] = {'same': all(getattr(module, n) is getattr(moved, n)\n"
        "                               for n in moved.__all__),\n"
        "                   'warnings': [f'{w.category.__name__}: {w.message}' for w in caught]}\n"
        "print(json.dumps(result))\n")
    result = _fresh_python(script, timeout=120)
    for old, new in MOVED.items():
        assert result[old]["same"], old
        assert any(w.startswith("DeprecationWarning") and "steepest.training" in w
                   for w in result[old]["warnings"]), (old, result[old]["warnings"])
    import steepest as st

    for old, new in MOVED.items():  # st.train, st.callbacks ... are the modules themselves
        assert getattr(st, old.rpartition(".")[2]).__name__ == new


def test_the_old_train_path_still_gives_fit_history_and_divergence_error():
    import warnings

    import steepest as st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from steepest.train import DivergenceError, History, fit
    assert fit is st.fit and History is st.History and DivergenceError is st.DivergenceError


def test_the_cli_loads_without_plots_or_torch():
    """``steepest --help`` stays quick: the CLI imports the report (matplotlib) only in the
    commands that draw."""
    script = ("import json, sys, steepest.cli\n"
              "print(json.dumps(sorted(m for m in ('matplotlib', 'steepest.report', 'torch', "
              "'steepest.playground') if m in sys.modules)))\n")
    assert _fresh_python(script, timeout=120) == []
