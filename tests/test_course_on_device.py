"""Two chapters of the course, in quick mode, on the strict backend (an emulated GPU).

The chapters are written on NumPy (``tests/test_tutorials.py`` runs them all there, in CI's slow
step). These two run here with ``MINIGAN_BACKEND=strict`` in the kernel, where arrays refuse
``numpy.asarray`` and host arrays in their operations as CuPy's do: chapter 12 is the one about
running on a GPU, and chapter 3 reads tensors back to the host on almost every line. If they run
here, a learner with a GPU can run them with ``MINIGAN_BACKEND=cupy``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import pytest

TUTORIALS = pathlib.Path(__file__).resolve().parent.parent / "tutorials"

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("nbclient", "nbformat", "ipykernel")),
    reason="needs nbclient, nbformat and ipykernel (pip install -e '.[test]')",
)


@pytest.mark.parametrize("chapter", ["12_gpu", "03_backprop_through_d"])
def test_chapter_runs_on_the_strict_backend_in_quick_mode(chapter, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGAN_BACKEND", "strict")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    sys.path.insert(0, str(TUTORIALS))
    try:
        import run  # tutorials/run.py
    finally:
        sys.path.remove(str(TUTORIALS))
    nb, _ = run.execute(TUTORIALS / f"{chapter}.ipynb", quick=True, timeout=600)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, json.dumps(errors[0])[:2000]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if chapter == "12_gpu":
        assert "active backend: Backend('strict')" in text  # it really ran on the strict backend
