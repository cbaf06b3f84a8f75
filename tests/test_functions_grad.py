"""Gradient checks of every differentiable function in ``minigan.functions``.

Each test draws shapes / axes / parameters with hypothesis and compares
autograd with float64 central differences (``minigan.gradcheck``), to first
order for every function and to second order for everything a discriminator
can contain. Values come from a NumPy generator seeded by hypothesis, shaped
so that piecewise-linear functions are never evaluated at a kink (|x| >= 0.1
for relu-like functions, well separated values for max).

Convolution, pooling and upsampling live in ``test_conv_pool.py``. The last
tests here check that every public function is covered (by parsing the
``covers(...)`` decorators of both files) and that float32 stays float32.
"""

from __future__ import annotations

import ast
import pathlib

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from conftest import T, covers, host
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functions as F
from minigan import backend as B


@pytest.fixture(autouse=True, scope="module")
def _float64_default():
    with minigan.default_dtype("float64"):
        yield


def gc(fn, inputs, order=1, **kw):
    assert minigan.gradcheck(fn, inputs, order=order, **kw)


def rng_of(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**20), label="seed"))


def away_from_zero(a, margin=0.1):
    """Push every value at least ``margin`` away from 0 (no kinks for relu/abs/max)."""
    return np.where(a >= 0, a + margin, a - margin)


