"""Package attributes imported on first use (PEP 562), for ``minigan.data`` and ``minigan.viz``.

``import minigan.viz`` must not import matplotlib, and ``import minigan.data`` must not parse IDX
readers or Pillow, until a name from them is used: the package's ``__init__`` lists its names and
the submodule that defines each, and :func:`lazy_module` builds the module's ``__getattr__`` and
``__dir__`` from that table.

Read next: ``minigan/data/__init__.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_module"]


def lazy_module(
    package: str, submodules: Sequence[str], exports: Mapping[str, str], namespace: Mapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__, __dir__`` for ``package``: ``exports`` maps a name to the submodule defining it."""

    def __getattr__(name: str) -> Any:
        # Called only for names not found in the module, i.e. on first use.
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *submodules, *exports})

    return __getattr__, __dir__
