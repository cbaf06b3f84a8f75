"""Every kernel of ``minigan/kernels/`` computes what its textbook primitive computes.

For each registered replacement: the value, the first-order gradients and the second-order
gradients (of a function of the first-order ones, as WGAN-GP takes them) in float64, with the
kernels on and inside ``minigan.kernels.textbook()``, on shapes ``hypothesis`` chooses. The
kernels' own branches are forced too (chunked batches, both sides of each product, the
sub-pixel phases), since which one runs depends on the sizes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.functions as F
from minigan import backend as B
from minigan.functions.replaceable import register, replaceable

RNG = np.random.default_rng(0)


def host(t):
    return B.to_host(t.data if isinstance(t, minigan.Tensor) else t)


def both_paths(fn, arrays, second=True):
    """fn(*tensors) -> (value, first-order grads, second-order grads) with kernels on and off."""
    results = []
    for textbook in (False, True):
        with minigan.default_dtype("float64"), minigan.kernels.use_kernels(not textbook):
            ts = [minigan.tensor(a, requires_grad=True) for a in arrays]
            y = fn(*ts)
            weights = minigan.tensor(np.random.default_rng(1).standard_normal(y.shape))
            loss = F.sum(y * weights)  # a non-uniform upstream gradient
            grads = minigan.grad(loss, ts, create_graph=second, allow_unused=True)
            out = [host(y), [None if g is None else host(g) for g in grads]]
            if second:
                penalty = sum(F.sum(g * g) for g in grads if g is not None)
                if not penalty.requires_grad:  # a piecewise-linear op: its gradient is constant in x
                    out.append([None] * len(ts))
                    results.append(out)
                    continue
                gg = minigan.grad(penalty, ts, allow_unused=True)
                out.append([None if g is None else host(g) for g in gg])
            results.append(out)
    return results


def assert_same(results, rtol=1e-10, atol=1e-10):
    fast, slow = results
    np.testing.assert_allclose(fast[0], slow[0], rtol=rtol, atol=atol, err_msg="value")
    for order, (a_list, b_list) in enumerate(zip(fast[1:], slow[1:]), start=1):
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"order {order}, input {i}")


def test_every_kernel_replaces_a_textbook_primitive_it_subclasses():
    pairs = minigan.kernels.registered()
    assert {cls.__name__ for cls in pairs} >= {
        "Conv2d", "ConvTranspose2d", "Conv2dGradWeight", "Linear", "LeakyReLU", "BatchNormTrain"
    }  # fmt: skip
    for textbook, fast in pairs.items():
        assert issubclass(fast, textbook) and fast.__module__.startswith("minigan.kernels.")
        assert textbook.__module__.startswith("minigan.functions.")


def test_the_switch_chooses_the_class_that_runs():
    from minigan.functions.conv import Conv2d
    from minigan.kernels.conv import FastConv2d

    assert type(Conv2d((1, 1), ((0, 0), (0, 0)))) is (FastConv2d if minigan.kernels.kernels_enabled() else Conv2d)
    with minigan.kernels.textbook():
        assert type(Conv2d((1, 1), ((0, 0), (0, 0)))) is Conv2d
        assert not minigan.kernels.kernels_enabled()
    with minigan.kernels.use_kernels(True):
        assert type(Conv2d((1, 1), ((0, 0), (0, 0)))) is FastConv2d


def test_minigan_kernels_0_in_the_environment_runs_the_textbook():
    code = (
        "import minigan; from minigan.functions.basic import Linear; "
        "print(minigan.kernels.kernels_enabled(), type(Linear()).__name__)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "MINIGAN_KERNELS": "0"}
    )
    assert r.stdout.split() == ["False", "Linear"], r.stderr


def test_register_refuses_what_is_not_a_replacement():
    @replaceable
    class Prim(minigan.Function):
        pass

    class Other(minigan.Function):
        pass

    with pytest.raises(TypeError, match="must subclass"):
        register(Prim, Other)
    with pytest.raises(TypeError, match="not marked @replaceable"):
        register(Other, type("Sub", (Other,), {}))


# ----------------------------------------------------------------------------
# Convolutions
# ----------------------------------------------------------------------------
conv_cases = st.tuples(
    st.integers(1, 3),  # batch
    st.integers(1, 3),  # C_in
    st.integers(1, 3),  # C_out
    st.integers(3, 7),  # size
    st.integers(1, 3),  # kernel
    st.integers(1, 3),  # stride
    st.sampled_from(["same", "valid", 0, 1]),
)


@settings(max_examples=25, deadline=None)
@given(conv_cases)
def test_conv2d_kernel_equals_the_textbook(case):
    n, c, o, size, k, s, padding = case
    x, w, b = RNG.standard_normal((n, c, size, size)), RNG.standard_normal((o, c, k, k)), RNG.standard_normal(o)
    assert_same(both_paths(lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=padding), [x, w, b]))


@settings(max_examples=25, deadline=None)
@given(conv_cases, st.integers(0, 2))
def test_conv_transpose2d_kernel_equals_the_textbook(case, output_padding):
    n, c, o, size, k, s, padding = case
    size = min(size, 5)
    if isinstance(padding, str):
        output_padding = 0
    else:
        output_padding = min(output_padding, s - 1)
    x, w = RNG.standard_normal((n, c, size, size)), RNG.standard_normal((c, o, k, k))
    fn = lambda x, w: F.conv_transpose2d(x, w, stride=s, padding=padding, output_padding=output_padding)  # noqa: E731
    assert_same(both_paths(fn, [x, w]))


@pytest.mark.parametrize(
    "c, o, k, s, padding",
    [(8, 1, 4, 2, 1), (1, 8, 4, 2, 1), (4, 4, 3, 2, "same"), (2, 6, 5, 3, 2)],  # both sides, phases, odd strides
)
def test_conv_transpose2d_kernel_paths_on_generator_layers(c, o, k, s, padding):
    x, w = RNG.standard_normal((3, c, 4, 4)), RNG.standard_normal((c, o, k, k))
    assert_same(both_paths(lambda x, w: F.conv_transpose2d(x, w, stride=s, padding=padding), [x, w]))


def test_conv_kernels_in_chunks_equal_the_textbook(monkeypatch):
    monkeypatch.setattr(B, "COLUMN_BUFFER_BYTES", 2048)  # several chunks of the batch on the host
    x, w = RNG.standard_normal((5, 3, 8, 8)), RNG.standard_normal((4, 3, 3, 3))
    assert_same(both_paths(lambda x, w: F.conv2d(x, w, stride=2, padding="same"), [x, w]))
    wt = RNG.standard_normal((3, 2, 4, 4))
    assert_same(both_paths(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), [x, wt]))


def test_conv2d_grad_weight_kernel_equals_the_textbook():
    x, gy = RNG.standard_normal((2, 3, 7, 7)), RNG.standard_normal((2, 4, 4, 4))
    assert_same(both_paths(lambda x, gy: F.conv2d_grad_weight(x, gy, (3, 3), stride=2, padding="same"), [x, gy]))


# ----------------------------------------------------------------------------
# Dense, LeakyReLU, batch norm
# ----------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_linear_kernel_equals_the_textbook(n, fin, fout, bias):
    arrays = [RNG.standard_normal((n, fin)), RNG.standard_normal((fout, fin))] + (
        [RNG.standard_normal(fout)] if bias else []
    )
    assert_same(both_paths(lambda *a: F.linear(*a), arrays))


def test_linear_kernel_through_a_frozen_layer_passes_only_the_input_gradient():
    from minigan.functions.basic import Linear

    x, w = minigan.tensor(RNG.standard_normal((3, 2)), requires_grad=True), minigan.tensor(RNG.standard_normal((4, 2)))
    for on in (True, False):
        with minigan.kernels.use_kernels(on):
            (gx,) = minigan.grad(F.sum(Linear()(x, w)), [x])
            np.testing.assert_allclose(host(gx), np.ones((3, 4)) @ host(w), rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.sampled_from([0.0, 0.01, 0.2, 1.0]))
def test_leaky_relu_kernel_equals_the_textbook(shape, slope):
    x = RNG.standard_normal(tuple(shape))
    assert_same(both_paths(lambda x: F.leaky_relu(x, slope), [x]))


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([(5, 3), (2, 4), (4, 3, 2, 3), (2, 2, 3, 1)]), st.booleans())
def test_batch_norm_kernel_equals_the_textbook_and_moves_the_running_averages_alike(shape, affine):
    c = shape[1]
    x = RNG.standard_normal(shape) * 2 + 1
    gb = [RNG.uniform(0.5, 1.5, c), RNG.standard_normal(c)] if affine else []
    running = []

    def fn(x, *gb):
        rm, rv = minigan.tensor(np.zeros(c)), minigan.tensor(np.ones(c))
        y = F.batch_norm(x, *gb, running_mean=rm, running_var=rv, training=True, momentum=0.3)
        running.append((host(rm).copy(), host(rv).copy()))
        return y

    assert_same(both_paths(fn, [x, *gb]))
    (m_fast, v_fast), (m_slow, v_slow) = running[0], running[1]
    np.testing.assert_allclose(m_fast, m_slow, rtol=1e-12)
    np.testing.assert_allclose(v_fast, v_slow, rtol=1e-12)
    np.testing.assert_allclose(m_slow, 0.3 * x.mean(axis=tuple(a for a in range(x.ndim) if a != 1)), rtol=1e-12)


def test_textbook_for_builds_only_the_named_primitives_textbook_and_restores_the_kernel():
    from minigan.functions.conv import Conv2d, ConvTranspose2d
    from minigan.functions.replaceable import kernels_enabled, registered, textbook_for

    if not kernels_enabled():
        pytest.skip("kernels are off (MINIGAN_KERNELS=0): nothing to replace")
    fast_conv, fast_transposed = registered()[Conv2d], registered()[ConvTranspose2d]
    with textbook_for(ConvTranspose2d):
        assert type(ConvTranspose2d.__new__(ConvTranspose2d)) is ConvTranspose2d
        assert type(Conv2d.__new__(Conv2d)) is fast_conv  # the others stay on
    assert registered()[ConvTranspose2d] is fast_transposed
    with pytest.raises(ValueError, match="no kernel replaces int"):
        with textbook_for(int):
            pass
