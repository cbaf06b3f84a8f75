"""Layers: gradient checks (first order for all, second order for discriminator layers in train mode),
input-shape errors, parameters and state, freezing, reproducible initialisation.

Gradients are checked against finite differences with ``minigan.gradcheck`` in float64,
with respect to the input *and* every parameter (parameters are swapped for fresh
leaves during the check). Comparisons with PyTorch live in test_nn_torch.py.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from conftest import T, arr, host
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn as nn
from minigan import backend as B

# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def swapped(layer: nn.Module, tensors: dict):
    """Temporarily replace the layer's parameters by other tensors (so gradcheck can vary them)."""
    saved = {name: getattr(layer, name) for name in tensors}
    for name, t in tensors.items():
        object.__setattr__(layer, name, t)
    try:
        yield
    finally:
        for name, t in saved.items():
            object.__setattr__(layer, name, t)


def check_layer(layer: nn.Module, x, order: int = 1, x_grad: bool = True, before=None, **tol):
    """gradcheck the layer with respect to its input (if float) and all its direct parameters."""
    names = list(layer._parameters)
    params = [T(host(p)) for p in layer._parameters.values()]
    x = x if isinstance(x, minigan.Tensor) else T(x, requires_grad=x_grad)

    def fn(x, *ps):
        if before is not None:
            before()
        with swapped(layer, dict(zip(names, ps))):
            return layer(x)

    assert minigan.gradcheck(fn, [x, *params], order=order, **tol)


def randn(rng, *shape):
    return rng.normal(size=shape)


def covers_layers(*layer_types: type, order: int = 1):
    """Record that the decorated test gradchecks ``layer_types`` to ``order`` (see test_every_layer_is_gradchecked)."""

    def mark(fn):
        fn.covers_layers = {**getattr(fn, "covers_layers", {}), **dict.fromkeys(layer_types, order)}
        return fn

    return mark


@pytest.fixture(autouse=True)
def float64_default():
    # Layers create their parameters in the default dtype: float64 for gradient checks.
    with minigan.default_dtype("float64"):
        yield


# ----------------------------------------------------------------------------
# first- and second-order gradient checks
# ----------------------------------------------------------------------------
@covers_layers(nn.Dense, order=2)
@pytest.mark.parametrize("order", [1, 2])
def test_dense_gradcheck(rng, order):
    check_layer(nn.Dense(3, 2, rng=1), randn(rng, 4, 3), order=order)


def test_dense_without_bias_and_leading_axes(rng):
    layer = nn.Dense(3, 2, bias=False, rng=1)
    assert layer.bias is None and len(layer.parameters()) == 1
    check_layer(layer, randn(rng, 2, 2, 3), order=2)


@covers_layers(nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, order=2)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("layer", [nn.ReLU(), nn.LeakyReLU(0.2), nn.LeakyReLU(0.01), nn.Tanh(), nn.Sigmoid()])
def test_activation_gradcheck(rng, layer, order):
    x = randn(rng, 3, 4)
    x[np.abs(x) < 1e-3] = 0.5  # keep clear of the kinks of relu and leaky relu
    check_layer(layer, x, order=order)


@covers_layers(nn.BatchNorm, order=2)
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 3)])
@pytest.mark.parametrize("order", [1, 2])
def test_batchnorm_gradcheck_train_mode(rng, shape, order):
    """BatchNorm's batch statistics depend on every sample: second derivatives included (WGAN-GP needs them)."""
    layer = nn.BatchNorm(shape[1], momentum=0.3)
    layer.gamma.data = arr(rng.uniform(0.5, 1.5, shape[1]))
    layer.beta.data = arr(rng.normal(size=shape[1]))
    check_layer(layer, randn(rng, *shape), order=order, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 3), (2, 2, 2, 2)])
def test_batchnorm_gradcheck_eval_mode(rng, shape):
    layer = nn.BatchNorm(shape[1], affine=True)
    layer.running_mean.data = arr(rng.normal(size=shape[1]))
    layer.running_var.data = arr(rng.uniform(0.5, 2.0, shape[1]))
    layer.eval()
    check_layer(layer, randn(rng, *shape), order=2)


def test_batchnorm_without_affine_gradcheck(rng):
    layer = nn.BatchNorm(3, affine=False)
    assert layer.parameters() == []
    check_layer(layer, randn(rng, 4, 3), order=2, atol=1e-5)


@covers_layers(nn.Dropout, order=2)
@pytest.mark.parametrize("order", [1, 2])
def test_dropout_gradcheck_with_a_fixed_mask(rng, order):
    layer = nn.Dropout(0.5, rng=3)
    state = layer.rng.get_state()

    def same_mask():  # every evaluation draws the same mask: the function is then smooth
        layer.rng.set_state(state)

    check_layer(layer, randn(rng, 3, 4), order=order, before=same_mask)


