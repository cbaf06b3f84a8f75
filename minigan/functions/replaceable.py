"""Primitives that a faster, equal implementation may stand in for.

``minigan/functions/`` is the textbook: each primitive's maths, written once and plainly. The
tricks that make training fast (chunked buffers, threads, first-order backward passes on raw
arrays, ...) live apart, in ``minigan/kernels/``, as *subclasses* of the textbook primitives
that compute the same numbers. A textbook primitive marked ``@replaceable`` can be replaced:
while kernels are on (the default), constructing it, e.g. ``Conv2d(stride, pads)``, gives the
registered faster subclass instead. The dependency runs one way only: the kernels package
depends on this one and registers itself when ``import minigan`` loads it; the textbook never
refers to the kernels.

Kernels off, the textbook runs alone: ``MINIGAN_KERNELS=0`` in the environment, or
``with minigan.kernels.textbook(): ...`` (see :func:`use_kernels`). The tests run both ways
and hold the two equal.

Read next: ``minigan/functions/basic.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, TypeVar

__all__ = ["kernels_enabled", "register", "registered", "replaceable", "use_kernels"]

T = TypeVar("T", bound=type)

#: textbook primitive -> its faster equal (filled in by the kernels package when it loads).
_faster: dict[type, type] = {}
#: The switch, like the grad mode: scoped, explicit, read at every construction.
_enabled: bool = os.environ.get("MINIGAN_KERNELS", "1").strip() not in ("0", "false", "off", "no")


def replaceable(cls: T) -> T:
    """Class decorator: constructing ``cls`` gives its registered faster subclass while kernels are on."""

    def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
        if _enabled and klass is cls:
            klass = _faster.get(cls, cls)
        return object.__new__(klass)

    cls.__new__ = __new__  # type: ignore[method-assign]
    return cls


def register(textbook: type, fast: type) -> None:
    """Make ``fast`` (a subclass of ``textbook``, computing the same numbers) stand in for it."""
    if not issubclass(fast, textbook):
        raise TypeError(f"{fast.__name__} must subclass {textbook.__name__} to replace it")
    if "__new__" not in vars(textbook):
        raise TypeError(f"{textbook.__name__} is not marked @replaceable")
    _faster[textbook] = fast


def registered() -> dict[type, type]:
    """The replacements in force when kernels are on: ``{textbook class: faster class}``."""
    return dict(_faster)


def kernels_enabled() -> bool:
    """True when the faster kernels stand in for the textbook primitives."""
    return _enabled


@contextlib.contextmanager
def use_kernels(enabled: bool) -> Iterator[None]:
    """Turn the kernels on or off inside a ``with`` block (``minigan.kernels.textbook()`` is ``use_kernels(False)``)."""
    global _enabled
    previous, _enabled = _enabled, enabled
    try:
        yield
    finally:
        _enabled = previous


@contextlib.contextmanager
def textbook_for(*textbook: type) -> Iterator[None]:
    """Inside a ``with`` block, build these primitives' textbook versions, the other kernels staying on.

    For measuring which replacement pays on a backend (``benchmarks/profile_step.py --textbook-for``).
    """
    unknown = [cls.__name__ for cls in textbook if cls not in _faster]
    if unknown:
        raise ValueError(f"no kernel replaces {', '.join(unknown)}; replaced: {sorted(c.__name__ for c in _faster)}")
    saved = {cls: _faster.pop(cls) for cls in textbook}
    try:
        yield
    finally:
        _faster.update(saved)
