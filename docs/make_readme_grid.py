"""Regenerate ``docs/quickstart_samples.png``, the sample grid the README shows.

It runs the README's quickstart command, ``minigan train --out runs/quickstart`` with all its
defaults (``python -m minigan``, so the minigan of this interpreter), from the repository root,
then copies the run's last sample grid (the ``samples_XXXX.png`` of the highest step) over the
picture. So the README's picture is always what its command gives, on this machine's data
(MNIST when it is on disk or downloadable, else the glyph digits).

Usage::

    python docs/make_readme_grid.py               # the full run: ~2.5 min on a 2-core laptop
    python docs/make_readme_grid.py --overwrite   # runs/quickstart already holds a run
    python docs/make_readme_grid.py --steps 20 --out /tmp/q --dest /tmp/q.png   # to try the script

``--steps N`` adds ``--steps N`` to the command (a short run; the README's grid is the
default 4,000 steps). Anything after ``--`` is passed to ``minigan train`` as well.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The README's quickstart command, after ``pip install -e . &&``.
QUICKSTART = ["minigan", "train", "--out", "runs/quickstart"]


def last_grid(out: Path) -> Path:
    """The ``samples_XXXX.png`` of the highest step in ``out``."""
    grids = sorted(out.glob("samples_*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not grids:
        raise FileNotFoundError(f"no samples_*.png in {out}")
    return grids[-1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the quickstart command and copy its last grid; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # split by hand: argparse would take `-- --steps 3` as its own options
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="add --steps N to the command (a short trial run)")
    p.add_argument("--out", default=None, help="run folder instead of the README's runs/quickstart")
    p.add_argument("--dest", default=str(REPO / "docs" / "quickstart_samples.png"), help="the picture to write")
    p.add_argument("--overwrite", action="store_true", help="pass --overwrite (the run folder holds a run)")
    args = p.parse_args(argv)

    command = list(QUICKSTART)
    if args.out is not None:
        command[command.index("--out") + 1] = args.out
    if args.steps is not None:
        command += ["--steps", str(args.steps)]
    if args.overwrite:
        command.append("--overwrite")
    command += extra
    print("running:", " ".join(command), flush=True)
    # The README's paths are relative to the repository root: run there, whatever the current folder.
    status = subprocess.run([sys.executable, "-m", *command], cwd=REPO).returncode
    if status != 0:
        print(f"make_readme_grid: the command failed (status {status}); {args.dest} left as it was", file=sys.stderr)
        return status
    out = Path(command[command.index("--out") + 1])
    grid = last_grid(out if out.is_absolute() else REPO / out)
    dest = Path(args.dest)
    shutil.copyfile(grid, dest)
    print(f"copied {grid} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
