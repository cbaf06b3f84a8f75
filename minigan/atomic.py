"""Files written whole or not at all: a temporary file beside the target, then an atomic rename.

Checkpoints, downloaded data sets and the shipped classifier's weights are all written this
way, so a crash, a full disk or Ctrl-C can leave at most a stray temporary file, never a
half-written file under the real name (which a later run would then trust).

Read next: ``minigan/checkpoint.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", permissions: int = 0o644) -> Iterator[IO]:
    """``with atomic_write(path) as f: ...`` writes ``f`` to ``path`` only if the block succeeds.

    The bytes go to a temporary file in the same folder (so the rename cannot cross file
    systems), are flushed to disk (``fsync``), and ``os.replace`` then renames the file over
    ``path``: atomic on POSIX and Windows, readers see the old file or the new one. On any
    exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, permissions)  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
