"""minigan against PyTorch (CPU, float64): forward values and gradients.

Every comparison runs the same inputs through both libraries and compares
the outputs and the gradients of ``sum(y * v)`` for a random ``v`` with respect
to every input (x, weight, bias) to ``rtol=1e-10``. Geometry is drawn by
hypothesis. Keras-style ``'same'`` padding, which PyTorch's conv2d cannot
express for even kernels or strides > 1, is compared with an explicit
``torch.nn.functional.pad`` followed by an unpadded convolution.

Skipped where PyTorch is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import T, host
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.functions as F
from minigan import backend as B

torch = pytest.importorskip("torch", reason="PyTorch not installed: comparison skipped")
TF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(autouse=True, scope="module")
def _float64_default():
    with minigan.default_dtype("float64"):
        yield


def rng_of(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**20), label="seed"))


def tt(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def close(ours, theirs, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(host(ours), theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def compare(our_fn, torch_fn, arrays, rng, grads=None):
    """Run both functions on ``arrays``; compare outputs and the gradients w.r.t. inputs ``grads`` (default all)."""
    grads = range(len(arrays)) if grads is None else grads
    ours = [T(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    theirs = [tt(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    y, yt = our_fn(*ours), torch_fn(*theirs)
    assert tuple(y.shape) == tuple(yt.shape), f"shape {y.shape} vs torch {tuple(yt.shape)}"
    close(y, yt, "forward")
    v = rng.standard_normal(tuple(yt.shape))
    (y * T(v, False)).sum().backward()
    (yt * tt(v, False)).sum().backward()
    for i in grads:
        close(ours[i].grad, theirs[i].grad, f"gradient of input {i}")


def keras_same(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


# ----------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------
@st.composite
def conv_case(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(
        st.one_of(
            st.sampled_from(["same", "valid"]), st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))
        )
    )
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if padding == "same":
        pads = keras_same(h, kh, sh), keras_same(w, kw, sw)
    elif padding == "valid":
        pads = (0, 0), (0, 0)
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        pads = (ph, ph), (pw, pw)
    assume(h + sum(pads[0]) >= kh and w + sum(pads[1]) >= kw)
    return (n, c, h, w), (o, c, kh, kw), (sh, sw), padding, pads


def torch_conv2d(x, w, b, stride, padding, pads):
    if padding == "same":  # Keras 'same' = explicit (possibly asymmetric) pad, then no padding
        (t, bo), (l, r) = pads
        return TF.conv2d(TF.pad(x, (l, r, t, bo)), w, b, stride=stride)
    if padding == "valid":
        return TF.conv2d(x, w, b, stride=stride)
    return TF.conv2d(x, w, b, stride=stride, padding=padding)


@given(st.data(), conv_case())
def test_conv2d(data, case):
    xs, ws, stride, padding, pads = case
    rng = rng_of(data)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])]
    compare(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding),
        lambda x, w, b: torch_conv2d(x, w, b, stride, padding, pads),
        arrays,
        rng,
    )


@pytest.mark.parametrize("h, k", [(6, 3), (6, 4), (7, 3), (7, 4), (5, 1), (4, 5)])
def test_conv2d_keras_same_stride2(h, k):
    """The DCGAN discriminator's downsampling: stride 2, 'same'; odd pads go to the bottom/right."""
    rng = np.random.default_rng(h * 10 + k)
    pads = keras_same(h, k, 2), keras_same(h + 1, k, 2)
    arrays = [rng.standard_normal((2, 3, h, h + 1)), rng.standard_normal((4, 3, k, k)), rng.standard_normal(4)]
    compare(
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding="same"),
        lambda x, w, b: torch_conv2d(x, w, b, (2, 2), "same", pads),
        arrays,
        rng,
    )


# ----------------------------------------------------------------------------
# conv_transpose2d
# ----------------------------------------------------------------------------
@st.composite
def conv_t_case(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["int", "int", "same", "valid"]))
    if kind == "int":
        ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
        oph, opw = draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1))
        assume((h - 1) * sh + kh - 2 * ph + oph >= 1 and (w - 1) * sw + kw - 2 * pw + opw >= 1)
        return (n, c, h, w), (c, o, kh, kw), (sh, sw), (ph, pw), (oph, opw)
    return (n, c, h, w), (c, o, kh, kw), (sh, sw), kind, 0


def torch_conv_transpose2d(x, w, b, stride, padding, output_padding):
    if padding == "valid":
        return TF.conv_transpose2d(x, w, b, stride=stride)
    if padding == "same":
        # Keras 'same': the full output of a padding-0 transposed conv (zero-extended when
        # the kernel is smaller than the stride), cropped to H * stride starting at the
        # top/left pad of the 'same' conv2d it is the adjoint of.
        h, wd = x.shape[2] * stride[0], x.shape[3] * stride[1]
        kh, kw = w.shape[2], w.shape[3]
        op = (max(stride[0] - kh, 0), max(stride[1] - kw, 0))
        full = TF.conv_transpose2d(x, w, b, stride=stride, output_padding=op)
        t, l = keras_same(h, kh, stride[0])[0], keras_same(wd, kw, stride[1])[0]
        return full[:, :, t : t + h, l : l + wd]
    return TF.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding)