@settings(max_examples=8)
@given(
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.sampled_from(["same", "valid", 0, 1]),
    size=st.integers(3, 5),
)
def test_conv2d_gradcheck_first_order(k, stride, padding, size):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(k * 100 + stride * 10 + size)
        layer = nn.Conv2D(2, 2, k, stride=stride, padding=padding, rng=0)
        check_layer(layer, randn(rng, 1, 2, size, size))


@covers_layers(nn.Conv2D, order=2)
@settings(max_examples=4)
@given(
    k=st.integers(2, 3), stride=st.integers(1, 2), padding=st.sampled_from(["same", "valid", 1]), size=st.integers(3, 4)
)
def test_conv2d_gradcheck_second_order(k, stride, padding, size):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(k * 100 + stride * 10 + size)
        layer = nn.Conv2D(1, 2, k, stride=stride, padding=padding, rng=0)
        check_layer(layer, randn(rng, 2, 1, size, size), order=2)


@settings(max_examples=8)
@given(
    k=st.integers(1, 4),
    stride=st.integers(1, 2),
    mode=st.sampled_from(["same", "valid", 0, 1, "int+output_padding"]),
    size=st.integers(2, 3),
)
def test_conv2d_transpose_gradcheck(k, stride, mode, size):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(k * 100 + stride * 10 + size)
        padding, out_pad = (1, stride - 1) if mode == "int+output_padding" else (mode, 0)
        if isinstance(padding, int) and 2 * padding >= (size - 1) * stride + k + out_pad:
            padding = 0
        layer = nn.Conv2DTranspose(2, 2, k, stride=stride, padding=padding, output_padding=out_pad, rng=0)
        check_layer(layer, randn(rng, 1, 2, size, size), order=2 if k <= 2 else 1)


@covers_layers(nn.UpSampling2D, nn.MaxPool2D, nn.AvgPool2D, nn.Flatten, nn.Reshape, order=2)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize(
    "layer",
    [
        nn.UpSampling2D(2, "nearest"),
        nn.UpSampling2D((2, 3), "bilinear"),
        nn.MaxPool2D(2),
        nn.MaxPool2D(3, strides=2, padding=1),
        nn.MaxPool2D(2, padding="same"),
        nn.AvgPool2D(2),
        nn.AvgPool2D(3, strides=2, padding="same"),
        nn.Flatten(),
        nn.Reshape((5, 4)),
    ],
    ids=repr,
)
def test_parameter_free_image_layers_gradcheck(rng, layer, order):
    check_layer(layer, randn(rng, 2, 1, 4, 5), order=order)


@covers_layers(nn.Embedding, order=2)
@pytest.mark.parametrize("order", [1, 2])
def test_embedding_gradcheck_wrt_weight(order):
    layer = nn.Embedding(4, 3, rng=0)
    labels = minigan.Tensor(B.asarray(np.array([[0, 3], [3, 1], [0, 0]]), dtype="int64"))
    check_layer(layer, labels, order=order)


@covers_layers(nn.SpectralNorm, order=2)
@pytest.mark.parametrize("order", [1, 2])
def test_spectral_norm_gradcheck(rng, order):
    """The wrapper with respect to the input and the wrapped layer's weight and bias, in eval mode (u, v fixed);
    test_spectral.py has the hypothesis-driven checks over layer kinds and shapes."""
    sn = nn.SpectralNorm(nn.Conv2D(2, 2, 2, stride=2, rng=0), rng=1).eval()
    layer = sn.layer
    w, b = T(host(layer.weight)), T(host(layer.bias))
    original = layer.weight

    def fn(x, w, b):
        layer._parameters["weight"] = w  # SpectralNorm normalises the registered weight
        try:
            with swapped(layer, {"weight": w, "bias": b}):
                return minigan.functions.tanh(sn(x))
        finally:
            layer._parameters["weight"] = original

    assert minigan.gradcheck(fn, [T(randn(rng, 2, 2, 4, 4)), w, b], order=order)


@covers_layers(nn.MinibatchStdDev, order=2)
@pytest.mark.parametrize("group_size", [None, 2])
@pytest.mark.parametrize("shape", [(4, 3), (4, 2, 2, 2)])
@pytest.mark.parametrize("order", [1, 2])
def test_minibatch_stddev_gradcheck(rng, group_size, shape, order):
    check_layer(nn.MinibatchStdDev(group_size), randn(rng, *shape), order=order, atol=1e-5)


