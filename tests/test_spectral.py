"""SpectralNorm: float64 gradient checks (first and second order, shapes chosen by hypothesis),
the power iteration against the SVD, train/eval behaviour, state, and PyTorch's
``torch.nn.utils.parametrizations.spectral_norm`` (skipped without torch).

The gradchecks run in eval mode, where u and v are fixed buffers: the function is then
``x, W, b -> layer(x; W / <W, u v^T>, b)``, exactly what a training forward computes after
its power-iteration step, and the gradient through the normalisation must match finite
differences to every order.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from conftest import T, arr, host, torch_or_skip
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn as nn
from minigan.gan.trainer import frozen


@pytest.fixture(autouse=True)
def float64_default():
    with minigan.default_dtype("float64"):
        yield


@contextlib.contextmanager
def swapped_params(layer: nn.Module, weight, bias):
    """Let gradcheck vary the wrapped layer's weight and bias (SpectralNorm reads ``_parameters['weight']``)."""
    saved_w, saved_b = layer._parameters["weight"], layer.bias
    layer._parameters["weight"] = weight
    object.__setattr__(layer, "weight", weight)
    object.__setattr__(layer, "bias", bias)
    try:
        yield
    finally:
        layer._parameters["weight"] = saved_w
        object.__setattr__(layer, "weight", saved_w)
        object.__setattr__(layer, "bias", saved_b)


def check_sn(sn: nn.SpectralNorm, x_host, order: int) -> None:
    sn.eval()  # u, v fixed: a deterministic function of x, W, b
    layer = sn.layer
    x = T(x_host)
    w, b = T(host(layer.weight)), T(host(layer.bias))

    def fn(x, w, b):
        with swapped_params(layer, w, b):
            return sn(x)

    assert minigan.gradcheck(fn, [x, w, b], order=order)


def make(kind: str, cin: int, cout: int, k: int, stride: int, seed: int = 0) -> nn.Module:
    if kind == "dense":
        return nn.Dense(cin, cout, rng=seed)
    if kind == "conv":
        return nn.Conv2D(cin, cout, k, stride=stride, padding="same", rng=seed)
    return nn.Conv2DTranspose(cin, cout, k, stride=stride, padding="same", rng=seed)


def input_for(kind: str, cin: int, size: int, rng) -> np.ndarray:
    return rng.normal(size=(2, cin) if kind == "dense" else (2, cin, size, size))


# ----------------------------------------------------------------------------
# Gradient checks
# ----------------------------------------------------------------------------
@settings(max_examples=10)
@given(
    kind=st.sampled_from(["dense", "conv", "convT"]),
    cin=st.integers(1, 3),
    cout=st.integers(1, 3),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    size=st.integers(2, 4),
)
def test_spectral_norm_gradcheck_first_order(kind, cin, cout, k, stride, size):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(cin * 1000 + cout * 100 + k * 10 + size)
        sn = nn.SpectralNorm(make(kind, cin, cout, k, stride), rng=1)
        check_sn(sn, input_for(kind, cin, size, rng), order=1)


@settings(max_examples=6)
@given(
    kind=st.sampled_from(["dense", "conv", "convT"]),
    cin=st.integers(1, 2),
    cout=st.integers(1, 3),
    k=st.integers(1, 2),
    size=st.integers(2, 3),
)
def test_spectral_norm_gradcheck_second_order(kind, cin, cout, k, size):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(cin * 1000 + cout * 100 + k * 10 + size)
        sn = nn.SpectralNorm(make(kind, cin, cout, k, 2), rng=1)
        # A non-linearity after the layer, so that the second derivatives are not all zero.
        inner = sn.forward
        sn.forward = lambda x: minigan.functions.tanh(inner(x))  # type: ignore[method-assign]
        check_sn(sn, input_for(kind, cin, size, rng), order=2)


def test_spectral_norm_gradient_is_zero_along_the_weight():
    """W / sigma(W) is scale invariant: the gradient of any loss is orthogonal to W itself
    (checked with u, v converged, when sigma is the exact spectral norm)."""
    layer = nn.Dense(4, 3, rng=2)
    sn = nn.SpectralNorm(layer, rng=0)
    sn._power_iteration(200)
    sn.eval()
    x = T(np.random.default_rng(0).normal(size=(5, 4)), requires_grad=False)
    y = sn(x)
    (y * y).sum().backward()
    assert abs(float(np.sum(host(layer.weight.grad) * host(layer.weight)))) < 1e-10


# ----------------------------------------------------------------------------
# Power iteration and modes
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dense", "conv", "convT"])
def test_sigma_converges_to_the_largest_singular_value(kind):
    layer = make(kind, 3, 4, 3, 2, seed=5)
    sn = nn.SpectralNorm(layer, rng=0)
    w = host(layer.weight)
    mat = (np.moveaxis(w, 1, 0) if kind == "convT" else w).reshape(w.shape[1 if kind == "convT" else 0], -1)
    expected = np.linalg.svd(mat, compute_uv=False)[0]
    for _ in range(100):
        sn._power_iteration(1)
    np.testing.assert_allclose(float(host(sn.sigma())), expected, rtol=1e-8)
    # ... so the normalised weight has spectral norm 1.
    wn = host(sn.normalized_weight())
    wn = (np.moveaxis(wn, 1, 0) if kind == "convT" else wn).reshape(mat.shape)
    np.testing.assert_allclose(np.linalg.svd(wn, compute_uv=False)[0], 1.0, rtol=1e-8)


