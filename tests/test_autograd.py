"""The autograd engine: graph building, backward, fan-out, grad modes, minigan.grad,
higher-order derivatives, memory, and the gradient checker itself.

Expected values are computed by hand (d/dx x^3 = 3x^2, d2/dx2 x^3 = 6x, ...)
or with finite differences; nothing here is copied from the engine's output.
"""

from __future__ import annotations

import gc
import re
import weakref

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from conftest import T, host
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functions as F
from minigan import backend as B


@pytest.fixture(autouse=True, scope="module")
def _float64_default():
    with minigan.default_dtype("float64"):
        yield


# ----------------------------------------------------------------------------
# Basics
# ----------------------------------------------------------------------------
def test_leaf_and_graph_attributes():
    x = T([1.0, 2.0])
    c = T([3.0, 4.0], requires_grad=False)
    assert x.is_leaf and x.requires_grad and x.grad is None
    y = x * c
    assert y.requires_grad and not y.is_leaf and y.creator is not None
    z = c * 2.0
    assert not z.requires_grad and z.is_leaf  # no input needs a gradient: nothing recorded


def test_backward_simple_chain():
    x = T([1.0, -2.0, 3.0])
    y = ((x * 2.0 + 1.0) ** 2).sum()  # dy/dx = 4 (2x + 1)
    y.backward()
    np.testing.assert_allclose(host(x.grad), 4 * (2 * np.array([1.0, -2.0, 3.0]) + 1))


def test_backward_non_scalar_needs_grad_argument():
    x = T([1.0, 2.0])
    y = x * 3.0
    with pytest.raises(RuntimeError, match="non-scalar"):
        y.backward()
    y.backward(T([1.0, 10.0], False))
    np.testing.assert_allclose(host(x.grad), [3.0, 30.0])


