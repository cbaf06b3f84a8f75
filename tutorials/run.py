"""Execute the tutorial chapters: ``python tutorials/run.py [--quick] [--inplace] [--solutions] [CHAPTER ...]``.

Without ``--inplace`` the executed notebooks go to ``--out`` (default ``runs/tutorials``) and
the committed ones are left alone; ``--inplace`` overwrites them with their new outputs, which is
how the committed outputs are made (a full run, not ``--quick``). ``--quick`` sets
``MINIGAN_TUTORIAL_QUICK=1`` (see ``minigan/course.py``). ``--solutions`` runs the worked
exercises in ``tutorials/solutions/`` instead. Each notebook runs with its own folder as the
working directory (``execute(..., cwd=...)`` picks another), and the time it took is printed.

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (``pip install -e '.[test]'`` or
``'.[tutorials]'`` installs them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def chapters(folder: Path = HERE) -> list[Path]:
    """The chapter notebooks, in course order: ``NN_name.ipynb``, and ``NNa_name.ipynb`` for a
    chapter inserted after ``NN`` (``02a`` sorts after ``02_``, since ``_`` sorts before letters)."""
    return sorted(p for p in folder.glob("[0-9][0-9]*_*.ipynb") if len(chapter_number(p)) <= 3)


def solutions() -> list[Path]:
    """The worked exercises, ``solutions/NN_solutions.ipynb``, in course order."""
    return sorted((HERE / "solutions").glob("*.ipynb"))


def chapter_number(path: Path) -> str:
    """``"02"`` for ``02_first_gan_1d.ipynb``, ``"02a"`` for ``02a_scalar_autograd.ipynb``."""
    return path.name.split("_", 1)[0]


def execute(path: Path, quick: bool, timeout: int = 1800, cwd: Path | None = None) -> tuple[object, float]:
    """Run one notebook top to bottom in a fresh kernel; returns (notebook, seconds).

    ``cwd`` is the kernel's working directory (default: the notebook's own folder). Raises
    ``nbclient.exceptions.CellExecutionError`` (with the failing cell's traceback) when a cell fails.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("MINIGAN_TUTORIAL_QUICK", "PYTHONPATH")}
    os.environ["MINIGAN_TUTORIAL_QUICK"] = "1" if quick else "0"  # the kernel inherits it
    # The kernel imports this checkout's minigan even where it is not pip-installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), saved["PYTHONPATH"]) if p)
    try:
        start = time.perf_counter()
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd or Path(path).resolve().parent)}},
        )
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb, seconds


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook paths or numbers (default: all)")
    parser.add_argument("--quick", action="store_true", help="CI's quick mode: tiny budgets")
    parser.add_argument("--inplace", action="store_true", help="overwrite the notebooks with their outputs")
    parser.add_argument("--out", default="runs/tutorials", help="where executed copies go without --inplace")
    parser.add_argument("--solutions", action="store_true", help="the worked exercises (tutorials/solutions/)")
    args = parser.parse_args(argv)

    selected = solutions() if args.solutions else chapters()
    if args.chapters:
        wanted = [c.zfill(2) if c.isdigit() else c for c in args.chapters]
        selected = [p for p in selected if chapter_number(p) in wanted or str(p) in wanted or p.name in wanted]
        if not selected:
            parser.error(f"no chapter matches {' '.join(args.chapters)}")
    out = Path(args.out)
    for path in selected:
        nb, seconds = execute(path, args.quick)
        # Recorded so a test can tell committed full-run outputs from a quick run's.
        nb.metadata["minigan"] = {"mode": "quick" if args.quick else "full", "seconds": round(seconds, 1)}
        target = path if args.inplace else out / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        print(f"{path.name}: {seconds:.1f} s ({'quick' if args.quick else 'full'}) -> {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