def test_small_discriminator_second_order_in_train_mode(rng):
    """A whole D stack (conv, BatchNorm in train mode, dropout, minibatch-std, dense): the WGAN-GP path."""
    D = nn.Sequential(
        nn.Conv2D(1, 2, 3, stride=2, padding="same", rng=0),
        nn.BatchNorm(2),
        nn.LeakyReLU(0.2),
        nn.MinibatchStdDev(),
        nn.Flatten(),
        nn.Dense(3 * 2 * 2, 1, rng=1),
    )
    x = T(randn(rng, 3, 1, 4, 4))
    assert minigan.gradcheck(lambda x: D(x), [x], order=2, atol=1e-5)


@covers_layers(nn.Conv2DTranspose, order=2)
@pytest.mark.parametrize("k, padding, out_pad", [(3, "same", 0), (4, "same", 0), (3, "valid", 0), (3, 1, 1), (4, 1, 0)])
def test_conv2d_transpose_second_order_stride2(rng, k, padding, out_pad):
    """The DCGAN / seed generator configurations (stride 2, kernels 3-5, every padding mode) to second
    order with respect to the input, the weight and the bias: a discriminator may upsample too."""
    layer = nn.Conv2DTranspose(2, 1, k, stride=2, padding=padding, output_padding=out_pad, rng=0)
    layer.bias.data = arr(rng.normal(size=1))
    check_layer(layer, randn(rng, 2, 2, 2, 2), order=2)


@covers_layers(nn.InstanceNorm, nn.ReflectionPad2D, order=2)
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_and_reflection_pad_second_order(rng, affine):
    norm = nn.InstanceNorm(2, affine=affine)
    if affine:
        norm.gamma.data = arr(rng.uniform(0.5, 1.5, 2))
        norm.beta.data = arr(rng.normal(size=2))
    check_layer(nn.Sequential(norm, nn.LeakyReLU(0.2)), randn(rng, 2, 2, 3, 3), order=2)
    check_layer(norm, randn(rng, 2, 2, 2, 3), order=2)  # its own gamma and beta too
    check_layer(nn.ReflectionPad2D((1, 2, 2, 0)), randn(rng, 1, 2, 3, 4), order=2)


@covers_layers(nn.UNet, order=2)
def test_unet_second_order(rng):
    """Through the skips and the bottleneck, to second order in the input (its blocks' weights are
    Conv2D, Conv2DTranspose and norm layers, checked above)."""
    net = nn.UNet(1, 1, depth=2, width=2, norm="instance", rng=0)
    check_layer(net, randn(rng, 2, 1, 8, 8), order=2, atol=1e-5)


# Layer types a discriminator may contain: each needs a second-order gradcheck (WGAN-GP, R1).
DISCRIMINATOR_LAYERS = {
    nn.Dense, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.BatchNorm, nn.Dropout, nn.Conv2D,
    nn.Conv2DTranspose, nn.UpSampling2D, nn.MaxPool2D, nn.AvgPool2D, nn.Flatten, nn.Reshape,
    nn.Embedding, nn.MinibatchStdDev, nn.SpectralNorm, nn.InstanceNorm, nn.ReflectionPad2D, nn.UNet,
}  # fmt: skip


def test_every_layer_is_gradchecked():
    """Every layer class that minigan.nn exports has a gradcheck test here (found through the
    ``covers_layers`` labels), to second order for every layer a discriminator may contain."""
    covered: dict[type, int] = {}
    for obj in list(globals().values()):
        for layer_type, order in getattr(obj, "covers_layers", {}).items():
            covered[layer_type] = max(order, covered.get(layer_type, 0))
    exported = {
        obj
        for name in nn.__all__
        if isinstance(obj := getattr(nn, name), type) and issubclass(obj, nn.Module)
        and obj not in (nn.Module, nn.Sequential)
    }  # fmt: skip
    # Every exported layer may appear in a discriminator (Embedding in the conditional one).
    assert exported == DISCRIMINATOR_LAYERS, f"new layer types, add them here: {exported ^ DISCRIMINATOR_LAYERS}"
    missing = sorted(t.__name__ for t in exported if t not in covered)
    assert not missing, f"layers without a gradcheck test: {missing}"
    missing2 = sorted(t.__name__ for t in DISCRIMINATOR_LAYERS if covered.get(t, 0) < 2)
    assert not missing2, f"discriminator layers without a second-order gradcheck: {missing2}"


# ----------------------------------------------------------------------------
# MinibatchStdDev against the formula
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("group_size", [None, 2, 3])
def test_minibatch_stddev_matches_progan_formula(rng, group_size):
    x = randn(rng, 6, 2, 3, 3)
    y = host(nn.MinibatchStdDev(group_size)(T(x, requires_grad=False)))
    g = 6 if group_size is None else group_size
    m = 6 // g
    grouped = x.reshape(g, m, 2, 3, 3)  # sample n is in group n mod m
    s = np.sqrt(grouped.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))  # (m,)
    expected_extra = np.broadcast_to(np.tile(s, g).reshape(6, 1, 1, 1), (6, 1, 3, 3))
    np.testing.assert_allclose(y[:, :2], x, rtol=0, atol=0)
    np.testing.assert_allclose(y[:, 2:], expected_extra, rtol=1e-12)


