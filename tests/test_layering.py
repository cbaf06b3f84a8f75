"""The package's layering rules, checked by reading the source.

1. Only ``minigan/backend.py`` imports an array library (numpy, cupy,
   array_api_strict); everything else asks the backend for the namespace, so
   the same code runs on every backend.
2. ``import minigan`` imports neither matplotlib nor cupy (nor torch).
3. Nothing imports a higher layer. Low to high::

       backend -> anomaly -> autograd -> functions -> kernels -> gradcheck -> nn -> optim, checkpoint
       -> gan -> data, metrics, viz, interop -> app -> cli

Modules are mapped to layers by path; a new module must be given a layer here.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import pytest

import minigan

PACKAGE = pathlib.Path(minigan.__file__).parent
ARRAY_LIBRARIES = {"numpy", "cupy", "cupyx", "array_api_strict"}

# Path prefix (relative to the package, without ".py") -> layer. Same layer may import each other.
LAYERS = {
    "backend": 0,
    "atomic": 0,  # whole-or-nothing file writes
    "lazy": 0,  # first-use imports of data and viz
    "anomaly": 0.5,  # anomaly mode, consulted by the engine
    "autograd": 1,
    "functions": 2,
    "kernels": 2.5,  # faster equals of functions/ primitives; functions/ never imports them
    "gradcheck": 3,
    "nn": 4,
    "optim": 5,
    "checkpoint": 5,
    "gan": 6,
    # The toy experiments train on minigan.data.toy and plot with minigan.viz.toy: they sit on
    # top of data and viz although they live in the gan package (which does not import them).
    "gan/experiments": 7,
    "models": 6,  # the GAN architectures (common.md: "gan (losses, trainer, models)")
    "data": 7,
    "metrics": 7,
    "pretrained": 7,  # shipped generators: rebuilt by gan.run from a stripped checkpoint
    "viz": 7,
    "interop": 7,  # bridges to other libraries (minigan.interop.torch): above nn, optim and models
    "app": 7.5,  # the application behind each command (minigan/app/): drives gan, data, metrics, viz
    "course": 7.5,  # the course's budgets and digits (tutorials/): reads data
    "cli": 8,
    "__main__": 8,
}


def source_files() -> list[pathlib.Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path``, relative imports resolved.

    ``from minigan import nn`` counts as importing ``minigan.nn``; calls such as
    ``importlib.import_module("numpy")`` and ``__import__("numpy")`` count too.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                # `from minigan import nn` imports the submodule minigan.nn; `from minigan import
                # grad` imports a name from the package facade minigan.
                sub = f"{mod}.{a.name}"
                found.append((node.lineno, sub if existing_submodule(sub) else mod))
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                found.append((node.lineno, str(node.args[0].value)))
    return found


def layer_of(module: str) -> int | None:
    """Layer of a ``minigan.*`` module; None for the package root and unmapped names."""
    parts = module.split(".")
    if parts[0] != "minigan" or len(parts) == 1:
        return None
    for n in range(len(parts), 1, -1):  # the longest path prefix in LAYERS wins
        key = "/".join(parts[1:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def existing_submodule(module: str) -> bool:
    """True if ``module`` (minigan.x.y) is a file or package under minigan/ (not a name imported from one)."""
    rel = PACKAGE.parent.joinpath(*module.split("."))
    return rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()


def test_the_layer_table_covers_every_module():
    unmapped = [
        module_name(p) for p in source_files() if module_name(p) != "minigan" and layer_of(module_name(p)) is None
    ]
    assert not unmapped, f"modules without a layer (add them to LAYERS in {__file__}): {unmapped}"


def test_only_the_backend_imports_array_libraries():
    offenders = []
    for path in source_files():
        if path == PACKAGE / "backend.py":
            continue
        for line, mod in imported_modules(path):
            if mod.split(".")[0] in ARRAY_LIBRARIES:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {mod}")
    assert not offenders, "use `from minigan import backend as B; xp = B.xp()` instead:\n" + "\n".join(offenders)


def test_no_module_imports_a_higher_layer():
    offenders = []
    for path in source_files():
        me = module_name(path)
        mine = layer_of(me)
        if mine is None:  # minigan/__init__.py: the public facade may re-export any layer
            continue
        for line, mod in imported_modules(path):
            if not mod.startswith("minigan"):
                continue
            if mod == "minigan":
                # A name from the package facade, which imports layers up to gradcheck (a cycle below it).
                if mine < LAYERS["gradcheck"]:
                    offenders.append(f"{me} (layer {mine}) line {line}: imports from the package facade `minigan`")
                continue
            theirs = layer_of(mod)
            if theirs is not None and theirs > mine:
                offenders.append(f"{me} (layer {mine}) line {line}: imports {mod} (layer {theirs})")
    assert not offenders, "upward imports:\n" + "\n".join(offenders)


def test_layering_checker_detects_violations(tmp_path):
    """The parser itself: relative imports resolve, and an upward import is reported."""
    pkg = tmp_path / "minigan" / "functions"
    pkg.mkdir(parents=True)
    f = pkg / "bad.py"
    (pkg / "basic.py").write_text("")
    (tmp_path / "minigan" / "backend.py").write_text("")
    f.write_text(
        "from ..nn import module\nfrom . import basic\nimport numpy as np\nfrom minigan import backend as B\n"
        "from minigan import grad\nimport importlib\nimportlib.import_module('cupy')\n"
    )
    global PACKAGE
    saved = PACKAGE
    PACKAGE = tmp_path / "minigan"
    try:
        mods = {m for _, m in imported_modules(f)}
    finally:
        PACKAGE = saved
    assert mods == {"minigan.nn", "minigan.functions.basic", "numpy", "minigan.backend", "minigan", "importlib", "cupy"}
    assert layer_of("minigan.nn.module") == 4 > layer_of("minigan.functions.bad") == 2


@pytest.mark.parametrize("forbidden", ["matplotlib", "cupy", "torch"])
def test_import_minigan_is_light(forbidden):
    code = (
        "import sys, minigan, minigan.functions\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] == {forbidden!r})\n"
        "print(bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"`import minigan` imported {forbidden}: {r.stdout}"
