"""Primitive differentiable functions: arithmetic, reductions, shapes, elementwise math.

Each primitive is a :class:`~minigan.autograd.Function` whose ``forward`` works
on raw arrays of the active backend and whose ``backward`` is written with the
functions in this file, so it is differentiable again (second derivatives).

The derivative rules, for an upstream gradient ``gy = dL/dy``:

=============  =====================  =========================================
y              dL/da                  dL/db
=============  =====================  =========================================
a + b          gy                     gy
a - b          gy                     -gy
a * b          gy * b                 gy * a
a / b          gy / b                 -gy * a / b**2
a ** c         gy * c * a**(c-1)
a @ b          gy @ b.T               a.T @ gy
exp(a)         gy * y
log(a)         gy / a
=============  =====================  =========================================

When an input was broadcast in the forward pass its gradient is summed back to
its own shape (:func:`sum_to`), because every broadcast copy contributed to L.

At the bottom of the file the Python operators of :class:`Tensor` (``+``,
``*``, ``@``, ``x[i]``, ``x.sum()``...) are attached to these functions.

Read next: ``minigan/functions/activations.py``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor
from minigan.functions.replaceable import replaceable

Axis = int | tuple[int, ...] | None


def _shape(x: Any) -> tuple[int, ...] | None:
    """Shape of a Tensor or array; None for Python numbers (constants)."""
    if isinstance(x, Tensor):
        return x.shape
    s = getattr(x, "shape", None)
    return None if s is None else tuple(s)


def _unbroadcast(g: Tensor, x: Any) -> Tensor | None:
    """Sum ``g`` down to the shape of input ``x`` (None for constants)."""
    if not isinstance(x, Tensor):
        return None
    return g if g.shape == x.shape else sum_to(g, x.shape)


# ----------------------------------------------------------------------------
# Arithmetic
# ----------------------------------------------------------------------------
class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return _unbroadcast(gy, a), _unbroadcast(gy, b)


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        gb = _unbroadcast(-gy, b) if self.needs_input_grad[1] else None
        return _unbroadcast(gy, a), gb


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        ga = _unbroadcast(gy * b, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(gy * a, b) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = _unbroadcast(gy / b, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(-gy * a / (b * b), b) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class Pow(Function):
    """``a ** c`` for a constant exponent ``c``."""

    def __init__(self, c: float) -> None:
        self.c = B.py_scalar(c)

    def forward(self, a):
        return a**self.c

    def backward(self, gy):
        (a,) = self.inputs
        return gy * (self.c * a ** (self.c - 1))


class MatMul(Function):
    """Matrix product of the last two axes (leading axes broadcast)."""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        ga = _unbroadcast(matmul(gy, matrix_transpose(b)), a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(matmul(matrix_transpose(a), gy), b) if self.needs_input_grad[1] else None
        return ga, gb


@replaceable
class Linear(Function):
    """y = x @ W^T (+ b) with W stored (out, in), as in PyTorch: the Dense layer's product.

    A primitive rather than ``matmul(x, matrix_transpose(W)) + b`` for the *layout* of W's
    gradient: ``gW = gy^T @ x`` comes out as a C-ordered (out, in) array, the layout of W and of
    the optimizer's moments. Through the composite it would be the transpose of an (in, out)
    product, an F-ordered view, and Adam's element-wise passes over W, its gradient and its
    moments would then walk memory with a stride (measured: Adam 1.8x slower than PyTorch's).
    """

    def forward(self, x, w, b=None):
        y = x @ B.xp().matrix_transpose(w)  # (..., in) @ (in, out) -> (..., out)
        if b is not None:
            y += b  # (out,) broadcast over the rows; y is ours, so in place is safe
        return y

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        has_bias = len(self.inputs) == 3
        gx = matmul(gy, w) if self.needs_input_grad[0] else None  # (..., out) @ (out, in) -> (..., in)
        gw = gb = None
        if self.needs_input_grad[1] or (has_bias and self.needs_input_grad[2]):  # not through a frozen layer
            out_f, in_f = w.shape
            gy2 = reshape(gy, (-1, out_f))  # (..., out) -> (M, out): every leading axis is a sample
            if self.needs_input_grad[1]:
                x2 = reshape(x, (-1, in_f))  # (..., in) -> (M, in)
                gw = matmul(matrix_transpose(gy2), x2)  # (out, M) @ (M, in) -> (out, in), C-ordered
            if has_bias and self.needs_input_grad[2]:
                gb = sum(gy2, axis=0)  # (M, out) -> (out,)
        return (gx, gw, gb) if has_bias else (gx, gw)


def add(a: Any, b: Any) -> Tensor:
    """a + b (broadcasting)."""
    return Add()(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b (broadcasting)."""
    return Sub()(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b (broadcasting)."""
    return Mul()(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b (broadcasting)."""
    return Div()(a, b)


def neg(a: Any) -> Tensor:
    """-a."""
    return Neg()(a)


def pow(a: Any, c: float) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """a ** c for a constant exponent c."""
    return Pow(c)(a)


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b over the last two axes; both operands need at least two dimensions."""
    return MatMul()(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight^T (+ bias): x (..., in), weight (out, in), bias (out,) -> (..., out); see :class:`Linear`."""
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)


# ----------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------
def _norm_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def sum_array(x: Any, axes: tuple[int, ...], keepdims: bool = False) -> Any:
    """``xp.sum(x, axis=axes)`` on a raw array (``axes`` sorted), summing the batch axis 0 faster.

    Why not one ``xp.sum``: the sums that training does most reduce the batch axis, and NumPy
    is slow at them (measured on (64..256, 64..512) float32 arrays):

    - (N, F) over axis 0 (a Dense bias gradient, batch-norm statistics): the product
      ``ones(N) @ x`` streams the matrix once in BLAS, 2x faster than NumPy's row-by-row sum;
    - (N, C, H, W) over (0, 2, 3) (a conv bias gradient, batch-norm statistics): summing axis 0
      first (N - 1 full-size adds at memory speed) and then the small (C, H, W) remainder is
      2-4x faster than the one call, whatever the memory layout.
    """
    xp = B.xp()
    if not axes or axes[0] != 0 or x.ndim < 2 or not (x.dtype == xp.float32 or x.dtype == xp.float64):
        return xp.sum(x, axis=axes, keepdims=keepdims)
    if x.ndim == 2:
        s = xp.ones((1, x.shape[0]), dtype=x.dtype) @ x  # (1, N) @ (N, F) -> (1, F)
        if axes == (0,):
            return s if keepdims else xp.reshape(s, (x.shape[1],))
        s = xp.sum(s)  # axes (0, 1): everything
    else:
        s = xp.sum(x, axis=0)  # (N, ...) -> (...)
        if len(axes) > 1:
            s = xp.sum(s, axis=tuple(a - 1 for a in axes[1:]))
    return xp.reshape(s, _keepdims_shape(x.shape, axes)) if keepdims else s


class Sum(Function):
    def __init__(self, axis: Axis, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _norm_axis(self.axis, x.ndim)
        return sum_array(x, self.axes, self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        if not self.keepdims:  # (reduced shape) -> (x's shape with 1s on the reduced axes)
            gy = reshape(gy, _keepdims_shape(x.shape, self.axes))
        return broadcast_to(gy, x.shape)


class Max(Function):
    """Maximum over axes. The gradient goes to the maximal elements (shared
    equally between ties, as in ``torch.amax``)."""

    def __init__(self, axis: Axis, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _norm_axis(self.axis, x.ndim)
        return B.xp().max(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        xp = B.xp()
        keep = _keepdims_shape(x.shape, self.axes)
        y = xp.reshape(self.output().data, keep)
        # The mask is a constant: max is piecewise linear, so its second derivative is 0.
        mask = xp.astype(x.data == y, x.dtype)
        mask = mask / xp.sum(mask, axis=self.axes, keepdims=True)
        return broadcast_to(reshape(gy, keep), x.shape) * mask


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes by default)."""
    return Sum(axis, keepdims)(x)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes by default): sum / count."""
    shape = _shape(x)
    count = 1
    for a in _norm_axis(axis, len(shape)):
        count *= shape[a]
    return Sum(axis, keepdims)(x) / count  # a Python int keeps float32 float32


def var(x: Any, axis: Axis = None, keepdims: bool = False, correction: int = 0) -> Tensor:
    """Variance over ``axis`` (biased, ``correction=0``, as in batch norm)."""
    mu = mean(x, axis=axis, keepdims=True)
    d = x - mu
    shape = _shape(x)
    count = 1
    for a in _norm_axis(axis, len(shape)):
        count *= shape[a]
    return sum(d * d, axis=axis, keepdims=keepdims) / (count - correction)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``."""
    return Max(axis, keepdims)(x)


# ----------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------
class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        return B.xp().reshape(x, self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Permute(Function):
    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x):
        return B.xp().permute_dims(x, self.axes)

    def backward(self, gy):
        # The inverse permutation sends every axis back where it came from.
        inverse = tuple(sorted(range(len(self.axes)), key=lambda i: self.axes[i]))
        return permute(gy, inverse)


class BroadcastTo(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        return B.xp().broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """Sum a broadcast array back down to ``shape`` (the adjoint of broadcast_to)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        # Axes that broadcasting added in front, plus axes that were 1 in `shape`.
        axes = tuple(range(lead)) + tuple(
            lead + i for i, d in enumerate(self.shape) if d == 1 and x.shape[lead + i] != 1
        )
        y = sum_array(x, axes, keepdims=True) if axes else x
        return B.xp().reshape(y, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class GetItem(Function):
    """``x[key]`` for basic indexing (ints, slices, None, Ellipsis)."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        return GetItemGrad(self.key, self.inputs[0].shape)(gy)


class GetItemGrad(Function):
    """Scatter ``gy`` into zeros of the input's shape at ``key`` (adjoint of GetItem)."""

    def __init__(self, key: Any, shape: tuple[int, ...]) -> None:
        self.key, self.shape = key, shape

    def forward(self, gy):
        gx = B.xp().zeros(self.shape, dtype=gy.dtype)
        gx[self.key] = gy
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.key)


class Concat(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs):
        return B.xp().concat(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        axis = self.axis % gy.ndim
        for x in self.inputs:
            n = x.shape[axis]
            # (the trailing Ellipsis: the array API does not allow partial multi-axis keys)
            key = (slice(None),) * axis + (slice(start, start + n), Ellipsis)
            grads.append(getitem(gy, key))
            start += n
        return tuple(grads)


def reshape(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Reshape (one entry may be -1)."""
    if isinstance(x, Tensor) and x.shape == tuple(shape):
        return x
    return Reshape(tuple(shape))(x)


def permute(x: Any, axes: Sequence[int]) -> Tensor:
    """Reorder axes: ``permute(x, (0, 2, 3, 1))`` turns NCHW into NHWC."""
    return Permute(tuple(axes))(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Reverse the axes (or permute them as ``axes`` says)."""
    if axes is None:
        axes = tuple(reversed(range(_shape(x).__len__())))
    return Permute(tuple(axes))(x)


def matrix_transpose(x: Any) -> Tensor:
    """Swap the last two axes."""
    n = len(_shape(x))
    return Permute(tuple(range(n - 2)) + (n - 1, n - 2))(x)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Broadcast to ``shape``; the backward pass sums the copies."""
    if isinstance(x, Tensor) and x.shape == tuple(shape):
        return x
    return BroadcastTo(tuple(shape))(x)


def sum_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting)."""
    if isinstance(x, Tensor) and x.shape == tuple(shape):
        return x
    return SumTo(tuple(shape))(x)


def getitem(x: Any, key: Any) -> Tensor:
    """``x[key]`` with basic indexing (ints, slices, None, Ellipsis).

    NumPy accepts keys shorter than ``x.ndim`` and ``None`` (new axis); the
    array API standard, which the strict backend enforces, wants one entry per
    axis and no ``None``. So the key is normalised here: a missing trailing
    ``...`` is added, and ``None`` entries become a reshape after the indexing.
    """
    key = key if isinstance(key, tuple) else (key,)
    if not any(k is Ellipsis for k in key):
        key = key + (Ellipsis,)  # x[0] -> x[0, ...]
    if not any(k is None for k in key):
        return GetItem(key)(x)
    y = GetItem(tuple(k for k in key if k is not None))(x)
    # Output shape: 1 for every None, the kept axes of y elsewhere (ints drop their axis).
    n_indexed = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    kept = iter(y.shape)
    shape: list[int] = []
    for k in key:
        if k is None:
            shape.append(1)
        elif k is Ellipsis:
            shape.extend(next(kept) for _ in range(len(_shape(x)) - n_indexed))
        elif isinstance(k, slice):
            shape.append(next(kept))
    return reshape(y, tuple(shape))


def concat(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Concat(axis)(*xs)


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    expanded = []
    for x in xs:
        s = list(_shape(x))
        a = axis % (len(s) + 1)
        expanded.append(reshape(x, tuple(s[:a] + [1] + s[a:])))
    return concat(expanded, axis=axis)


def flatten(x: Any, start_axis: int = 1) -> Tensor:
    """Flatten all axes from ``start_axis`` on: (N, C, H, W) -> (N, C*H*W)."""
    s = _shape(x)
    return reshape(x, tuple(s[:start_axis]) + (-1,))


# ----------------------------------------------------------------------------
# Elementwise math
# ----------------------------------------------------------------------------
class Exp(Function):
    def forward(self, x):
        return B.xp().exp(x)

    def backward(self, gy):
        return gy * self.output()  # d exp(x)/dx = exp(x): reuse the output


class Log(Function):
    def forward(self, x):
        return B.xp().log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    def forward(self, x):
        return B.xp().log1p(x)

    def backward(self, gy):
        return gy / (1.0 + self.inputs[0])


class Sqrt(Function):
    def forward(self, x):
        return B.xp().sqrt(x)

    def backward(self, gy):
        return gy / (2.0 * self.output())


class Abs(Function):
    def forward(self, x):
        return B.xp().abs(x)

    def backward(self, gy):
        # sign(x) is piecewise constant, so it can be a raw constant array.
        return gy * B.xp().sign(self.inputs[0].data)


class Clip(Function):
    def __init__(self, low: float | None, high: float | None) -> None:
        self.low, self.high = B.py_scalar(low), B.py_scalar(high)

    def forward(self, x):
        return B.xp().clip(x, self.low, self.high)

    def backward(self, gy):
        xp = B.xp()
        x = self.inputs[0].data
        inside = xp.ones_like(x, dtype=xp.bool)
        if self.low is not None:
            inside = inside & (x >= self.low)
        if self.high is not None:
            inside = inside & (x <= self.high)
        return gy * xp.astype(inside, x.dtype)


class Where(Function):
    """``cond ? a : b`` elementwise; ``cond`` is a constant boolean array."""

    def __init__(self, cond: Any) -> None:
        self.cond = cond.data if isinstance(cond, Tensor) else cond

    def forward(self, a, b):
        return B.xp().where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        m = B.xp().astype(self.cond, gy.dtype)
        ga = _unbroadcast(gy * m, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(gy * (1.0 - m), b) if self.needs_input_grad[1] else None
        return ga, gb


class Maximum(Function):
    """Elementwise maximum. On ties the gradient goes to ``b`` (so ``relu``'s
    gradient at 0 is 0 and ``leaky_relu``'s is its slope, as in PyTorch)."""

    def forward(self, a, b):
        return B.xp().maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ad = a.data if isinstance(a, Tensor) else a
        bd = b.data if isinstance(b, Tensor) else b
        m = B.xp().astype(ad > bd, gy.dtype)  # constant mask: max is piecewise linear
        ga = _unbroadcast(gy * m, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(gy * (1.0 - m), b) if self.needs_input_grad[1] else None
        return ga, gb


class Cast(Function):
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return B.xp().astype(x, self.dtype)

    def backward(self, gy):
        return cast(gy, self.in_dtype)


def exp(x: Any) -> Tensor:
    """e**x."""
    return Exp()(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return Log()(x)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p()(x)


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return Sqrt()(x)


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x| (gradient sign(x), 0 at 0)."""
    return Abs()(x)


def clip(x: Any, low: float | None = None, high: float | None = None) -> Tensor:
    """Clamp to [low, high]; no gradient flows where the value was clipped."""
    return Clip(low, high)(x)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if cond else b`` (cond: boolean array or Tensor, no gradient)."""
    return Where(cond)(a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum (broadcasting)."""
    return Maximum()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum: -max(-a, -b)."""
    return -maximum(-a, -b)


def cast(x: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype`` (a dtype of the backend or a name like ``"float64"``)."""
    if isinstance(dtype, str):
        dtype = getattr(B.xp(), dtype)
    if isinstance(x, Tensor) and x.dtype == dtype:
        return x
    return Cast(dtype)(x)


# ----------------------------------------------------------------------------
# Tensor operators
# ----------------------------------------------------------------------------
def _compare(op: str):
    def method(self: Tensor, other: Any) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return Tensor(getattr(self.data, op)(o))

    return method


def _bool(self: Tensor) -> bool:
    # Comparisons return Tensors, so without this every Tensor would be truthy and
    # `if x == y:` or `x in some_list` would silently be True (as in PyTorch, refuse).
    if self.size != 1:
        raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .item() on one element")
    return bool(self.item())


def _install_tensor_operators() -> None:
    """Give Tensor its operators; defined here so autograd.py holds only the engine."""
    T = Tensor
    T.__add__ = lambda a, b: Add()(a, b)
    T.__radd__ = lambda a, b: Add()(b, a)
    T.__sub__ = lambda a, b: Sub()(a, b)
    T.__rsub__ = lambda a, b: Sub()(b, a)
    T.__mul__ = lambda a, b: Mul()(a, b)
    T.__rmul__ = lambda a, b: Mul()(b, a)
    T.__truediv__ = lambda a, b: Div()(a, b)
    T.__rtruediv__ = lambda a, b: Div()(b, a)
    T.__neg__ = lambda a: Neg()(a)
    T.__pow__ = lambda a, c: Pow(c)(a)
    T.__matmul__ = lambda a, b: MatMul()(a, b)
    T.__rmatmul__ = lambda a, b: MatMul()(b, a)
    T.__getitem__ = getitem
    for op in ("__gt__", "__ge__", "__lt__", "__le__", "__eq__", "__ne__"):
        setattr(T, op, _compare(op))
    T.__hash__ = object.__hash__  # defining __eq__ would otherwise drop hashing
    T.__bool__ = _bool
    T.sum = sum
    T.mean = mean
    T.max = max
    T.reshape = lambda x, *shape: reshape(
        x, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    )
    T.transpose = transpose
    T.permute = lambda x, *axes: permute(x, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)
    T.T = property(lambda x: transpose(x))
    T.exp = exp
    T.log = log
    T.sqrt = sqrt
    T.abs = abs
    T.clip = clip
    T.flatten = flatten
    T.astype = cast


_install_tensor_operators()