def test_minibatch_stddev_on_vectors(rng):
    x = randn(rng, 4, 5)
    y = host(nn.MinibatchStdDev()(T(x, requires_grad=False)))
    assert y.shape == (4, 6)
    np.testing.assert_allclose(y[:, 5], np.sqrt(x.var(axis=0) + 1e-8).mean(), rtol=1e-12)


def test_minibatch_stddev_of_identical_samples_is_tiny():
    """Mode collapse made visible: identical samples give std sqrt(eps) = 1e-4."""
    x = np.ones((4, 3))
    y = host(nn.MinibatchStdDev()(T(x, requires_grad=False)))
    np.testing.assert_allclose(y[:, 3], 1e-4, rtol=1e-9)


# ----------------------------------------------------------------------------
# Embedding and Dropout behaviour
# ----------------------------------------------------------------------------
def test_embedding_looks_up_rows_and_sums_repeated_gradients():
    layer = nn.Embedding(5, 3, rng=2)
    W = host(layer.weight)
    labels = B.asarray(np.array([4, 1, 4]), dtype="int64")
    y = layer(labels)
    np.testing.assert_array_equal(host(y), W[[4, 1, 4]])
    g = np.arange(9.0).reshape(3, 3)
    y.backward(T(g, requires_grad=False))
    expected = np.zeros((5, 3))
    expected[4] = g[0] + g[2]
    expected[1] = g[1]
    np.testing.assert_array_equal(host(layer.weight.grad), expected)


def test_embedding_rejects_float_and_out_of_range_labels():
    layer = nn.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\).*integer labels"):
        layer(T([0.0, 1.0], requires_grad=False))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\), got values in \[0, 7\]"):
        with minigan.detect_anomaly() if not B.get_backend().on_host else contextlib.nullcontext():
            layer(B.asarray(np.array([0, 7]), dtype="int64"))  # (on a device the check is a read-back: anomaly mode)