def test_one_power_iteration_per_training_forward_and_none_in_eval():
    sn = nn.SpectralNorm(nn.Dense(4, 3, rng=0), rng=0)
    x = T(np.ones((2, 4)), requires_grad=False)
    u0 = host(sn.u).copy()
    sn.eval()
    sn(x)
    np.testing.assert_array_equal(host(sn.u), u0)
    sn.train()
    w = host(sn.layer.weight).reshape(3, 4)
    v0 = host(sn.v)
    u1 = w @ v0 / np.linalg.norm(w @ v0)
    v1 = w.T @ u1 / np.linalg.norm(w.T @ u1)
    sn(x)
    np.testing.assert_allclose(host(sn.u), u1, rtol=1e-12)
    np.testing.assert_allclose(host(sn.v), v1, rtol=1e-12)


def test_training_forward_equals_eval_forward_with_the_updated_vectors():
    sn = nn.SpectralNorm(nn.Conv2D(2, 3, 3, rng=0), rng=0)
    x = T(np.random.default_rng(1).normal(size=(2, 2, 5, 5)), requires_grad=False)
    y_train = host(sn(x))
    sn.eval()
    np.testing.assert_allclose(host(sn(x)), y_train, rtol=1e-12)


def test_parameters_buffers_and_state_dict():
    layer = nn.Conv2D(2, 3, 3, rng=0)
    sn = nn.spectral_norm(layer, rng=1)
    assert [n for n, _ in sn.named_parameters()] == ["layer.weight", "layer.bias"]
    assert [n for n, _ in sn.named_buffers()] == ["u", "v"]
    assert sn.u.shape == (3,) and sn.v.shape == (2 * 3 * 3,)
    state = sn.state_dict()
    other = nn.SpectralNorm(nn.Conv2D(2, 3, 3, rng=7), rng=8)
    other.load_state_dict(state)
    x = T(np.ones((1, 2, 4, 4)), requires_grad=False)
    sn.eval(), other.eval()
    np.testing.assert_array_equal(host(other(x)), host(sn(x)))
    # The layer's weight attribute is the trainable Parameter again after a call.
    assert sn.layer.weight is sn.layer._parameters["weight"]


def test_frozen_restores_u_and_v():
    """The trainer's G phase runs D in training mode inside `frozen`: the vectors come back unchanged."""
    D = nn.Sequential(nn.SpectralNorm(nn.Dense(3, 4, rng=0), rng=0), nn.LeakyReLU(0.2))
    u0 = host(D[0].u).copy()
    with frozen(D):
        D(T(np.ones((2, 3)), requires_grad=False))
        assert not np.array_equal(host(D[0].u), u0)
    np.testing.assert_array_equal(host(D[0].u), u0)


def test_bad_layers_are_refused():
    with pytest.raises(ValueError, match="'weight' parameter"):
        nn.SpectralNorm(nn.LeakyReLU(0.2))
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.SpectralNorm(nn.Dense(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="dim"):
        nn.SpectralNorm(nn.Dense(2, 2), dim=2)


def test_spectral_norm_discriminator_trains_in_float32():
    with minigan.default_dtype("float32"):
        D = nn.Sequential(nn.SpectralNorm(nn.Conv2D(1, 2, 3, stride=2, rng=0)), nn.Flatten())
        x = minigan.Tensor(arr(np.ones((2, 1, 5, 5)), dtype="float32"))
        y = D(x)
        y.sum().backward()
        assert "float32" in str(y.dtype) and D[0].layer.weight.grad is not None


# ----------------------------------------------------------------------------
# PyTorch
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dense", "conv", "convT"])
def test_matches_torch_parametrizations_spectral_norm(kind):
    torch = torch_or_skip()
    if kind == "dense":
        layer = nn.Dense(2, 4, rng=3)
    elif kind == "conv":
        layer = nn.Conv2D(2, 4, 3, stride=2, padding=1, rng=3)  # PyTorch's integer padding
    else:
        layer = nn.Conv2DTranspose(2, 4, 4, stride=2, padding=1, rng=3)
    sn = nn.SpectralNorm(layer, rng=4)
    if kind == "dense":
        t = torch.nn.Linear(2, 4)
    elif kind == "conv":
        t = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1)
    else:
        t = torch.nn.ConvTranspose2d(2, 4, 4, stride=2, padding=1)
    t = t.double()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(host(layer.weight)))
        t.bias.copy_(torch.tensor(host(layer.bias)))
    t = torch.nn.utils.parametrizations.spectral_norm(t)
    par = t.parametrizations.weight
    with torch.no_grad():  # same starting vectors (each side drew its own)
        par[0]._u.copy_(torch.tensor(host(sn.u)))
        par[0]._v.copy_(torch.tensor(host(sn.v)))
    rng = np.random.default_rng(0)
    for _ in range(3):  # three training forwards: the vectors must follow the same path
        x = rng.normal(size=(3, 2) if kind == "dense" else (3, 2, 6, 6))
        xm = T(x)
        y = sn(xm)
        (y * y).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = t(xt)
        (yt * yt).sum().backward()
        np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(host(xm.grad), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(host(layer.weight.grad), par.original.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(host(sn.u), par[0]._u.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(host(sn.v), par[0]._v.numpy(), rtol=1e-10, atol=1e-13)
        layer.weight.grad = layer.bias.grad = None
        t.zero_grad()