@given(st.data(), conv_t_case())
def test_conv_transpose2d(data, case):
    xs, ws, stride, padding, output_padding = case
    rng = rng_of(data)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1])]
    compare(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding),
        lambda x, w, b: torch_conv_transpose2d(x, w, b, stride, padding, output_padding),
        arrays,
        rng,
    )


@pytest.mark.parametrize(
    "h, k, s, p, op",
    [
        (4, 4, 2, 1, 0),
        (3, 3, 2, 1, 1),
        (3, 5, 2, 2, 1),
        (2, 3, 3, 1, 2),
        (4, 4, 2, "same", 0),
        (3, 5, 2, "same", 0),
        (3, 2, 3, "same", 0),
    ],
)
def test_conv_transpose2d_generator_configurations(h, k, s, p, op):
    rng = np.random.default_rng(h + 7 * k + 31 * s)
    arrays = [rng.standard_normal((2, 3, h, h)), rng.standard_normal((3, 2, k, k)), rng.standard_normal(2)]
    compare(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op),
        lambda x, w, b: torch_conv_transpose2d(x, w, b, (s, s), p, op),
        arrays,
        rng,
    )


# ----------------------------------------------------------------------------
# Upsampling and pooling
# ----------------------------------------------------------------------------
@given(
    st.data(),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)),
    st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.sampled_from(["nearest", "bilinear"]),
)
def test_upsample(data, shape, scale, mode):
    rng = rng_of(data)
    sf = (scale, scale) if isinstance(scale, int) else scale
    kw = {} if mode == "nearest" else {"align_corners": False}
    compare(
        lambda x: F.upsample(x, scale, mode),
        lambda x: TF.interpolate(x, scale_factor=sf, mode=mode, **kw),
        [rng.standard_normal(shape)],
        rng,
    )


@st.composite
def pool_case(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.integers(0, min(kh, kw) // 2))  # PyTorch: padding <= kernel / 2
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    assume(h + 2 * padding >= kh and w + 2 * padding >= kw)
    return (n, c, h, w), (kh, kw), stride, padding


@given(st.data(), pool_case())
def test_max_pool2d(data, case):
    shape, k, stride, padding = case
    rng = rng_of(data)
    n = int(np.prod(shape))
    x = ((rng.permutation(n) - n / 2) * 0.1).reshape(shape)  # no ties: both libraries pick the same max
    compare(
        lambda x: F.max_pool2d(x, k, stride, padding),
        lambda x: TF.max_pool2d(x, k, stride if stride is not None else k, padding),
        [x],
        rng,
    )


@given(st.data(), pool_case())
def test_avg_pool2d(data, case):
    shape, k, stride, padding = case
    rng = rng_of(data)
    compare(
        lambda x: F.avg_pool2d(x, k, stride, padding),
        lambda x: TF.avg_pool2d(x, k, stride if stride is not None else k, padding),  # count_include_pad=True
        [rng.standard_normal(shape)],
        rng,
    )


# ----------------------------------------------------------------------------
# Losses and activations
# ----------------------------------------------------------------------------
@given(st.data(), st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from(["mean", "sum", "none"]))
def test_bce_with_logits(data, shape, reduction):
    rng = rng_of(data)
    x = rng.uniform(-6, 6, shape)
    t = rng.uniform(0, 1, shape)
    compare(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction),
        lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction=reduction),
        [x, t],
        rng,
    )


def test_bce_with_logits_extreme_logits():
    """Logits of +-1000 (a saturated discriminator): finite loss and gradient, equal to torch's."""
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0, 50.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.3])
    xs = T(x)
    loss = F.binary_cross_entropy_with_logits(xs, T(t, False), "sum")
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(host(xs.grad)))
    # loss = softplus(x) - t x: 0, 0, 1000, 1000, log 2, 50 - 15 + softplus(-50)
    np.testing.assert_allclose(loss.item(), 2000 + np.log(2) + 35 + np.log1p(np.exp(-50)), rtol=1e-14)
    np.testing.assert_allclose(host(xs.grad), [0.0, 0.0, 1.0, -1.0, 0.0, 1 / (1 + np.exp(-50)) - 0.3], atol=1e-15)
    compare(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, "none"),
        lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="none"),
        [x, t],
        np.random.default_rng(0),
    )