def test_backward_grad_argument_shape_checked():
    x = T([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        (x * 3.0).backward(T([1.0, 2.0, 3.0], False))


def test_backward_of_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        T([1.0], requires_grad=False).sum().backward()


def test_backward_on_a_leaf():
    x = T([2.0])
    x.backward()
    np.testing.assert_allclose(host(x.grad), [1.0])


def test_constant_operands_get_no_gradient():
    x = T([1.0, 2.0])
    c = T([5.0, 7.0], requires_grad=False)
    (x * c + c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(host(x.grad), [5.0, 7.0])


def test_operators_with_python_numbers_on_both_sides():
    x = T([2.0])
    y = (3.0 - x) * (1.0 / x) + 2.0 * x - x / 4.0 + (x + 1.0) - (-x) ** 2
    y.backward()
    # y = 3/x - 1 + 2x - x/4 + x + 1 - x^2  ->  dy/dx = -3/x^2 + 2 - 1/4 + 1 - 2x
    np.testing.assert_allclose(host(x.grad), [-3 / 4 + 2 - 0.25 + 1 - 4])


def test_comparisons_give_constant_tensors():
    x = T([1.0, 3.0])
    m = x > 2.0
    assert not m.requires_grad
    np.testing.assert_array_equal(host(m), [False, True])
    np.testing.assert_array_equal(host(x == T([1.0, 0.0], False)), [True, False])


def test_truth_value_of_multi_element_tensor_is_ambiguous():
    x = T([1.0, 2.0])
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x == x)
    assert bool(T([1.0]) == T([1.0]))
    assert not bool(T(0.0) > 1.0)
    # `in` compares by value element-wise on arrays; here it must not silently say True
    with pytest.raises(ValueError):
        _ = x in [T([5.0, 6.0])]


def test_tensor_conveniences():
    x = T(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert T([[4.5]]).item() == 4.5
    with pytest.raises(ValueError, match="one element"):
        x.item()
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    assert "requires_grad=True" in repr(x)
    with minigan.default_dtype("float32"):
        t = minigan.tensor([1.0, 2.0])
    assert t.dtype == B.xp().float32 and not t.requires_grad  # default float dtype is float32 ...
    with minigan.default_dtype("float64"):
        assert minigan.tensor([1.0]).dtype == B.xp().float64  # ... unless changed
    assert minigan.tensor([1, 2]).dtype == B.xp().int64
    assert minigan.tensor([1.0], dtype="float64").dtype == B.xp().float64


def test_requires_grad_in_place():
    x = T([1.0], requires_grad=False).requires_grad_()
    assert x.requires_grad
    y = x * 2.0
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


# ----------------------------------------------------------------------------
# Fan-out and accumulation
# ----------------------------------------------------------------------------
def test_fan_out_x_times_x():
    x = T([3.0, -1.5])
    (x * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [6.0, -3.0])


def test_fan_out_h_plus_h():
    x = T([1.0, 2.0])
    h = F.exp(x)
    (h + h).sum().backward()
    np.testing.assert_allclose(host(x.grad), 2 * np.exp([1.0, 2.0]))


def test_tensor_used_by_two_different_ops():
    x = T([0.5, 1.5])
    h = x * 3.0
    y = F.tanh(h).sum() + F.exp(h).sum()
    y.backward()
    hv = 3 * np.array([0.5, 1.5])
    np.testing.assert_allclose(host(x.grad), 3 * (1 - np.tanh(hv) ** 2) + 3 * np.exp(hv))


def test_diamond_graph():
    """x -> a, x -> b, (a, b) -> c: both paths contribute, and a is completed before its creator runs."""
    x = T([0.3, -0.7])
    a = F.sigmoid(x)
    b = x * x
    c = a * b + a  # c = sig(x) x^2 + sig(x)
    c.sum().backward()
    xv = np.array([0.3, -0.7])
    s = 1 / (1 + np.exp(-xv))
    ds = s * (1 - s)
    np.testing.assert_allclose(host(x.grad), ds * xv**2 + s * 2 * xv + ds, rtol=1e-12)


def test_deep_diamond_chain():
    """Repeated diamonds: the number of paths doubles each level (2^30); a topological order visits each node once."""
    x = T([1.0])
    h = x
    for _ in range(30):
        h = h * 0.5 + h * 0.5  # d h_{k+1} / d h_k = 1
    h.backward()
    np.testing.assert_allclose(host(x.grad), [1.0])


def test_long_chain_no_recursion_limit():
    x = T([1.0])
    h = x
    for _ in range(5000):
        h = h + 1.0
    h.backward()
    np.testing.assert_allclose(host(x.grad), [1.0])


def test_gradient_accumulates_across_backward_calls():
    x = T([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None  # what zero_grad does
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(host(x.grad), [5.0, 5.0])


def test_shared_parameter_gets_sum_of_uses():
    w = T([2.0])
    x1, x2 = T([3.0], False), T([5.0], False)
    (w * x1 + w * x2 + w * w).backward()
    np.testing.assert_allclose(host(w.grad), [3.0 + 5.0 + 4.0])


def test_leaf_grads_are_independent_tensors():
    """a + b gives both leaves the same upstream gradient; updating one .grad must not change the other."""
    a, b = T([1.0]), T([2.0])
    (a + b).backward()
    a.grad.data = a.grad.data * 0.0
    np.testing.assert_allclose(host(b.grad), [1.0])


# ----------------------------------------------------------------------------
# Broadcasting
# ----------------------------------------------------------------------------
def test_broadcast_gradient_reduced_to_input_shape():
    a = T(np.ones((3, 1)))
    b = T(np.arange(4.0).reshape(1, 4))
    c = T(2.0)  # 0-d
    (a * b + c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4) and c.grad.shape == ()
    np.testing.assert_allclose(host(a.grad), np.full((3, 1), 0 + 1 + 2 + 3.0))
    np.testing.assert_allclose(host(b.grad), np.full((1, 4), 3.0))
    np.testing.assert_allclose(host(c.grad), 12.0)


@given(st.data(), hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
def test_broadcast_gradient_shapes_hypothesis(data, shapes):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    sa, sb = shapes.input_shapes
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = T(a), T(b)
    (ta * tb).sum().backward()
    # d/da sum(a * b) = b summed over the axes a was broadcast along.
    ga = np.broadcast_to(b, shapes.result_shape)
    lead = len(shapes.result_shape) - len(sa)
    ga = ga.sum(axis=tuple(range(lead)))
    ga = ga.sum(axis=tuple(i for i, d in enumerate(sa) if d == 1), keepdims=True) if sa else ga
    assert ta.grad.shape == sa and tb.grad.shape == sb
    np.testing.assert_allclose(host(ta.grad), ga.reshape(sa), rtol=1e-12)


# ----------------------------------------------------------------------------
# Graph lifetime
# ----------------------------------------------------------------------------
def test_second_backward_on_freed_graph_raises_clear_error():
    x = T([1.0, 2.0])
    y = F.exp(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_shared_subgraph_freed_by_first_backward():
    x = T([1.0])
    h = F.exp(x)
    (h * 2.0).backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 3.0).backward()


def test_retain_graph_allows_second_backward():
    x = T([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(host(x.grad), 2 * 2 * np.array([1.0, 2.0]))


def test_grad_frees_graph_unless_retained():
    x = T([1.0])
    y = F.exp(x)
    minigan.grad(y, [x])
    with pytest.raises(RuntimeError, match="retain_graph"):
        minigan.grad(y, [x])
    y = F.exp(x)
    minigan.grad(y, [x], retain_graph=True)
    (g,) = minigan.grad(y, [x])
    np.testing.assert_allclose(host(g), np.exp([1.0]))


def test_grad_to_some_inputs_then_backward_to_all():
    """grad() w.r.t. x on a retained graph must not stop a later backward() from reaching w."""
    x, w = T([1.0, 2.0]), T([3.0, 4.0])
    y = (x * w).sum()
    (gx,) = minigan.grad(y, [x], retain_graph=True)
    np.testing.assert_allclose(host(gx), [3.0, 4.0])
    y.backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 4.0])
    np.testing.assert_allclose(host(w.grad), [1.0, 2.0])


def test_intermediates_are_freed_after_backward():
    """After backward the graph drops its saved tensors, so intermediates can be garbage collected."""
    x = T(np.ones(1000))
    h = F.exp(x)
    ref = weakref.ref(h)
    y = F.tanh(h).sum()
    del h
    gc.collect()
    assert ref() is not None  # still needed by the graph
    y.backward()
    gc.collect()
    assert ref() is None


def test_graph_does_not_keep_outputs_alive():
    x = T([1.0])
    y = F.exp(x)
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None


# ----------------------------------------------------------------------------
# Grad modes and detach
# ----------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = T([1.0, 2.0])
    with minigan.no_grad():
        assert not minigan.is_grad_enabled()
        y = F.tanh(x * x).sum()
    assert minigan.is_grad_enabled()
    assert not y.requires_grad and y.creator is None
    with pytest.raises(RuntimeError):
        y.backward()


def test_enable_grad_inside_no_grad_and_restore_on_exception():
    x = T([2.0])
    with minigan.no_grad():
        with minigan.enable_grad():
            y = x * x
        assert not minigan.is_grad_enabled()
    y.backward()
    np.testing.assert_allclose(host(x.grad), [4.0])
    with pytest.raises(KeyError):
        with minigan.no_grad():
            raise KeyError
    assert minigan.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = T([1.0, 2.0])
    h = x * 3.0
    d = h.detach()
    assert not d.requires_grad and d.creator is None
    (h * d).sum().backward()  # only the h factor carries gradient: d/dx = 3 * d
    np.testing.assert_allclose(host(x.grad), 3 * 3 * np.array([1.0, 2.0]))
    assert d.data is h.data  # shares the array, no copy


# ----------------------------------------------------------------------------
# minigan.grad
# ----------------------------------------------------------------------------
def test_grad_returns_without_touching_dot_grad():
    x, y = T([1.0, 2.0]), T([3.0])
    z = (x * x).sum() * y
    gx, gy = minigan.grad(z, [x, y])
    np.testing.assert_allclose(host(gx), 2 * np.array([1.0, 2.0]) * 3)
    np.testing.assert_allclose(host(gy), [5.0])
    assert x.grad is None and y.grad is None


def test_grad_allow_unused():
    x, u = T([1.0]), T([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        minigan.grad((x * 2.0).sum(), [x, u])
    gx, gu = minigan.grad((x * 2.0).sum(), [x, u], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(host(gx), [2.0])


def test_grad_wrt_tensor_without_requires_grad_raises():
    x = T([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigan.grad((x * 2.0).sum(), [T([1.0], False)])


def test_grad_of_non_leaf_inputs():
    x = T([1.0, 2.0])
    h = x * x  # non-leaf
    y = F.exp(h).sum()
    gh, gx = minigan.grad(y, [h, x])
    np.testing.assert_allclose(host(gh), np.exp([1.0, 4.0]))
    np.testing.assert_allclose(host(gx), np.exp([1.0, 4.0]) * 2 * np.array([1.0, 2.0]))


def test_grad_of_output_wrt_itself():
    x = T([1.0, 2.0])
    h = x * 2.0
    (g,) = minigan.grad(h, [h], grad_outputs=T([5.0, 6.0], False))
    np.testing.assert_allclose(host(g), [5.0, 6.0])


def test_grad_with_grad_outputs_and_several_outputs():
    x = T([1.0, 2.0])
    y1, y2 = x * 2.0, x * x
    (g,) = minigan.grad([y1, y2], [x], grad_outputs=[T([1.0, 1.0], False), T([10.0, 100.0], False)])
    np.testing.assert_allclose(host(g), [2 + 10 * 2, 2 + 100 * 4])


def test_grad_only_traverses_needed_part():
    """Functions that do not lead to the inputs are not differentiated (their backward is never called)."""
    calls = []

    class Spy(minigan.Function):
        def forward(self, a):
            return a * 1.0

        def backward(self, gy):
            calls.append(1)
            return gy

    x, w = T([1.0]), T([2.0])
    y = Spy()(w) * x
    minigan.grad(y.sum(), [x])
    assert calls == []


# ----------------------------------------------------------------------------
# Higher order
# ----------------------------------------------------------------------------
@given(st.floats(-3, 3))
def test_second_and_third_derivative_of_cube(v):
    x = T([v])
    (g1,) = minigan.grad((x**3).sum(), [x], create_graph=True)
    (g2,) = minigan.grad(g1.sum(), [x], create_graph=True)
    (g3,) = minigan.grad(g2.sum(), [x], allow_unused=True)
    np.testing.assert_allclose(host(g1), [3 * v * v], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(g2), [6 * v], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(g3), [6.0], rtol=1e-12)


@given(st.floats(-2, 2))
def test_second_derivatives_of_smooth_functions(v):
    x = T([v])
    t, s = np.tanh(v), 1 / (1 + np.exp(-v))
    cases = [
        (F.tanh, -2 * t * (1 - t * t)),
        (F.sigmoid, s * (1 - s) * (1 - 2 * s)),
        (F.exp, np.exp(v)),
        (lambda x: F.log(x * x + 1.0), (2 - 2 * v * v) / (v * v + 1) ** 2),
        (F.softplus, s * (1 - s)),
        (lambda x: F.sqrt(x * x + 1.0), (v * v + 1) ** -1.5),
        (lambda x: 1.0 / (x * x + 1.0), (6 * v * v - 2) / (v * v + 1) ** 3),
    ]
    for fn, d2 in cases:
        (g,) = minigan.grad(fn(x).sum(), [x], create_graph=True)
        (gg,) = minigan.grad(g.sum(), [x])
        np.testing.assert_allclose(host(gg), [d2], rtol=1e-10, atol=1e-12)


def test_backward_create_graph_then_differentiate_grad():
    x = T([2.0])
    (x**3).sum().backward(create_graph=True)
    g = x.grad  # 3x^2, itself differentiable
    assert g.requires_grad
    (gg,) = minigan.grad(g.sum(), [x])
    np.testing.assert_allclose(host(gg), [12.0])


def test_mixed_second_derivative():
    x, y = T([1.5]), T([-0.5])
    f = x * x * y + F.exp(x * y)
    (gx,) = minigan.grad(f.sum(), [x], create_graph=True)
    (gxy,) = minigan.grad(gx.sum(), [y])
    xv, yv = 1.5, -0.5  # d2f/dxdy = 2x + e^{xy} (1 + xy)
    np.testing.assert_allclose(host(gxy), [2 * xv + np.exp(xv * yv) * (1 + xv * yv)], rtol=1e-12)


def test_create_graph_false_gives_constant_gradients():
    x = T([2.0])
    (g,) = minigan.grad((x**3).sum(), [x])
    assert not g.requires_grad and g.creator is None


def test_gradient_penalty_style_double_backward():
    """d/dw of (||d(w . x^2)/dx|| - 1)^2 by hand: g = 2 w x, ||g|| = 2 |w| ||x||."""
    xv, wv = np.array([0.3, -0.4]), 1.7
    x, w = T(xv), T([wv])
    (gx,) = minigan.grad((w * x * x).sum(), [x], create_graph=True)
    p = (F.sqrt((gx * gx).sum()) - 1.0) ** 2
    (gw,) = minigan.grad(p, [w])
    n = np.linalg.norm(xv)
    np.testing.assert_allclose(host(gw), [2 * (2 * wv * n - 1) * 2 * n], rtol=1e-12)


# ----------------------------------------------------------------------------
# Function
# ----------------------------------------------------------------------------
def test_custom_function_and_needs_input_grad():
    seen = []

    class ScaledAdd(minigan.Function):
        def forward(self, a, b):
            return a + 2.0 * b

        def backward(self, gy):
            seen.append(self.needs_input_grad)
            return gy, gy * 2.0

    a, b = T([1.0]), T([1.0], requires_grad=False)
    y = ScaledAdd()(a, b)
    y.backward()
    assert seen == [(True, False)]
    np.testing.assert_allclose(host(a.grad), [1.0])
    assert b.grad is None


def test_function_with_constant_array_input():
    x = T([1.0, 2.0])
    y = F.mul(x, B.asarray(np.array([3.0, 4.0])))  # a raw array operand is a constant
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 4.0])


def test_reductions_return_arrays_not_scalars():
    y = F.sum(T([1.0, 2.0]))
    assert B.is_array(y.data) and y.shape == ()  # an array of the backend, not a Python float


# ----------------------------------------------------------------------------
# The gradient checker
# ----------------------------------------------------------------------------
class WrongSquare(minigan.Function):
    """x^2 with a gradient that is wrong only at flat index 4 (of input 0)."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        (x,) = self.inputs
        xp = B.xp()
        bump = xp.reshape(xp.astype(xp.arange(x.size) == 4, x.dtype), x.shape)
        return gy * (x * 2.0) + gy * bump * 0.5


class FirstOrderOnlySquare(minigan.Function):
    """x^2 whose gradient 2x is right in value but built from a raw array, so it is
    a constant in the graph: the second derivative comes out 0 instead of 2 (DeZero's mistake)."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * (self.inputs[0].data * 2.0)


class WrongSecondInput(minigan.Function):
    """a * b with the gradient of b off by a factor of 2."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * a * 2.0


def test_gradcheck_passes_correct_functions():
    x = T(np.linspace(-1, 1, 6).reshape(2, 3))
    assert minigan.gradcheck(lambda x: F.tanh(x) * x, [x], order=2)


def test_gradcheck_catches_wrong_first_order_and_names_the_element():
    x = T(np.linspace(0.5, 2.0, 6).reshape(2, 3))
    with pytest.raises(minigan.GradcheckError) as e:
        minigan.gradcheck(lambda x: WrongSquare()(x), [x])
    msg = str(e.value)
    assert "order-1" in msg and "input 0" in msg and "(1, 1)" in msg  # flat 4 of a (2, 3) array
    assert "analytic" in msg and "numeric" in msg and "1 of 6" in msg


class GraduallyWrongSquare(minigan.Function):
    """x^2 whose gradient is off by 0.1 * k at flat index k: every element but the first is wrong."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        (x,) = self.inputs
        xp = B.xp()
        ramp = xp.reshape(xp.astype(xp.arange(x.size), x.dtype), x.shape) * 0.1
        return gy * (x * 2.0 + ramp)


def test_gradcheck_reports_the_worst_element_with_both_values():
    """With many wrong elements the message names the worst one (flat 5 of (2, 3): index (1, 2)),
    its analytic and numeric values as plain numbers, and how many fail."""
    xh = np.linspace(0.5, 2.0, 6).reshape(2, 3)
    with pytest.raises(minigan.GradcheckError) as e:
        minigan.gradcheck(lambda x: F.sum(GraduallyWrongSquare()(x)), [T(xh)])
    msg = str(e.value)
    assert "order-1 gradient of input 0" in msg and "index (1, 2)" in msg and "5 of 6 elements fail" in msg
    analytic, numeric = (float(v) for v in re.search(r"analytic (\S+) vs numeric (\S+) ", msg).groups())
    assert analytic == pytest.approx(2 * 2.0 + 0.5, rel=1e-12)  # x = 2.0 there; the error is 0.1 * 5
    assert numeric == pytest.approx(2 * 2.0, rel=1e-8)


def test_gradcheck_names_the_wrong_input():
    a, b = T([1.0, 2.0]), T([3.0, 4.0])
    with pytest.raises(minigan.GradcheckError, match="input 1"):
        minigan.gradcheck(lambda a, b: WrongSecondInput()(a, b), [a, b])
    # with b a constant, only a is checked, and a's gradient is right
    assert minigan.gradcheck(lambda a, b: WrongSecondInput()(a, b), [a, T([3.0, 4.0], False)])


def test_gradcheck_catches_wrong_second_order():
    x = T([0.5, -1.0, 2.0])
    assert minigan.gradcheck(lambda x: FirstOrderOnlySquare()(x), [x], order=1)
    with pytest.raises(minigan.GradcheckError, match="order-2"):
        minigan.gradcheck(lambda x: FirstOrderOnlySquare()(x), [x], order=2)


def test_gradcheck_second_order_of_wrong_first_order_fails_first():
    x = T(np.linspace(0.5, 2.0, 6))
    with pytest.raises(minigan.GradcheckError, match="order-1"):
        minigan.gradcheck(lambda x: WrongSquare()(x), [x], order=2)


class NaNGradient(minigan.Function):
    """2x with a NaN gradient: NaN compares False with any tolerance, so it must be caught explicitly."""

    def forward(self, x):
        return x * 2.0

    def backward(self, gy):
        return gy * float("nan")


def test_gradcheck_catches_nan_gradients():
    with pytest.raises(minigan.GradcheckError, match="nan"):
        minigan.gradcheck(lambda x: NaNGradient()(x), [T([1.0, 2.0])])
    with pytest.raises(minigan.GradcheckError, match=r"index \(\)"):  # a 0-d input
        minigan.gradcheck(lambda x: NaNGradient()(x), [T(1.0)])


def test_gradcheck_argument_errors():
    with pytest.raises(ValueError, match="float64"):
        minigan.gradcheck(F.tanh, [T([1.0], dtype="float32")])
    with pytest.raises(ValueError, match="requires_grad"):
        minigan.gradcheck(F.tanh, [T([1.0], requires_grad=False)])
    with pytest.raises(ValueError, match="order"):
        minigan.gradcheck(F.tanh, [T([1.0])], order=3)


def test_gradcheck_with_float32_default_dtype():
    """Perturbed copies of float64 inputs stay float64 even when the default dtype is float32."""
    with minigan.default_dtype("float32"):
        x = T([0.3, 1.7])
        assert minigan.gradcheck(lambda x: F.exp(x * 1.2345678), [x], order=2, atol=1e-8, rtol=1e-7)


def test_numerical_grad_matches_hand_derivative():
    from minigan.gradcheck import numerical_grad

    x = T([0.5, 2.0])
    num = numerical_grad(lambda x: (x**3).sum(), [x], 0)
    np.testing.assert_allclose(num, 3 * np.array([0.5, 2.0]) ** 2, rtol=1e-8)


# ----------------------------------------------------------------------------
# Changing a tensor between forward and backward; what grad() frees
# ----------------------------------------------------------------------------
def test_rebinding_an_input_after_the_forward_pass_raises_naming_the_operation():
    w = minigan.tensor([[1.0, 2.0]], requires_grad=True)
    w.name = "weight"
    x = minigan.tensor([[3.0], [4.0]])
    loss = F.sum(w @ x)
    w.data = w.data * 2.0  # an optimizer step before backward
    with pytest.raises(RuntimeError, match=r"backward through MatMul: its input 0 \('weight' a tensor of shape"):
        loss.backward()


def test_changing_a_tensor_after_backward_is_fine():
    w = minigan.tensor([1.0, 2.0], requires_grad=True)
    loss = F.sum(w * w)
    loss.backward()
    w.data = w.data - 0.1 * w.grad.data
    F.sum(w * w).backward()  # a new forward pass: no complaint


def test_grad_frees_only_the_branch_it_went_through():
    a = minigan.tensor([1.0, 2.0], requires_grad=True)
    b = minigan.tensor([3.0, 4.0], requires_grad=True)
    ea, eb = F.exp(a), F.exp(b)  # two branches
    loss = F.sum(ea) + F.sum(eb)
    (ga,) = minigan.grad(loss, [a])  # goes through the a-branch only
    np.testing.assert_allclose(B.to_host(ga.data), np.exp([1.0, 2.0]), rtol=1e-6)
    (gb,) = minigan.grad(F.sum(eb * 2.0), [b])  # the b-branch was not freed
    np.testing.assert_allclose(B.to_host(gb.data), 2 * np.exp([3.0, 4.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="already freed"):
        minigan.grad(F.sum(ea), [a])  # the a-branch was


def test_layers_built_without_rng_start_differently_and_manual_seed_makes_them_reproducible():
    from minigan import nn

    minigan.manual_seed(123)
    first, second = nn.Dense(4, 4), nn.Dense(4, 4)
    assert not np.array_equal(B.to_host(first.weight.data), B.to_host(second.weight.data))
    minigan.manual_seed(123)
    again = nn.Dense(4, 4)
    np.testing.assert_array_equal(B.to_host(again.weight.data), B.to_host(first.weight.data))
    assert nn.Dense(4, 4, rng=5).weight.shape == (4, 4)  # an explicit seed still works
    with pytest.raises(TypeError, match="manual_seed takes an int"):
        minigan.manual_seed(1.5)


def test_grad_mode_is_per_thread():
    """`no_grad` in one thread (say, minigan lab's training thread) leaves another thread's mode alone,
    even when the two enter and leave it interleaved."""
    import threading

    inside, leave = threading.Event(), threading.Event()
    seen = []

    def other():
        seen.append(minigan.is_grad_enabled())  # a new thread starts with grad mode on
        with minigan.no_grad():
            inside.set()
            leave.wait(10)
        seen.append(minigan.is_grad_enabled())

    t = threading.Thread(target=other)
    with minigan.no_grad():
        t.start()
        inside.wait(10)
    assert minigan.is_grad_enabled()  # the other thread is still inside its no_grad
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    assert (x * x).sum().requires_grad
    leave.set()
    t.join(10)
    assert seen == [True, True] and minigan.is_grad_enabled()
