"""Shared settings of the tutorial chapters: how long each experiment runs, and which digits it uses.

Every chapter imports this module and asks it for its budgets, so the only difference between
a learner's full run and CI's quick run lives here, not in scattered ``if`` branches::

    from course import budget, digits, QUICK
    steps = budget(full=3000, quick=60)      # 3000 on your laptop, 60 in CI
    images, labels = digits(n=budget(full=60000, quick=512))

Quick mode is switched on by the environment variable ``MINIGAN_TUTORIAL_QUICK=1`` (the test
``tests/test_tutorials.py`` and ``python tutorials/run.py --quick`` set it). Its numbers only
prove that the code runs; the committed outputs come from full runs.

Read next: ``tutorials/README.md`` (the list of chapters).
"""

from __future__ import annotations

import os
from typing import Any

#: True when the chapters run in CI's quick mode (tiny step counts, small data).
QUICK: bool = os.environ.get("MINIGAN_TUTORIAL_QUICK", "") not in ("", "0")


def budget(full: Any, quick: Any) -> Any:
    """``full`` on a learner's machine, ``quick`` in CI (any type: step counts, sizes, lists)."""
    return quick if QUICK else full


def digits(split: str = "train", n: int | None = None, value_range: tuple[float, float] = (-1.0, 1.0)) -> Any:
    """28x28 digits as a ``minigan.data.Dataset``: real MNIST when it is on disk, else glyph digits.

    MNIST is looked for in ``$MINIGAN_DATA`` and ``~/.cache/minigan`` (``minigan.data.load_dataset``
    documents the search). If it is not there, a full run downloads it (checksum-verified); quick
    mode never downloads and uses the built-in glyph digits instead, so CI needs no network.
    ``dataset.name`` says which one you got.
    """
    from minigan.data import load_dataset

    return load_dataset("auto", split, download=not QUICK, n=n, value_range=value_range)