def test_dropout_train_and_eval():
    layer = nn.Dropout(0.25, rng=0)
    x = T(np.ones((200, 50)), requires_grad=False)
    y = host(layer(x))
    assert set(np.unique(y)) <= {0.0, 1.0 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    layer.eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_same_seed_same_masks():
    x = T(np.ones((4, 10)), requires_grad=False)
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    np.testing.assert_array_equal(host(a(x)), host(b(x)))
    np.testing.assert_array_equal(host(a(x)), host(b(x)))


# ----------------------------------------------------------------------------
# wrong input shapes name the layer, the expected and the received shape
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer, bad_shape, expected",
    [
        (nn.Dense(784, 512), (2, 100), r"Dense\(784 -> 512\): expected input of shape \(N, 784\).*got \(2, 100\)"),
        (nn.Dense(4, 2), (4,), r"Dense\(4 -> 2\): expected .*got \(4,\)"),
        (
            nn.BatchNorm(8),
            (2, 5),
            r"BatchNorm\(8.*\): expected input of shape \(N, 8\) or \(N, 8, H, W\), got \(2, 5\)",
        ),
        (nn.BatchNorm(3), (2, 3, 4), r"BatchNorm\(3.*got \(2, 3, 4\)"),
        (nn.BatchNorm(3), (1, 3), r"BatchNorm\(3.*N\*H\*W >= 2 in training mode, got \(1, 3\)"),
        (
            nn.Conv2D(1, 4, 3),
            (2, 3, 8, 8),
            r"Conv2D\(1, 4, .*\): expected input of shape \(N, 1, H, W\), got \(2, 3, 8, 8\)",
        ),
        (nn.Conv2D(1, 4, 3), (2, 64), r"Conv2D\(1, 4.*got \(2, 64\)"),
        (nn.Conv2D(1, 4, 5), (2, 1, 3, 3), r"Conv2D\(1, 4.*5x5 kernel fitting.*got \(2, 1, 3, 3\)"),
        (
            nn.Conv2DTranspose(128, 64, 3),
            (2, 64, 7, 7),
            r"Conv2DTranspose\(128, 64.*\(N, 128, H, W\), got \(2, 64, 7, 7\)",
        ),
        (nn.UpSampling2D(2), (2, 3, 4), r"UpSampling2D\(.*\(N, C, H, W\), got \(2, 3, 4\)"),
        (nn.MaxPool2D(2), (2, 8), r"MaxPool2D\(.*\(N, C, H, W\), got \(2, 8\)"),
        (nn.AvgPool2D(4), (1, 1, 2, 2), r"AvgPool2D\(.*4x4 window.*got \(1, 1, 2, 2\)"),
        (nn.Flatten(), (5,), r"Flatten\(\): expected .*got \(5,\)"),
        (nn.Reshape((128, 3, 3)), (2, 1000), r"Reshape\(\(128, 3, 3\)\): expected .*1152 elements.*got \(2, 1000\)"),
        (nn.MinibatchStdDev(4), (6, 3), r"MinibatchStdDev\(group_size=4\): .*divisible by group_size 4, got \(6, 3\)"),
        (nn.MinibatchStdDev(), (1, 3), r"MinibatchStdDev\(.*N >= 2.*got \(1, 3\)"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None,
)
def test_wrong_input_shape_names_layer_and_shapes(layer, bad_shape, expected):
    with pytest.raises(ValueError, match=expected):
        layer(T(np.zeros(bad_shape), requires_grad=False))


def test_embedding_wrong_label_shape_names_layer_and_shapes():
    layer = nn.Embedding(5, 3)
    expected = r"Embedding\(5, 3\): expected input of shape \(N,\) or \(N, L\) of integer labels .*got \(2, 2, 2\)"
    with pytest.raises(ValueError, match=expected):
        layer(B.asarray(np.zeros((2, 2, 2)), dtype="int64"))
    with pytest.raises(ValueError, match=r"Embedding\(5, 3\): .*got \(\)"):
        layer(B.asarray(np.int64(1), dtype="int64"))


def test_wrong_shape_inside_sequential_names_the_inner_layer():
    model = nn.Sequential(nn.Dense(4, 8), nn.LeakyReLU(), nn.Dense(6, 1))
    with pytest.raises(ValueError, match=r"Dense\(6 -> 1\): expected input of shape \(N, 6\).*got \(2, 8\)"):
        model(T(np.zeros((2, 4)), requires_grad=False))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="slope"):
        nn.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2D(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="output_padding"):
        nn.Conv2DTranspose(1, 1, 3, stride=2, padding="same", output_padding=1)
    with pytest.raises(ValueError, match="output_padding"):
        nn.Conv2DTranspose(1, 1, 3, stride=2, padding=1, output_padding=2)
    with pytest.raises(ValueError, match="interpolation"):
        nn.UpSampling2D(2, "bicubic")
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm(3, momentum=0.99 + 1)
    with pytest.raises(TypeError, match="rng"):
        nn.Dense(2, 2, rng="seed")
    with pytest.raises(ValueError, match="unknown initializer"):
        nn.Dense(2, 2, weight_init="glorot")


# ----------------------------------------------------------------------------
# output sizes of the padding modes (Keras semantics)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "k, s, padding, size, out",
    [(3, 2, "same", 28, 14), (3, 2, "same", 7, 4), (3, 2, "valid", 7, 3), (5, 1, "same", 6, 6), (3, 1, 1, 5, 5)],
)
def test_conv2d_output_size(k, s, padding, size, out):
    y = nn.Conv2D(1, 1, k, stride=s, padding=padding)(T(np.zeros((1, 1, size, size)), requires_grad=False))
    assert y.shape == (1, 1, out, out)


@pytest.mark.parametrize(
    "k, s, padding, out_pad, size, out",
    [
        (3, 2, "valid", 0, 3, 7),  # the conv seed: 3 -> 7
        (3, 2, "same", 0, 7, 14),
        (4, 2, "same", 0, 7, 14),
        (1, 2, "valid", 0, 3, 6),  # Keras: (H - 1) * s + max(K, s)
        (3, 2, 1, 1, 7, 14),  # PyTorch: (H - 1) * s + K - 2p + output_padding
        (4, 2, 1, 0, 7, 14),
    ],
)
def test_conv2d_transpose_output_size(k, s, padding, out_pad, size, out):
    layer = nn.Conv2DTranspose(1, 1, k, stride=s, padding=padding, output_padding=out_pad)
    y = layer(T(np.zeros((1, 1, size, size)), requires_grad=False))
    assert y.shape == (1, 1, out, out) == (1, 1) + layer.output_hw(size, size)


def test_conv2d_transpose_valid_with_kernel_smaller_than_stride_leaves_bias_rows():
    layer = nn.Conv2DTranspose(1, 1, 1, stride=2, padding="valid", bias_init="ones")
    layer.weight.data = arr(np.full((1, 1, 1, 1), 2.0))
    y = host(layer(T(np.ones((1, 1, 2, 2)), requires_grad=False)))[0, 0]
    np.testing.assert_array_equal(y, [[3, 1, 3, 1], [1, 1, 1, 1], [3, 1, 3, 1], [1, 1, 1, 1]])