def distinct(rng, shape, spacing=0.1):
    """Values that are pairwise at least ``spacing`` apart, in random order (no max ties)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 4)).reshape(shape)


small_shape = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def draw_axis(data, ndim):
    """None, an int or a tuple of distinct axes (negative ones too)."""
    kind = data.draw(st.sampled_from(["none", "int", "tuple"]), label="axis kind")
    if kind == "none" or ndim == 0:
        return None
    if kind == "int":
        return data.draw(st.integers(-ndim, ndim - 1), label="axis")
    axes = data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True), label="axes")
    return tuple(axes)


# ----------------------------------------------------------------------------
# Arithmetic (with broadcasting)
# ----------------------------------------------------------------------------
broadcast_pair = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@covers("add", "sub", "mul", "div", "neg")
@given(st.data(), broadcast_pair, st.sampled_from(["add", "sub", "mul", "div", "neg"]))
def test_arithmetic_broadcasting(data, shapes, op):
    rng = rng_of(data)
    sa, sb = shapes.input_shapes
    a = rng.standard_normal(sa)
    b = rng.standard_normal(sb)
    if op == "div":
        b = np.sign(b) * (0.5 + np.abs(b))  # keep the denominator away from 0
    fn = {
        "add": lambda a, b: F.add(a, b),
        "sub": lambda a, b: F.sub(a, b),
        "mul": lambda a, b: F.mul(a, b),
        "div": lambda a, b: F.div(a, b),
        "neg": lambda a, b: F.neg(a) * b,
    }[op]
    gc(fn, [T(a), T(b)], order=2)


@given(st.data(), broadcast_pair)
def test_operators_match_functions(data, shapes):
    """+ - * / with Tensors and Python numbers on either side (the __r*__ methods)."""
    rng = rng_of(data)
    sa, sb = shapes.input_shapes
    a, b = rng.standard_normal(sa), 1.5 + rng.uniform(size=sb)
    gc(lambda a, b: (2.0 - a) * b / 3.0 + 1.0 / b - a / b + (-a) + 0.5 * a + a * 2 - 1, [T(a), T(b)], order=2)


@covers("pow", order=2)
@given(st.data(), small_shape, st.sampled_from([2, 3, -1, 0.5, 1.5, -2.0, 1]))
def test_pow(data, shape, c):
    rng = rng_of(data)
    x = rng.uniform(0.5, 2.0, shape)  # positive: fractional powers are defined
    gc(lambda x: F.pow(x, c), [T(x)], order=2)
    gc(lambda x: x**c, [T(x)], order=1)


@covers("linear", order=2)
@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([(), (2,), (2, 1)]))
def test_linear(data, n, k, m, batch):
    """y = x @ W^T + b with W (out, in), x with and without leading batch axes; values as matmul."""
    rng = rng_of(data)
    x = rng.standard_normal(batch + (n, k))
    w = rng.standard_normal((m, k))
    b = rng.standard_normal((m,))
    gc(lambda x, w, b: F.linear(x, w, b) * F.linear(x, w), [T(x), T(w), T(b)], order=2)
    np.testing.assert_allclose(host(F.linear(T(x), T(w), T(b))), x @ w.T + b, rtol=1e-12, atol=1e-12)


def test_linear_weight_gradient_has_the_weights_layout():
    """W's gradient comes out C-ordered like W (so the optimizer's element-wise passes run at full speed)."""
    w = T(np.ones((5, 3)))
    F.linear(T(np.ones((4, 3))), w).sum().backward()
    g = host(w.grad)
    np.testing.assert_array_equal(g, np.full((5, 3), 4.0))
    if B.get_backend().name == "numpy":
        assert w.grad.data.flags["C_CONTIGUOUS"]


@covers("matmul", order=2)
@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([(), (2,), (2, 1)]))
def test_matmul_dense(data, n, k, m, batch):
    """y = x @ W + b (a dense layer), with and without leading batch axes on x."""
    rng = rng_of(data)
    x = rng.standard_normal(batch + (n, k))
    w = rng.standard_normal((k, m))
    b = rng.standard_normal((m,))
    gc(lambda x, w, b: F.add(F.matmul(x, w), b), [T(x), T(w), T(b)], order=2)
    gc(lambda x, w: x @ w, [T(x), T(w)], order=1)


@given(st.data(), st.integers(1, 3))
def test_matmul_batch_broadcast_both_sides(data, n):
    """(2, 1, n, 3) @ (3, 3, 2): the weight is broadcast over batch axes, so its gradient is summed."""
    rng = rng_of(data)
    a = rng.standard_normal((2, 1, n, 3))
    b = rng.standard_normal((3, 3, 2))
    gc(F.matmul, [T(a), T(b)], order=2)


# ----------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------
@covers("sum", "mean", order=2)
@given(st.data(), small_shape, st.booleans(), st.sampled_from(["sum", "mean"]))
def test_sum_mean(data, shape, keepdims, op):
    rng = rng_of(data)
    axis = draw_axis(data, len(shape))
    x = rng.standard_normal(shape)
    f = getattr(F, op)
    # The square makes the second derivative non-trivial.
    gc(lambda x: f(x * x, axis=axis, keepdims=keepdims), [T(x)], order=2)
    ref = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(host(f(T(x), axis=axis, keepdims=keepdims)), ref, rtol=1e-12)


@covers("var")
@given(st.data(), small_shape, st.booleans())
def test_var(data, shape, keepdims):
    rng = rng_of(data)
    axis = draw_axis(data, len(shape))
    x = rng.standard_normal(shape)
    n = x.size if axis is None else int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
    correction = data.draw(st.sampled_from([0, 1] if n > 1 else [0]))
    gc(lambda x: F.var(x, axis=axis, keepdims=keepdims, correction=correction), [T(x)], order=2)
    ref = np.var(x, axis=axis, keepdims=keepdims, ddof=correction)
    np.testing.assert_allclose(host(F.var(T(x), axis=axis, keepdims=keepdims, correction=correction)), ref, rtol=1e-10)


@covers("max", order=2)
@given(st.data(), small_shape, st.booleans())
def test_max_reduction(data, shape, keepdims):
    rng = rng_of(data)
    axis = draw_axis(data, len(shape))
    x = distinct(rng, shape)  # no ties: max is differentiable there
    gc(lambda x: F.max(x * x * x, axis=axis, keepdims=keepdims), [T(x)], order=2)
    np.testing.assert_allclose(host(F.max(T(x), axis=axis, keepdims=keepdims)), np.max(x, axis=axis, keepdims=keepdims))


def test_max_ties_share_the_gradient():
    """Where several elements tie for the max, they share the gradient equally (like torch.amax)."""
    x = T([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    F.max(x, axis=1).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


# ----------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------
@covers("reshape", "flatten", order=2)
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
def test_reshape_flatten(data, shape):
    rng = rng_of(data)
    x = rng.standard_normal(shape)
    # A new shape with the same size: the dims shuffled, two neighbours maybe merged, maybe a -1.
    dims = data.draw(st.permutations(list(shape)), label="dims")
    if len(dims) > 1 and data.draw(st.booleans(), label="merge"):
        dims = [dims[0] * dims[1]] + dims[2:]
    if data.draw(st.booleans(), label="use -1"):
        dims[data.draw(st.integers(0, len(dims) - 1))] = -1
    new = tuple(dims)
    gc(lambda x: F.reshape(x * x, new), [T(x)], order=2)
    gc(lambda x: x.reshape(*new), [T(x)])
    start = data.draw(st.integers(0, len(shape) - 1), label="start_axis")
    gc(lambda x: F.flatten(x * x, start), [T(x)], order=2)
    assert F.flatten(T(x), start).shape == shape[:start] + (int(np.prod(shape[start:])),)


@covers("permute", "transpose", "matrix_transpose")
@given(st.data(), hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=3))
def test_permute_transpose(data, shape):
    rng = rng_of(data)
    x = rng.standard_normal(shape)
    axes = tuple(data.draw(st.permutations(range(len(shape))), label="axes"))
    gc(lambda x: F.permute(x * x, axes), [T(x)], order=2)
    gc(lambda x: x.permute(*axes), [T(x)])
    gc(lambda x: F.transpose(x), [T(x)])
    gc(lambda x: F.transpose(x, axes), [T(x)])
    gc(lambda x: x.T, [T(x)])
    gc(lambda x: F.matrix_transpose(x), [T(x)])
    np.testing.assert_array_equal(host(F.permute(T(x), axes)), np.transpose(x, axes))
    np.testing.assert_array_equal(host(F.matrix_transpose(T(x))), np.swapaxes(x, -1, -2))


@st.composite
def broadcastable_to(draw):
    """(small shape, a larger shape it broadcasts to): leading axes added, 1s expanded."""
    small = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    big = tuple(lead) + tuple(draw(st.integers(1, 3)) if d == 1 else d for d in small)
    return small, big


@covers("broadcast_to", "sum_to", order=2)
@given(st.data(), broadcastable_to())
def test_broadcast_to_and_sum_to(data, shapes):
    small, big = shapes
    rng = rng_of(data)
    xs, xb = rng.standard_normal(small), rng.standard_normal(big)
    gc(lambda x: F.broadcast_to(x * x, big), [T(xs)], order=2)
    gc(lambda x: F.sum_to(x * x, small), [T(xb)], order=2)
    # sum_to is the adjoint of broadcast_to: <broadcast(a), b> = <a, sum_to(b)>.
    lhs = np.sum(host(F.broadcast_to(T(xs), big)) * xb)
    rhs = np.sum(xs * host(F.sum_to(T(xb), small)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


@st.composite
def index_keys(draw, shape):
    """A basic-indexing key as NumPy accepts it: ints, slices (negative steps too), maybe
    fewer entries than axes, maybe an Ellipsis, maybe None (new axis) entries."""
    key = []
    for d in shape:
        if draw(st.booleans()):
            key.append(draw(st.integers(-d, d - 1)))
        elif draw(st.booleans()):
            start = draw(st.integers(0, d - 1))
            stop = draw(st.integers(start + 1, d))
            key.append(slice(start, stop, draw(st.integers(1, 2))))
        else:  # a reversed slice
            start = draw(st.integers(0, d - 1))
            key.append(slice(start, None, draw(st.integers(-2, -1))))
    # Keep only a prefix (NumPy fills in the rest) or replace a stretch with an Ellipsis.
    cut = draw(st.integers(0, len(key)))
    if draw(st.booleans()):
        key = key[:cut]
    elif draw(st.booleans()):
        end = draw(st.integers(cut, len(key)))
        key = key[:cut] + [Ellipsis] + key[end:]
    for _ in range(draw(st.integers(0, 2))):
        key.insert(draw(st.integers(0, len(key))), None)
    return tuple(key) if len(key) != 1 or draw(st.booleans()) else key[0]


@covers("getitem", order=2)
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_getitem(data, shape):
    rng = rng_of(data)
    x = rng.standard_normal(shape)
    key = data.draw(index_keys(shape), label="key")
    gc(lambda x: F.getitem(x * x, key), [T(x)], order=2)
    gc(lambda x: x[key], [T(x)])
    y = T(x)[key]
    assert y.shape == np.shape(x[key])
    np.testing.assert_array_equal(host(y), x[key])


def test_getitem_overlapping_slices_accumulate():
    x = T(np.arange(4.0))
    (x[1:3] * 2.0 + x[2:]).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0, 2, 3, 1])


@covers("concat", "stack", order=2)
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), st.integers(1, 3))
def test_concat_stack(data, shape, n):
    rng = rng_of(data)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n), label="sizes")
    parts = []
    for s in sizes:
        sh = list(shape)
        sh[axis] = s
        parts.append(rng.standard_normal(sh))
    gc(lambda *xs: F.concat([x * x for x in xs], axis=axis), [T(p) for p in parts], order=2)
    np.testing.assert_array_equal(host(F.concat([T(p) for p in parts], axis=axis)), np.concatenate(parts, axis=axis))
    same = [rng.standard_normal(shape) for _ in range(n)]
    saxis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="stack axis")
    gc(lambda *xs: F.stack([x * x for x in xs], axis=saxis), [T(p) for p in same], order=2)
    np.testing.assert_array_equal(host(F.stack([T(p) for p in same], axis=saxis)), np.stack(same, axis=saxis))


# ----------------------------------------------------------------------------
# Elementwise math
# ----------------------------------------------------------------------------
@covers("exp", "log", "log1p", "sqrt", order=2)
@given(st.data(), small_shape, st.sampled_from(["exp", "log", "log1p", "sqrt"]))
def test_smooth_elementwise(data, shape, op):
    rng = rng_of(data)
    x = {
        "exp": rng.uniform(-2, 2, shape),
        "log": rng.uniform(0.2, 3, shape),
        "log1p": rng.uniform(-0.7, 3, shape),
        "sqrt": rng.uniform(0.2, 3, shape),
    }[op]
    gc(getattr(F, op), [T(x)], order=2)
    np.testing.assert_allclose(host(getattr(F, op)(T(x))), getattr(np, op)(x), rtol=1e-13)
    gc(lambda x: getattr(x, op)() if op != "log1p" else F.log1p(x), [T(x)])


@covers("abs", order=2)
@given(st.data(), small_shape)
def test_abs(data, shape):
    x = away_from_zero(rng_of(data).standard_normal(shape))
    gc(lambda x: F.abs(x) * x, [T(x)], order=2)


@covers("clip", order=2)
@given(st.data(), small_shape, st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None)]))
def test_clip(data, shape, bounds):
    lo, hi = bounds
    x = rng_of(data).uniform(-1.5, 1.5, shape)
    for bound in (lo, hi):  # keep every value >= 0.05 away from the bounds (the kinks)
        if bound is not None:
            x = np.where(np.abs(x - bound) < 0.05, bound + 0.1, x)
    gc(lambda x: F.clip(x * x * x, lo, hi), [T(x)], order=2)
    np.testing.assert_allclose(host(F.clip(T(x), lo, hi)), np.clip(x, lo, hi))


@covers("where", order=2)
@given(st.data(), broadcast_pair)
def test_where(data, shapes):
    rng = rng_of(data)
    sa, sb = shapes.input_shapes
    out_shape = shapes.result_shape
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    cond = B.asarray(rng.uniform(size=out_shape) < 0.5)
    gc(lambda a, b: F.where(cond, a * a, b * b * b), [T(a), T(b)], order=2)
    gc(lambda a: F.where(cond, a, 0.0), [T(a)])


@covers("maximum", "minimum", order=2)
@given(st.data(), broadcast_pair, st.sampled_from(["maximum", "minimum"]))
def test_maximum_minimum(data, shapes, op):
    rng = rng_of(data)
    sa, sb = shapes.input_shapes
    # a on the grid 0.2 k + 0.05 and b on 0.2 k + 0.15: |a - b| >= 0.1 everywhere, no ties.
    a = 0.2 * rng.integers(-8, 8, sa) + 0.05
    b = 0.2 * rng.integers(-8, 8, sb) + 0.15
    f = getattr(F, op)
    gc(lambda a, b: f(a, b) * a, [T(a), T(b)], order=2)
    np.testing.assert_array_equal(host(f(T(a), T(b))), getattr(np, op)(a, b))


@covers("cast")
@given(st.data(), small_shape)
def test_cast(data, shape):
    """float64 -> float32 -> float64: the gradient comes back cast (checked coarsely: float32 rounding)."""
    x = rng_of(data).uniform(1, 2, shape)
    gc(lambda x: F.cast(F.cast(x, "float32") * 3.0, "float64"), [T(x)], eps=1e-2, atol=1e-3, rtol=1e-3)
    xt = T(x)
    y = F.cast(xt, "float32")
    assert "float32" in str(y.dtype)
    (y * y).sum().backward()
    assert "float64" in str(xt.grad.dtype)
    np.testing.assert_allclose(host(xt.grad), 2 * x, rtol=1e-6)


# ----------------------------------------------------------------------------
# Activations and losses
# ----------------------------------------------------------------------------
@covers("tanh", "sigmoid", "softplus", "log_sigmoid", order=2)
@given(st.data(), small_shape, st.sampled_from(["tanh", "sigmoid", "softplus", "log_sigmoid"]))
def test_smooth_activations(data, shape, op):
    x = rng_of(data).uniform(-4, 4, shape)
    gc(getattr(F, op), [T(x)], order=2)


@covers("relu", "leaky_relu", order=2)
@given(st.data(), small_shape, st.sampled_from([0.0, 0.01, 0.2, 0.5, 1.0]))
def test_relu_leaky_relu(data, shape, slope):
    x = away_from_zero(rng_of(data).standard_normal(shape))
    # Multiplying by x gives a non-zero second derivative to check.
    gc(lambda x: F.relu(x) * x, [T(x)], order=2)
    gc(lambda x: F.leaky_relu(x, slope) * x, [T(x)], order=2)
    np.testing.assert_array_equal(host(F.leaky_relu(T(x), slope)), np.where(x > 0, x, slope * x))
    np.testing.assert_array_equal(host(F.relu(T(x))), np.maximum(x, 0))


def test_leaky_relu_gradient_at_zero_and_float32():
    """At x = 0 the gradient is the slope (PyTorch's choice); float32 stays float32 both ways."""
    x = T([-2.0, 0.0, 3.0], dtype="float32")
    y = F.leaky_relu(x, np.float64(0.25))  # a NumPy float64 slope must not upcast
    (y * T([1.0, 2.0, 4.0], requires_grad=False, dtype="float32")).sum().backward()
    assert y.dtype == x.grad.dtype == x.dtype == B.xp().float32
    np.testing.assert_array_equal(host(x.grad), np.array([0.25, 0.5, 4.0], dtype=np.float32))


def test_leaky_relu_rejects_bad_slope():
    with pytest.raises(ValueError, match="slope"):
        F.leaky_relu(T([1.0]), 1.5)


@covers("binary_cross_entropy_with_logits", order=2)
@given(st.data(), small_shape, st.sampled_from(["mean", "sum", "none"]))
def test_bce_with_logits(data, shape, reduction):
    rng = rng_of(data)
    x = rng.uniform(-4, 4, shape)
    t = rng.uniform(0, 1, shape)
    gc(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction), [T(x), T(t)], order=2)
    p = 1 / (1 + np.exp(-x))
    ref = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(host(F.binary_cross_entropy_with_logits(T(x), T(t), reduction)), ref, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_with_logits_is_stable_at_logits_of_1000(dtype):
    """Saturated logits (+-1000) give exact, finite losses, gradients and second derivatives, without
    PyTorch: loss = softplus(x) - t x, d/dx = sigmoid(x) - t, d2/dx2 = sigmoid'(x) (0 there)."""
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.25])
    xs = T(x, dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(xs, T(t, False, dtype=dtype), "none")
    np.testing.assert_allclose(host(loss), [0.0, 0.0, 1000.0, 1000.0, np.log(2)], rtol=1e-6, atol=0)
    (g,) = minigan.grad(F.sum(loss), [xs], create_graph=True)
    np.testing.assert_allclose(host(g), [0.0, 0.0, 1.0, -1.0, 0.25], rtol=1e-6, atol=0)
    (h,) = minigan.grad(F.sum(g), [xs])  # the diagonal of the Hessian
    np.testing.assert_allclose(host(h), [0.0, 0.0, 0.0, 0.0, 0.25], rtol=1e-6, atol=0)
    assert all(np.all(np.isfinite(host(a))) for a in (loss, g, h))
    assert loss.dtype == g.dtype == h.dtype == xs.dtype


def test_bce_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        F.binary_cross_entropy_with_logits(T([1.0]), T([1.0]), "avg")


@covers("log_softmax", "softmax", order=2)
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_log_softmax_softmax(data, shape):
    rng = rng_of(data)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = rng.uniform(-3, 3, shape)
    gc(lambda x: F.log_softmax(x, axis), [T(x)], order=2)
    gc(lambda x: F.softmax(x, axis), [T(x)], order=2)
    s = np.exp(x - x.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(host(F.softmax(T(x), axis)), s / s.sum(axis=axis, keepdims=True), rtol=1e-12)


@covers("cross_entropy", order=2)
@given(st.data(), st.integers(1, 4), st.integers(2, 4))
def test_cross_entropy(data, n, k):
    rng = rng_of(data)
    x = rng.uniform(-3, 3, (n, k))
    labels = rng.integers(0, k, n)
    lab = B.asarray(labels)
    gc(lambda x: F.cross_entropy(x, lab), [T(x)], order=2)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.cross_entropy(T(x), lab).item(), -logp[np.arange(n), labels].mean(), rtol=1e-12)


# ----------------------------------------------------------------------------
# Normalisation and dropout
# ----------------------------------------------------------------------------
@covers("instance_norm", order=2)
@given(
    st.data(),
    st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(2, 3)),
    st.booleans(),
)
def test_instance_norm(data, shape, affine):
    rng = rng_of(data)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    g, b = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    if affine:
        gc(lambda x, g, b: F.instance_norm(x, g, b) ** 2, [T(x), T(g), T(b)], order=2)
    else:
        gc(lambda x: F.instance_norm(x) ** 2, [T(x)], order=2)
    # Each image's each channel: mean 0 and (biased) variance 1 before gamma/beta, then scaled.
    y = host(F.instance_norm(T(x), eps=0.0))
    np.testing.assert_allclose(y.mean(axis=(2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(2, 3)), 1, rtol=1e-10)
    ref = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    ref = ref * g.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(host(F.instance_norm(T(x), T(g), T(b))), ref, rtol=1e-10, atol=1e-12)


def test_instance_norm_bad_input():
    with pytest.raises(ValueError, match="N, C, H, W"):
        F.instance_norm(T(np.ones((2, 3))))
    with pytest.raises(ValueError, match="more than one pixel"):
        F.instance_norm(T(np.ones((2, 3, 1, 1))))


@covers("batch_norm", order=2)
@given(st.data(), st.sampled_from([(3, 2), (4, 1), (2, 2, 2, 2), (3, 1, 2, 1), (2, 3, 1, 2)]), st.booleans())
def test_batch_norm_training(data, shape, affine):
    rng = rng_of(data)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    g, b = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    if affine:
        gc(lambda x, g, b: F.batch_norm(x, g, b, training=True), [T(x), T(g), T(b)], order=2)
    else:
        # A non-linear function of the output, else the sum of x-hat's projection is nearly degenerate.
        gc(lambda x: F.batch_norm(x, training=True) ** 2, [T(x)], order=2)
    # The output has per-channel mean 0 and (biased) variance 1 before gamma/beta.
    y = host(F.batch_norm(T(x), training=True, eps=0.0))
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-10)


