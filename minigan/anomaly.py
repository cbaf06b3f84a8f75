"""Anomaly mode: stop at the first NaN/Inf and say which operation, in which layer, made it.

``with minigan.detect_anomaly(): loss.backward()`` checks every forward and backward result.
The engine (``minigan/autograd.py``) asks two things of this module, and only while the mode is
on: :func:`check_finite` after each forward pass, and :func:`checked_backward` instead of a
plain ``f.backward(gy)``. ``Module.__call__`` pushes each layer on :data:`module_stack`, so an
error can name the layer. Off (the default), the engine pays one flag test per operation.

Read next: ``minigan/autograd.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from minigan import backend as B

__all__ = ["AnomalyError", "current_layer", "detect_anomaly", "is_anomaly_enabled"]

#: The switch (read by the engine at every operation).
enabled = False
#: Layers being called while anomaly mode is on (pushed by ``Module.__call__``), innermost last.
module_stack: list[Any] = []
#: The Function whose backward is running: the operations its backward applies are reported as part of it.
_backward_of: Any = None


class AnomalyError(FloatingPointError):
    """Anomaly mode found a NaN or Inf; the message names the operation and, where known, the layer."""


def is_anomaly_enabled() -> bool:
    """True inside ``with detect_anomaly():``."""
    return enabled


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside ``with detect_anomaly():`` every forward and backward result is checked for NaN/Inf.

    The first non-finite value raises :class:`AnomalyError` naming the operation (the
    :class:`~minigan.autograd.Function` class, e.g. ``Log``), whether it happened in the forward
    or the backward pass, and the layer that was running (e.g. ``'2' (Dense(8 -> 1))``). Each
    check reads the array back (a device sync on a GPU), so use it to debug, not to train.
    """
    global enabled
    previous, enabled = enabled, True
    try:
        yield
    finally:
        enabled = previous


def current_layer() -> str | None:
    """Dotted name and description of the innermost layer being called (anomaly mode only)."""
    if not module_stack:
        return None
    parts: list[str] = []
    for parent, child in zip(module_stack, module_stack[1:]):
        found = next((k for k, m in getattr(parent, "_modules", {}).items() if m is child), None)
        parts.append(found if found is not None else type(child).__name__)
    inner = module_stack[-1]
    desc = f"{type(inner).__name__}({inner.extra_repr()})" if hasattr(inner, "extra_repr") else type(inner).__name__
    root = type(module_stack[0]).__name__
    return f"{'.'.join(parts)!r} of {root} ({desc})" if parts else desc


def check_finite(f: Any, array: Any, where: str, layer: str | None) -> None:
    """Raise :class:`AnomalyError` when ``array`` (a result of ``f``) holds a NaN or an Inf."""
    xp = B.xp()
    if not xp.isdtype(array.dtype, ("real floating", "complex floating")):
        return
    finite = xp.isfinite(array)
    if bool(B.to_host(xp.all(finite))):  # a read-back per operation: why anomaly mode is for debugging
        return
    n_nan = int(B.to_host(xp.sum(xp.astype(xp.isnan(array), xp.int64))))
    n_bad = int(B.to_host(xp.sum(xp.astype(~finite, xp.int64))))
    what = f"{n_nan} NaN and {n_bad - n_nan} Inf values" if n_nan else f"{n_bad} Inf values"
    op = f"{type(f).__name__}.{where}"
    if _backward_of is not None and _backward_of is not f:  # an operation inside another one's backward
        op = f"{type(_backward_of).__name__}.backward (in its {type(f).__name__})"
        layer = _backward_of.layer
    at = f" in layer {layer}" if layer else ""
    raise AnomalyError(
        f"anomaly mode: {op} produced {what} (shape {tuple(array.shape)}){at}. "
        "Check that layer's inputs and weights (a log or division of 0, an overflowing exp, a too large "
        "learning rate), or lower the learning rate / add gradient clipping."
    )


def checked_backward(f: Any, gy: Any) -> Any:
    """``f.backward(gy)`` with every result, and every operation inside it, checked for NaN/Inf."""
    global _backward_of
    previous, _backward_of = _backward_of, f
    try:
        gxs = f.backward(gy)
        for gx in gxs if isinstance(gxs, tuple) else (gxs,):
            if gx is not None:
                check_finite(f, gx.data if hasattr(gx, "creator") else B.xp().asarray(gx), "backward", f.layer)
        return gxs
    finally:
        _backward_of = previous