# ----------------------------------------------------------------------------
# parameters, buffers, state dicts, freezing, reproducibility
# ----------------------------------------------------------------------------
def small_model(seed=0):
    return nn.Sequential(
        nn.Conv2D(1, 2, 3, padding="same", rng=seed),
        nn.BatchNorm(2),
        nn.LeakyReLU(),
        nn.Flatten(),
        nn.Dropout(0.3, rng=seed),
        nn.Dense(2 * 4 * 4, 3, rng=seed),
    )


def test_parameters_in_definition_order():
    model = small_model()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.gamma", "1.beta", "5.weight", "5.bias"]
    assert [p.shape for p in model.parameters()] == [(2, 1, 3, 3), (2,), (2,), (2,), (3, 32), (3,)]
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert all(p.requires_grad for p in model.parameters())
    assert not any(b.requires_grad for _, b in model.named_buffers())


def test_same_seed_bit_identical_parameters_different_seed_different():
    a, b, c = small_model(3).state_dict(), small_model(3).state_dict(), small_model(4).state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes()
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_a_shared_generator_draws_layers_in_sequence():
    g = minigan.Generator(0)
    l1, l2 = nn.Dense(3, 3, rng=g), nn.Dense(3, 3, rng=g)
    assert not np.array_equal(host(l1.weight), host(l2.weight))
    g = minigan.Generator(0)
    np.testing.assert_array_equal(host(nn.Dense(3, 3, rng=g).weight), host(l1.weight))


def test_state_dict_round_trip_includes_running_statistics(rng):
    src = small_model(1)
    for _ in range(3):  # move the running statistics away from their initial values
        src(T(randn(rng, 4, 1, 4, 4), requires_grad=False))
    dst = small_model(2)
    report = dst.load_state_dict(src.state_dict())
    assert report == {"missing": [], "unexpected": [], "mismatched": []}
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2 and a.tobytes() == b.tobytes()
    x = T(randn(rng, 2, 1, 4, 4), requires_grad=False)
    src.eval(), dst.eval()
    np.testing.assert_array_equal(host(src(x)), host(dst(x)))


def test_load_state_dict_strict_rejects_and_changes_nothing():
    dst = small_model(2)
    before = dst.state_dict()
    bad = small_model(1).state_dict()
    bad["5.weight"] = np.zeros((4, 32))
    del bad["1.running_var"]
    with pytest.raises(ValueError, match=r"missing: 1.running_var[\s\S]*mismatched: 5.weight"):
        dst.load_state_dict(bad)
    for k, v in dst.state_dict().items():
        assert v.tobytes() == before[k].tobytes()


def test_frozen_layer_still_passes_gradient_to_its_input(rng):
    layer = nn.Dense(3, 2, rng=0).requires_grad_(False)
    x = T(randn(rng, 4, 3))
    layer(x).sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is None
    np.testing.assert_allclose(host(x.grad), np.tile(host(layer.weight).sum(axis=0), (4, 1)), rtol=1e-12)
    layer.requires_grad_(True)
    layer(x).sum().backward()
    assert layer.weight.grad is not None