@covers("batch_norm", order=2)
@given(st.data(), st.sampled_from([(3, 2), (1, 3), (2, 2, 2, 2), (1, 1, 2, 3)]))
def test_batch_norm_eval(data, shape):
    rng = rng_of(data)
    c = shape[1]
    x = rng.standard_normal(shape)
    g, b = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    rm, rv = T(rng.standard_normal(c), False), T(rng.uniform(0.5, 2, c), False)
    gc(lambda x, g, b: F.batch_norm(x * x, g, b, rm, rv, training=False), [T(x), T(g), T(b)], order=2)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    ref = (x - host(rm).reshape(bshape)) / np.sqrt(host(rv).reshape(bshape) + 1e-5) * g.reshape(bshape)
    ref = ref + b.reshape(bshape)
    np.testing.assert_allclose(host(F.batch_norm(T(x), T(g), T(b), rm, rv, training=False)), ref, rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_first_order_backward_equals_the_differentiable_one(shape, affine):
    """Batch norm's backward has two branches: raw arrays with folded per-channel factors (first
    order) and minigan functions rebuilding xhat from x (create_graph). They must agree."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape) * 3 + 1
    c = shape[1]
    g, b = (T(rng.uniform(0.5, 1.5, c)), T(rng.standard_normal(c))) if affine else (None, None)
    w = T(rng.standard_normal(shape), False)  # a non-uniform upstream gradient
    inputs = [T(x)] + ([g, b] if affine else [])

    def loss(*a):
        return (F.batch_norm(a[0], *(a[1:] if affine else ()), training=True) * w).sum()

    first = minigan.grad(loss(*inputs), inputs)
    second = minigan.grad(loss(*inputs), inputs, create_graph=True)
    for a, b_ in zip(first, second):
        np.testing.assert_allclose(host(a), host(b_), rtol=1e-10, atol=1e-12)


@given(
    st.data(),
    st.sampled_from([(5, 3), (1, 4), (3, 2, 4), (4, 3, 2, 5), (2, 1, 3, 3)]),
    st.sampled_from(["float32", "float64"]),
    st.booleans(),
    st.booleans(),
)
def test_sum_array_matches_xp_sum(data, shape, dtype, keepdims, permuted):
    """sum_array reduces the batch axis its own (faster) way; any axes, layouts and dtypes must
    give xp.sum's result."""
    from minigan import backend as B
    from minigan.functions.basic import sum_array

    rng = rng_of(data)
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True), label="axes")
    axes = tuple(sorted(axes))
    x = rng.standard_normal(shape).astype(dtype) + 0.5
    if permuted and len(shape) == 4:  # an NCHW view of NHWC memory, as conv outputs are
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    xa = B.asarray(x, dtype=getattr(B.xp(), dtype))
    got = host(sum_array(xa, axes, keepdims))
    want = np.sum(x.astype(np.float64), axis=axes, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


def test_batch_norm_running_stats_update():
    """running = (1 - momentum) running + momentum batch_stat, unbiased variance (PyTorch convention)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2, 2))
    rm, rv = T(np.zeros(3), False), T(np.ones(3), False)
    F.batch_norm(T(x), running_mean=rm, running_var=rv, training=True, momentum=0.25)
    np.testing.assert_allclose(host(rm), 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(host(rv), 0.75 + 0.25 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than one value"):
        F.batch_norm(T(np.ones((1, 3))), training=True)
    with pytest.raises(ValueError, match="running"):
        F.batch_norm(T(np.ones((2, 3))), training=False)


@covers("dropout", order=2)
@given(st.data(), small_shape, st.sampled_from([0.0, 0.3, 0.5, 0.9]), st.integers(0, 100))
def test_dropout_fixed_mask(data, shape, p, seed):
    x = rng_of(data).standard_normal(shape)
    # A fresh generator with the same seed on every call: the same mask each time.
    gc(lambda x: F.dropout(x * x, p, minigan.Generator(seed)), [T(x)], order=2)
    y = host(F.dropout(T(x), p, minigan.Generator(seed)))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-12)
    np.testing.assert_array_equal(host(F.dropout(T(x), p, minigan.Generator(seed), training=False)), x)


def test_dropout_drops_about_p():
    y = host(F.dropout(T(np.ones(20000), False), 0.3, minigan.Generator(1)))
    assert abs((y == 0).mean() - 0.3) < 0.02
    assert set(np.unique(y)) <= {0.0, 1 / 0.7}
    with pytest.raises(ValueError, match="probability"):
        F.dropout(T([1.0]), 1.0, minigan.Generator(0))


# ----------------------------------------------------------------------------
# Coverage and dtypes of the whole functional API
# ----------------------------------------------------------------------------
SECOND_ORDER_REQUIRED = {
    "instance_norm",
    "reflection_pad2d",
    "matmul",
    "linear",
    "conv2d",
    "conv_transpose2d",
    "upsample",
    "leaky_relu",
    "relu",
    "tanh",
    "sigmoid",
    "batch_norm",
    "dropout",
    "max_pool2d",
    "avg_pool2d",
    "reshape",
    "mean",
    "sum",
    "binary_cross_entropy_with_logits",
}


def _covered() -> dict[int, set[str]]:
    """Names in the ``covers(...)`` decorators of the gradcheck test files, by order."""
    found: dict[int, set[str]] = {1: set(), 2: set()}
    here = pathlib.Path(__file__).parent
    for name in ("test_functions_grad.py", "test_conv_pool.py"):
        tree = ast.parse((here / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "covers":
                        order = next((k.value.value for k in dec.keywords if k.arg == "order"), 1)
                        names = {a.value for a in dec.args}
                        found[1] |= names
                        if order == 2:
                            found[2] |= names
    return found


def test_every_function_is_gradchecked():
    covered = _covered()
    missing = set(F.__all__) - covered[1]
    assert not missing, f"functions without a gradcheck test: {sorted(missing)}"
    missing2 = SECOND_ORDER_REQUIRED - covered[2]
    assert not missing2, f"functions without a second-order gradcheck: {sorted(missing2)}"


def _f32(shape, low=-1.0, high=1.0, seed=0, requires_grad=True):
    a = np.random.default_rng(seed).uniform(low, high, shape)
    return minigan.Tensor(B.asarray(a, dtype="float32"), requires_grad=requires_grad)


def _pos(shape):
    return _f32(shape, 0.5, 2.0)


def _labels():
    return B.asarray(np.array([0, 2]))


# name -> (function, input factories). Every public function, in float32.
FLOAT32_CASES = {
    "add": (F.add, [lambda: _f32((2, 3)), lambda: _f32((3,))]),
    "sub": (F.sub, [lambda: _f32((2, 3)), lambda: _f32((3,))]),
    "mul": (F.mul, [lambda: _f32((2, 3)), lambda: _f32((3,))]),
    "div": (F.div, [lambda: _f32((2, 3)), lambda: _pos((3,))]),
    "neg": (F.neg, [lambda: _f32((2, 3))]),
    "pow": (lambda x: F.pow(x, 3) + F.pow(x, 0.5), [lambda: _pos((2, 3))]),
    "matmul": (F.matmul, [lambda: _f32((2, 3)), lambda: _f32((3, 4))]),
    "linear": (F.linear, [lambda: _f32((2, 3)), lambda: _f32((4, 3)), lambda: _f32((4,))]),
    "sum": (lambda x: F.sum(x * x, axis=1), [lambda: _f32((2, 3))]),
    "mean": (lambda x: F.mean(x * x, axis=(0, 1)), [lambda: _f32((2, 3))]),
    "var": (lambda x: F.var(x, axis=0), [lambda: _f32((2, 3))]),
    "max": (lambda x: F.max(x * x, axis=1), [lambda: _f32((2, 3))]),
    "reshape": (lambda x: F.reshape(x * x, (3, 2)), [lambda: _f32((2, 3))]),
    "permute": (lambda x: F.permute(x * x, (1, 2, 0)), [lambda: _f32((2, 3, 2))]),
    "transpose": (lambda x: F.transpose(x * x), [lambda: _f32((2, 3))]),
    "matrix_transpose": (lambda x: F.matrix_transpose(x * x), [lambda: _f32((2, 3, 2))]),
    "broadcast_to": (lambda x: F.broadcast_to(x * x, (2, 3)), [lambda: _f32((3,))]),
    "sum_to": (lambda x: F.sum_to(x * x, (1, 3)), [lambda: _f32((2, 3))]),
    "getitem": (lambda x: (x * x)[1:, ::2], [lambda: _f32((3, 3))]),
    "concat": (lambda a, b: F.concat([a * a, b], axis=1), [lambda: _f32((2, 3)), lambda: _f32((2, 1))]),
    "stack": (lambda a, b: F.stack([a * a, b], axis=1), [lambda: _f32((2, 3)), lambda: _f32((2, 3))]),
    "flatten": (lambda x: F.flatten(x * x), [lambda: _f32((2, 3, 2))]),
    "exp": (F.exp, [lambda: _f32((2, 3))]),
    "log": (F.log, [lambda: _pos((2, 3))]),
    "log1p": (F.log1p, [lambda: _pos((2, 3))]),
    "sqrt": (F.sqrt, [lambda: _pos((2, 3))]),
    "abs": (lambda x: F.abs(x) * x, [lambda: _f32((2, 3))]),
    "clip": (lambda x: F.clip(x * x, 0.1, 0.5), [lambda: _f32((2, 3))]),
    "where": (
        lambda a, b: F.where(a.data > 0, a * a, b),
        [lambda: _f32((2, 3)), lambda: _f32((2, 3))],
    ),
    "maximum": (lambda a, b: F.maximum(a, b) * a, [lambda: _f32((2, 3)), lambda: _f32((3,))]),
    "minimum": (lambda a, b: F.minimum(a, b) * a, [lambda: _f32((2, 3)), lambda: _f32((3,))]),
    "cast": (lambda x: F.cast(F.cast(x, "float64") * 2.0, "float32") * x, [lambda: _f32((2, 3))]),
    "tanh": (F.tanh, [lambda: _f32((2, 3))]),
    "sigmoid": (F.sigmoid, [lambda: _f32((2, 3))]),
    "relu": (lambda x: F.relu(x) * x, [lambda: _f32((2, 3))]),
    "leaky_relu": (lambda x: F.leaky_relu(x) * x, [lambda: _f32((2, 3))]),
    "softplus": (F.softplus, [lambda: _f32((2, 3))]),
    "log_sigmoid": (F.log_sigmoid, [lambda: _f32((2, 3))]),
    "binary_cross_entropy_with_logits": (
        F.binary_cross_entropy_with_logits,
        [lambda: _f32((2, 3)), lambda: _f32((2, 3), 0.0, 1.0)],
    ),
    "log_softmax": (F.log_softmax, [lambda: _f32((2, 3))]),
    "softmax": (F.softmax, [lambda: _f32((2, 3))]),
    "cross_entropy": (lambda x: F.cross_entropy(x, _labels()), [lambda: _f32((2, 3))]),
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding="same"),
        [lambda: _f32((1, 2, 5, 5)), lambda: _f32((3, 2, 3, 3)), lambda: _f32((3,))],
    ),
    "conv_transpose2d": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [lambda: _f32((1, 2, 3, 3)), lambda: _f32((2, 3, 3, 3)), lambda: _f32((3,))],
    ),
    "conv2d_grad_weight": (
        lambda x, gy: F.conv2d_grad_weight(x, gy, (3, 3), stride=2, padding=1),
        [lambda: _f32((1, 2, 5, 5)), lambda: _f32((1, 3, 3, 3))],
    ),
    "unfold": (lambda x: F.unfold(x * x, 2, 1, 1), [lambda: _f32((1, 2, 3, 3))]),
    "fold": (lambda c: F.fold(c * c, (3, 3), 2, 1, 1), [lambda: _f32((1, 2, 4, 4, 4))]),
    "max_pool2d": (lambda x: F.max_pool2d(x * x, 2, 2, 1), [lambda: _f32((1, 2, 4, 4))]),
    "avg_pool2d": (
        lambda x: F.avg_pool2d(x * x, 3, 2, "same") + F.avg_pool2d(x * x, 3, 2, 1),
        [lambda: _f32((1, 2, 4, 4))],
    ),
    "upsample": (
        lambda x: F.upsample(x * x, 2) + F.upsample(x * x, 2, "bilinear"),
        [lambda: _f32((1, 2, 2, 3))],
    ),
    "batch_norm": (
        lambda x, g, b: (
            F.batch_norm(x, g, b, _f32((2,), requires_grad=False), _pos((2,)).detach(), training=True)
            + F.batch_norm(x, g, b, _f32((2,), requires_grad=False), _pos((2,)).detach(), training=False)
        ),
        [lambda: _f32((3, 2, 2, 2)), lambda: _pos((2,)), lambda: _f32((2,))],
    ),
    "dropout": (lambda x: F.dropout(x * x, 0.5, minigan.Generator(0)), [lambda: _f32((2, 3))]),
    "instance_norm": (
        lambda x, g, b: F.instance_norm(x, g, b) * x,
        [lambda: _f32((2, 2, 3, 3)), lambda: _pos((2,)), lambda: _f32((2,))],
    ),
    "reflection_pad2d": (lambda x: F.reflection_pad2d(x * x, (1, 2, 2, 0)), [lambda: _f32((1, 2, 3, 4))]),
}


def test_float32_cases_cover_every_function():
    assert set(FLOAT32_CASES) == set(F.__all__)


def _is_f32(t) -> bool:
    return t.dtype == B.xp().float32


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32(name):
    """Forward, backward and double backward of every function keep float32 inputs float32.

    Runs under a float64 *default* dtype (this module's fixture), so an op that
    builds a constant with the default dtype instead of its input's would
    promote to float64 and fail here.
    """
    fn, factories = FLOAT32_CASES[name]
    xs = [f() for f in factories]
    y = fn(*xs)
    assert _is_f32(y), f"{name}: output is {y.dtype}"
    gs = minigan.grad(y.sum() if y.size > 1 else y, xs, create_graph=True, allow_unused=True)
    for i, g in enumerate(gs):
        assert g is not None, f"{name}: no gradient for input {i}"
        assert _is_f32(g), f"{name}: gradient {i} is {g.dtype}"
    second = [g for g in gs if g.requires_grad]
    if second:
        s = F.sum(F.stack([F.sum(g * g) for g in second]))
        for i, gg in enumerate(minigan.grad(s, xs, allow_unused=True)):
            assert gg is None or _is_f32(gg), f"{name}: second-order gradient {i} is {gg.dtype}"
    # backward() into .grad as well
    for x in xs:
        x.grad = None
    y2 = fn(*xs)
    (y2.sum() if y2.size > 1 else y2).backward()
    assert all(_is_f32(x.grad) for x in xs)


def test_batch_norm_running_stats_stay_float32():
    rm, rv = _f32((2,), requires_grad=False), _pos((2,)).detach()
    F.batch_norm(_f32((3, 2)), running_mean=rm, running_var=rv, training=True)
    assert _is_f32(rm) and _is_f32(rv)


def test_numpy_scalar_constants_keep_float32():
    """NumPy 2 gives np.float64 scalars the float64 dtype against float32 arrays (NEP 50): constants
    that come out of NumPy (a slope, a probability, a target, a bound) must not promote float32 tensors."""
    c = np.float64(0.3)
    x = _f32((2, 3))
    outs = {
        "x * c": x * c,
        "c * x": c * x,
        "x + c": x + c,
        "c - x": c - x,
        "x / c": x / c,
        "c / x": c / _pos((2, 3)),
        "x ** c": _pos((2, 3)) ** c,
        "pow": F.pow(_pos((2, 3)), np.float64(2.0)),
        "leaky_relu": F.leaky_relu(x, c),
        "clip": F.clip(x, -c, c),
        "where": F.where(x.data > 0, x, c),
        "maximum": F.maximum(x, c),
        "bce target": F.binary_cross_entropy_with_logits(x, c),
        "dropout": F.dropout(x, c, minigan.Generator(0)),
    }
    for name, y in outs.items():
        assert _is_f32(y), f"{name}: {y.dtype}"
        (g,) = minigan.grad(F.sum(y), [x], allow_unused=True)
        assert g is None or _is_f32(g), f"{name}: gradient {g.dtype}"
    rm, rv = _f32((3,), requires_grad=False), _pos((3,)).detach()
    y = F.batch_norm(_f32((4, 3)), running_mean=rm, running_var=rv, momentum=c, eps=np.float64(1e-3))
    assert _is_f32(y) and _is_f32(rm) and _is_f32(rv)
