"""Every tutorial chapter runs top to bottom in quick mode (``tutorials/course.py`` sets the budgets).

Slow-marked: CI runs it in its slow step. Skips where nbclient/ipykernel are missing or the
backend is not numpy (the chapters show NumPy arrays). The executed copies are thrown away; the
committed notebooks keep the outputs of their full run.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import pytest

import minigan

TUTORIALS = pathlib.Path(__file__).resolve().parent.parent / "tutorials"
CHAPTERS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
#: chapters that need an optional package (skipped where it is missing, as its tests are)
NEEDS = {"14_when_you_outgrow_minigan": "torch"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("nbclient", "nbformat", "ipykernel")),
        reason="needs nbclient, nbformat and ipykernel (pip install -e '.[test]')",
    ),
    pytest.mark.skipif(minigan.get_backend().name != "numpy", reason="the chapters run on the numpy backend"),
]


def _runner():
    sys.path.insert(0, str(TUTORIALS))
    try:
        import run  # tutorials/run.py

        return run
    finally:
        sys.path.remove(str(TUTORIALS))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 1, "no tutorials/NN_*.ipynb found"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_in_quick_mode(path, monkeypatch, tmp_path):
    if path.stem in NEEDS:
        pytest.importorskip(NEEDS[path.stem], reason=f"{path.name} needs {NEEDS[path.stem]}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no MNIST: quick mode uses glyphs
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    nb, seconds = _runner().execute(path, quick=True, timeout=600)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, json.dumps(errors[0])[:2000]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_committed_chapter_has_outputs_of_a_full_run(path):
    """The committed notebook was executed (every code cell has a count) and ends with exercises."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{path.name}: not executed before commit"
    run_info = nb["metadata"].get("minigan", {})
    assert run_info.get("mode") == "full", f"{path.name}: commit the outputs of `python tutorials/run.py --inplace`"
    assert all(o.get("output_type") != "error" for c in code for o in c.get("outputs", [])), path.name
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "Exercises" in text, f"{path.name}: no Exercises section"