def test_module_zero_grad_clears_every_parameter_of_nested_modules(rng):
    model = nn.Sequential(small_model(), nn.Sequential(nn.Dense(3, 2, rng=0)))
    model(T(randn(rng, 4, 1, 4, 4), requires_grad=False)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    buffers = {k: host(b).copy() for k, b in model.named_buffers()}
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    for k, b in model.named_buffers():  # running statistics are state, not gradients
        np.testing.assert_array_equal(host(b), buffers[k])


def test_to_backend_moves_every_parameter_and_buffer_bitwise(rng):
    """model.to(name): parameters and buffers move (same Parameter objects, same dtype, same bytes),
    gradients are dropped, the backend becomes active, and the model computes the same there."""
    pytest.importorskip("array_api_strict")
    start = B.get_backend().name
    other = "numpy" if start == "strict" else "strict"
    model = small_model(5)
    for _ in range(2):  # running statistics away from their initial values
        model(T(randn(rng, 4, 1, 4, 4), requires_grad=False)).sum().backward()
    params = model.parameters()
    before = model.state_dict()
    x = randn(rng, 2, 1, 4, 4)
    model.eval()
    y_before = host(model(T(x, requires_grad=False)))
    try:
        assert model.to(other) is model
        assert B.get_backend().name == other
        assert all(a is b for a, b in zip(model.parameters(), params))  # an optimizer built earlier still works
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            assert B.namespace_of(t.data) == other, name
            assert host(t).dtype == before[name].dtype and host(t).tobytes() == before[name].tobytes(), name
        assert all(p.grad is None for p in model.parameters())
        np.testing.assert_allclose(host(model(T(x, requires_grad=False))), y_before, rtol=1e-12, atol=1e-14)
        model.train()
        model(T(x, requires_grad=False)).sum().backward()
        assert all(B.namespace_of(p.grad.data) == other for p in model.parameters())
        model.to(start)
        assert B.get_backend().name == start
        assert all(B.namespace_of(p.data) == start for p in model.parameters())
    finally:
        B.set_backend(start)


def test_train_eval_switches_every_sublayer():
    model = small_model()
    model.eval()
    assert not any(m.training for _, m in model.named_modules())
    model.train()
    assert all(m.training for _, m in model.named_modules())


def test_batchnorm_eval_uses_running_statistics_and_does_not_update_them(rng):
    layer = nn.BatchNorm(3)
    layer.running_mean.data = arr([1.0, 2.0, 3.0])
    layer.running_var.data = arr([4.0, 1.0, 0.25])
    layer.eval()
    x = randn(rng, 5, 3)
    y = host(layer(T(x, requires_grad=False)))
    np.testing.assert_allclose(y, (x - [1, 2, 3]) / np.sqrt(np.array([4, 1, 0.25]) + 1e-5), rtol=1e-12)
    np.testing.assert_array_equal(host(layer.running_mean), [1.0, 2.0, 3.0])


def test_batchnorm_momentum_is_the_weight_of_the_new_statistic(rng):
    """PyTorch's convention (Keras momentum m == minigan momentum 1 - m), unbiased running variance."""
    x = randn(rng, 6, 2)
    layer = nn.BatchNorm(2, momentum=0.25)
    layer(T(x, requires_grad=False))
    np.testing.assert_allclose(host(layer.running_mean), 0.25 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(host(layer.running_var), 0.75 + 0.25 * x.var(axis=0, ddof=1), rtol=1e-12)


# ----------------------------------------------------------------------------
# initialisers
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, shape, fan_in, fan_out, check",
    [
        ("glorot_uniform", (300, 200), 200, 300, lambda w: np.abs(w).max() <= math.sqrt(6 / 500)),
        ("he_uniform", (300, 200), 200, 300, lambda w: np.abs(w).max() <= math.sqrt(6 / 200)),
        ("glorot_normal", (300, 200), 200, 300, lambda w: abs(w.std() - math.sqrt(2 / 500)) < 0.003),
        ("he_normal", (300, 200), 200, 300, lambda w: abs(w.std() - math.sqrt(2 / 200)) < 0.003),
        ("dcgan_normal", (64, 32, 4, 4), None, None, lambda w: abs(w.std() - 0.02) < 0.0005 and abs(w.mean()) < 0.001),
        ("zeros", (3, 4), None, None, lambda w: (w == 0).all()),
        ("ones", (3,), None, None, lambda w: (w == 1).all()),
    ],
)
def test_initializer_distributions(name, shape, fan_in, fan_out, check):
    w = host(nn.init.get(name)(shape, minigan.Generator(0), fan_in=fan_in, fan_out=fan_out))
    assert w.shape == shape and check(w)
    if name.endswith("uniform"):  # uses the full range
        bound = math.sqrt(6 / (fan_in + fan_out)) if name.startswith("glorot") else math.sqrt(6 / fan_in)
        assert np.abs(w).max() > 0.95 * bound


def test_fans_follow_pytorch_layouts():
    assert nn.init.fans((5, 3)) == (3, 5)
    assert nn.init.fans((8, 4, 3, 3)) == (36, 72)
    conv_t = nn.Conv2DTranspose(
        4,
        8,
        3,
        weight_init=lambda shape, rng, fan_in, fan_out, dtype=None: B.xp().full(
            shape, float(fan_in * 1000 + fan_out), dtype=B.float_dtype()
        ),
    )
    assert host(conv_t.weight).flat[0] == 72 * 1000 + 36  # fan_in = out * K * K, as PyTorch and Keras


def test_initializers_keep_the_default_float_dtype():
    with minigan.default_dtype("float32"):
        layer = nn.Dense(2, 2)
        assert "float32" in str(layer.weight.dtype) and "float32" in str(layer.bias.dtype)
        assert "float32" in str(nn.BatchNorm(2).running_var.dtype)


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "dcgan_normal"])
def test_initializers_are_bit_reproducible_from_the_explicit_generator(name):
    """Same seed -> the same bytes (on every backend): exactly the host PCG64 draw of that seed, scaled.
    A different seed gives different weights."""
    shape = (6, 4, 3, 3)
    fan_in, fan_out = nn.init.fans(shape)  # 36, 54
    ref_rng = np.random.default_rng(7)
    if name.endswith("uniform"):
        bound = math.sqrt(6 / (fan_in + fan_out)) if name.startswith("glorot") else math.sqrt(6 / fan_in)
        ref = ref_rng.uniform(-bound, bound, size=shape)
    else:
        std = {"glorot_normal": math.sqrt(2 / (fan_in + fan_out)), "he_normal": math.sqrt(2 / fan_in)}.get(name, 0.02)
        ref = ref_rng.standard_normal(shape) * std + 0.0
    init = nn.init.get(name)
    w = host(init(shape, minigan.Generator(7)))
    np.testing.assert_array_equal(w, ref)
    assert w.tobytes() == host(init(shape, minigan.Generator(7))).tobytes()
    assert not np.array_equal(w, host(init(shape, minigan.Generator(8))))
    for backend in ("numpy", "strict"):
        with minigan.use_backend(backend):
            assert host(init(shape, minigan.Generator(7))).tobytes() == w.tobytes(), backend
            layer = nn.Conv2D(4, 6, 3, weight_init=name, rng=7)
            assert host(layer.weight).tobytes() == w.tobytes(), backend


