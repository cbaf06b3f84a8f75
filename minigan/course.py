"""Settings shared by the course's chapters (``tutorials/``): how long each experiment runs, which digits it uses.

Every chapter imports this module and asks it for its budgets, so the only difference between
a learner's full run and CI's quick run lives here, not in scattered ``if`` branches::

    from minigan.course import budget, digits, QUICK
    steps = budget(full=3000, quick=60)      # 3000 on your laptop, 60 in CI
    images, labels = digits(n=budget(full=60000, quick=512))

It lives in the package (not beside the notebooks) so that a chapter runs from any folder, in
Colab or as a single downloaded notebook: ``pip install`` brings it along.

Quick mode is switched on by the environment variable ``MINIGAN_TUTORIAL_QUICK=1`` (the test
``tests/test_tutorials.py`` and ``python tutorials/run.py --quick`` set it). Its numbers only
prove that the code runs; the committed outputs come from full runs. In quick mode, inside a
Jupyter kernel, every figure is also checked for labelled axes when it is drawn (see
:func:`unlabelled_axes`); the test reads the lines this prints.

Read next: ``tutorials/README.md`` (the list of chapters), then ``minigan/data/__init__.py``
(``load_dataset``, which :func:`digits` calls).
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: True when the chapters run in CI's quick mode (tiny step counts, small data).
QUICK: bool = os.environ.get("MINIGAN_TUTORIAL_QUICK", "") not in ("", "0")

#: The start of the line printed for a figure with an unlabelled axis (tests/test_tutorials.py looks for it).
UNLABELLED = "minigan.course: unlabelled axes"


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
    # Imported here: minigan.data is a higher layer than most of what a chapter touches first,
    # and a chapter that never asks for digits should not pay for it.
    from minigan.data import load_dataset

    return load_dataset("auto", split, download=not QUICK, n=n, value_range=value_range)


def unlabelled_axes(fig: Any) -> list[str]:
    """The panels of a matplotlib figure with an axis that shows ticks but has no label.

    A panel with its axes switched off (an image grid) needs no labels; a colorbar is labelled by
    its own ``label=``, so it is skipped; an axis whose tick labels are hidden (the inner panels of
    ``plt.subplots(sharey=True)``) is covered by its neighbour's label or the figure's
    ``supxlabel``/``supylabel``. Returns one description per offending panel (empty: all labelled).
    """
    missing = []
    sup_x = getattr(fig, "_supxlabel", None) is not None and fig._supxlabel.get_text()
    sup_y = getattr(fig, "_supylabel", None) is not None and fig._supylabel.get_text()
    for index, ax in enumerate(fig.axes):
        if not ax.axison or not ax.get_visible() or hasattr(ax, "_colorbar"):
            continue
        lacking = []
        for name, axis, label, sup, shown in (
            ("x", ax.xaxis, ax.get_xlabel(), sup_x, ("labelbottom", "labeltop")),
            ("y", ax.yaxis, ax.get_ylabel(), sup_y, ("labelleft", "labelright")),
        ):
            params = axis.get_tick_params()
            default_on = ("labelbottom", "labelleft")  # matplotlib's defaults when never set
            ticks_shown = axis.get_visible() and any(params.get(key, key in default_on) for key in shown)
            # No ticks at all (set_xticks([])) means the axis carries no quantity to name.
            if ticks_shown and len(axis.get_majorticklocs()) and not label and not sup:
                lacking.append(name)
        if lacking:
            title = ax.get_title() or (fig._suptitle.get_text() if fig._suptitle else "")
            missing.append(f"panel {index} {title!r}: no {' or '.join(lacking)} label")
    return missing


def _check_figures_after_each_cell() -> None:
    """In a Jupyter kernel, print a line for every figure with unlabelled axes when it is drawn.

    Only in quick mode (CI's run): a learner's run prints nothing. A figure is checked when it is
    rendered (``%matplotlib inline`` renders and closes each one at the end of its cell) and, for a
    non-rendering backend such as Agg, after each cell; each figure is looked at once.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: a plain script, nothing to hook into
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_minigan_course_hooked", False):
        return
    # matplotlib only here, in CI's kernels: `import minigan.course` stays light elsewhere.
    from matplotlib.backend_bases import FigureCanvasBase

    seen: set[int] = set()

    def check(fig: Any) -> None:
        if id(fig) in seen:
            return
        seen.add(id(fig))
        for line in unlabelled_axes(fig):
            print(f"{UNLABELLED}: {line}")

    render = FigureCanvasBase.print_figure

    def print_figure(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self.figure)
        return render(self, *args, **kwargs)

    def after_cell(result: Any = None) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:  # no figure can exist before pyplot is imported
            for number in pyplot.get_fignums():
                check(pyplot.figure(number))

    FigureCanvasBase.print_figure = print_figure
    shell.events.register("post_run_cell", after_cell)
    shell._minigan_course_hooked = True


if QUICK:
    _check_figures_after_each_cell()
