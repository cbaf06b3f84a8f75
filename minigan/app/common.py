"""What every command of the application shares: one-line errors and checks on files.

- :class:`UsageError`: a mistake a user can make (a bad option, a missing file, a data set that
  cannot be found). :func:`minigan.cli.main` prints it as one ``minigan: error: ...`` line and
  exits with status 2, without a traceback; :func:`one_line` turns any exception into such a line.
- :func:`check_writable` and :func:`refuse_run_file`: an output that cannot (or must not) be
  written is refused *before* any work, not after minutes of training or scoring.
- :func:`read_run_checkpoint`: a checkpoint written by `minigan train`, or a one-line error.
- :func:`quiet_downloads`: ``--quiet`` also silences the download messages of :mod:`minigan.data`.

Read next: ``minigan/app/train.py`` (`minigan train`, top to bottom).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from minigan import checkpoint

__all__ = [
    "RUN_FILES",
    "RUN_FILE_PATTERNS",
    "UsageError",
    "check_writable",
    "one_line",
    "quiet_downloads",
    "read_run_checkpoint",
    "refuse_run_file",
    "say",
    "shape_text",
    "write_json",
]


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    text = str(e).strip() or type(e).__name__
    lines = text.splitlines()
    return lines[0] + (" (...)" if len(lines) > 1 else "")


def say(quiet: bool, message: str) -> None:
    """A progress line on stdout, unless ``--quiet``; flushed, so that it precedes a progress bar."""
    if not quiet:
        print(message, flush=True)


def shape_text(shape: Sequence[int]) -> str:
    """``(1, 28, 28)``, whatever the sequence type (a JSON list prints with brackets)."""
    return "(" + ", ".join(str(s) for s in shape) + ")"


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def check_writable(path: Path, flag: str, *, folder: bool) -> None:
    """A one-line UsageError unless ``path`` (a folder, or a file) can be written.

    Checked before any work, so that an unwritable ``--out`` fails at once rather than
    after minutes of training or scoring. Nothing is created: the nearest folder that
    exists is probed with a temporary file, removed again; an existing file is opened
    for appending, which changes nothing. (``os.access`` would not do: it says yes to
    root whatever the permissions.)
    """
    try:
        if path.is_dir() != folder and path.exists():
            kind = "a folder" if path.is_dir() else "a file"
            raise UsageError(f"{flag} {path}: that is {kind}; give {'a folder' if folder else 'a file name'}")
        existing = path if folder else path.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"{flag} {path}: cannot write there, {existing} is a file, not a folder")
        fd, probe = tempfile.mkstemp(prefix=".minigan-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
        if not folder and path.exists():
            with open(path, "ab"):
                pass
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write there ({e.strerror or type(e).__name__})") from None


#: What `minigan train` writes into its --out folder; `sample` and `evaluate` never write over them.
RUN_FILES = ("checkpoint.npz", "config.json", "metrics.json", "history.csv", "progress.gif", "losses.png",
             "d_outputs.png", "grad_norms.png", "scatter.png")  # fmt: skip
RUN_FILE_PATTERNS = ("samples_*.png", "scatter_*.png")


def refuse_run_file(path: Path, flag: str) -> None:
    """A UsageError if ``path`` is one of the files of a training run's folder."""
    run_folder = any((path.parent / name).exists() for name in ("checkpoint.npz", "config.json"))
    if run_folder and (path.name in RUN_FILES or any(path.match(p) for p in RUN_FILE_PATTERNS)):
        raise UsageError(f"{flag} {path}: that is a file of the training run in {path.parent}; choose another name")


def read_run_checkpoint(path: Path, what: str) -> checkpoint.Checkpoint:
    """A checkpoint written by `minigan train`, or a one-line UsageError naming the flag ``what``."""
    if not path.exists():
        hint = " (train first, without --resume)" if what == "--resume" else ""
        raise UsageError(f"{what}: no checkpoint at {path}{hint}")
    try:
        ckpt = checkpoint.read(path)
    except (checkpoint.CheckpointError, OSError) as e:
        raise UsageError(f"{what}: {one_line(e)}") from None
    if "config" not in ckpt.extra or "generator" not in ckpt.extra["config"]:
        raise UsageError(f"{what}: {path} is a minigan checkpoint but not one written by `minigan train`")
    return ckpt


@contextlib.contextmanager
def quiet_downloads(quiet: bool) -> Iterator[None]:
    """``--quiet``: no "downloading URL" / "failed" lines from minigan.data, for this command only.

    The level is put back afterwards, so that ``main`` called again in the same process
    (the tests, a notebook) logs as before.
    """
    log = logging.getLogger("minigan.data.download")
    before = log.level
    if quiet:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(before)