# ----------------------------------------------------------------------------
# Image-to-image blocks: UNet, PatchGAN, InstanceNorm, ReflectionPad2D
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("depth, size", [(1, 6), (2, 28), (3, 16)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_unet_keeps_the_image_size(depth, size, norm):
    net = nn.UNet(2, 3, depth=depth, width=4, norm=norm, dropout=0.5, rng=0)
    y = net(T(np.random.default_rng(0).normal(size=(2, 2, size, size)), requires_grad=False))
    assert y.shape == (2, 3, size, size)
    assert np.all(np.abs(host(y)) <= 1.0)  # tanh
    names = list(net._modules)
    assert names == [f"down{k}" for k in range(depth)] + [f"up{j}" for j in range(depth - 1)] + ["final"]


def test_unet_skips_reach_the_output():
    """The skip from the first level carries the input's detail: with the bottleneck's output zeroed,
    the output still depends on the input (through down0 -> concat -> final)."""
    net = nn.UNet(1, 1, depth=2, width=4, norm="none", rng=0)
    for p in net.up0.parameters():
        p.data = p.data * 0.0  # up0 now outputs ReLU(0) = 0: only the skip reaches `final`
    x = T(np.random.default_rng(0).normal(size=(1, 1, 8, 8)))
    net(x).sum().backward()
    assert np.abs(host(x.grad)).sum() > 0


def test_unet_and_patch_discriminator_refuse_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 4"):
        nn.UNet(1, 1, depth=2)(T(np.zeros((1, 1, 30, 30))))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        nn.UNet(1, 1, depth=1)(T(np.zeros((1, 2, 8, 8))))
    with pytest.raises(ValueError, match="norm must be one of"):
        nn.UNet(1, 1, norm="layer")
    with pytest.raises(ValueError, match="dropout"):
        nn.UNet(1, 1, dropout=1.0)
    with pytest.raises(ValueError, match="positive integer"):
        nn.UNet(1, 1, depth=0)
    with pytest.raises(ValueError, match="has 4 blocks, got 1"):
        nn.UNet.from_blocks([nn.Sequential()], in_channels=1, out_channels=1, depth=2)
    with pytest.raises(ValueError, match="n_layers"):
        nn.patch_discriminator(2, n_layers=0)


@pytest.mark.parametrize("n_layers, size, out", [(1, 8, 4), (2, 28, 7), (3, 32, 4)])
def test_patch_discriminator_gives_a_logit_per_patch(n_layers, size, out):
    d = nn.patch_discriminator(2, width=4, n_layers=n_layers, rng=0)
    assert d(T(np.zeros((3, 2, size, size)), requires_grad=False)).shape == (3, 1, out, out)


def test_instance_norm_and_reflection_pad_check_their_input():
    with pytest.raises(ValueError, match="H\\*W >= 2"):
        nn.InstanceNorm(3)(T(np.zeros((2, 3, 1, 1))))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nn.InstanceNorm(3)(T(np.zeros((2, 4, 5, 5))))
    with pytest.raises(ValueError, match="H > 3"):
        nn.ReflectionPad2D(3)(T(np.zeros((1, 1, 3, 5))))
    with pytest.raises(ValueError, match="left, right, top, bottom"):
        nn.ReflectionPad2D((1, 2))
    layer = nn.InstanceNorm(3, affine=True)
    assert [n for n, _ in layer.named_parameters()] == ["gamma", "beta"] and not list(layer.named_buffers())
    assert repr(nn.ReflectionPad2D(2)) == "ReflectionPad2D((2, 2, 2, 2))"