@given(st.data(), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_log_softmax(data, shape):
    rng = rng_of(data)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = rng.uniform(-5, 5, shape)
    compare(lambda x: F.log_softmax(x, axis), lambda x: TF.log_softmax(x, dim=axis), [x], rng)
    compare(lambda x: F.softmax(x, axis), lambda x: TF.softmax(x, dim=axis), [x], rng)


@given(st.data(), st.integers(1, 5), st.integers(2, 5))
def test_cross_entropy(data, n, k):
    rng = rng_of(data)
    x = rng.uniform(-5, 5, (n, k))
    labels = rng.integers(0, k, n)
    compare(
        lambda x: F.cross_entropy(x, B.asarray(labels)),
        lambda x: TF.cross_entropy(x, torch.tensor(labels)),
        [x],
        rng,
    )


def test_log_softmax_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0]])
    compare(lambda x: F.log_softmax(x), lambda x: TF.log_softmax(x, dim=-1), [x], np.random.default_rng(0))


ACTIVATIONS = {
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    # torch's softplus returns x itself above `threshold`; raise it so both compute log(1 + e^x)
    "softplus": (F.softplus, lambda x: TF.softplus(x, threshold=100.0)),
    "log_sigmoid": (F.log_sigmoid, TF.logsigmoid),
    "relu": (F.relu, torch.relu),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(st.data(), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_activations(name, data, shape):
    rng = rng_of(data)
    x = rng.uniform(-30, 30, shape)
    ours, theirs = ACTIVATIONS[name]
    compare(ours, theirs, [x], rng)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "log_sigmoid"])
def test_activations_extreme_inputs(name):
    x = np.array([-1000.0, -40.0, -1e-3, 0.0, 1e-3, 40.0, 1000.0])
    ours, theirs = ACTIVATIONS[name]
    if name == "softplus":  # log(1 + e^1000) overflows in torch's unthresholded formula
        theirs = TF.softplus
    compare(ours, theirs, [x], np.random.default_rng(0))


# ----------------------------------------------------------------------------
# Batch norm, and second order through a small generator-like net
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 2)])
def test_batch_norm(shape):
    rng = np.random.default_rng(5)
    c = shape[1]
    x, g, b = rng.standard_normal(shape) * 3 + 1, rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    rm, rv = T(np.zeros(c), False), T(np.ones(c), False)
    rmt, rvt = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    compare(
        lambda x, g, b: F.batch_norm(x, g, b, rm, rv, training=True, momentum=0.3),
        lambda x, g, b: TF.batch_norm(x, rmt, rvt, g, b, training=True, momentum=0.3),
        [x, g, b],
        rng,
    )
    close(rm, rmt, "running mean")
    close(rv, rvt, "running var")
    compare(
        lambda x, g, b: F.batch_norm(x, g, b, rm, rv, training=False),
        lambda x, g, b: TF.batch_norm(x, rmt, rvt, g, b, training=False),
        [x, g, b],
        rng,
    )


def test_second_order_through_generator_like_net():
    """d/dW of ||d out / d z||^2 through conv_transpose -> batch_norm -> relu -> upsample -> conv -> tanh."""
    rng = np.random.default_rng(11)
    z = rng.standard_normal((2, 3, 2, 2))
    w1 = rng.standard_normal((3, 2, 4, 4)) * 0.5
    g1, b1 = rng.uniform(0.5, 1.5, 2), rng.standard_normal(2) * 0.1
    w2 = rng.standard_normal((1, 2, 3, 3)) * 0.5

    def ours(z, w1, g1, b1, w2):
        h = F.conv_transpose2d(z, w1, stride=2, padding=1)  # (2, 2, 4, 4)
        h = F.relu(F.batch_norm(h, g1, b1, training=True))
        h = F.upsample(h, 2, "bilinear")  # (2, 2, 8, 8)
        return F.tanh(F.conv2d(h, w2, stride=2, padding=1))  # (2, 1, 4, 4)

    def theirs(z, w1, g1, b1, w2):
        h = TF.conv_transpose2d(z, w1, stride=2, padding=1)
        h = torch.relu(TF.batch_norm(h, None, None, g1, b1, training=True))
        h = TF.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        return torch.tanh(TF.conv2d(h, w2, stride=2, padding=1))

    arrays = [z, w1, g1, b1, w2]
    xs, ts = [T(a) for a in arrays], [tt(a) for a in arrays]
    (gz,) = minigan.grad(ours(*xs).sum(), [xs[0]], create_graph=True)
    (gzt,) = torch.autograd.grad(theirs(*ts).sum(), [ts[0]], create_graph=True)
    close(gz, gzt, "first order")
    second = minigan.grad((gz * gz).sum(), xs)
    second_t = torch.autograd.grad((gzt * gzt).sum(), ts)
    for i, (a, b) in enumerate(zip(second, second_t)):
        close(a, b, f"second order, input {i}")
