"""Convolution, pooling and upsampling: values against direct NumPy loops, and
first- and second-order gradient checks with hypothesis-drawn geometry.

Geometry (batch, channels, sizes, kernel, stride 1-3, padding int / (ph, pw) /
'same' / 'valid', output_padding) is drawn by hypothesis; values come from a
seeded NumPy generator. Max pooling uses well separated values, so no window
has a tie (the max is differentiable there). Comparisons with PyTorch are in
``test_torch_compare.py``; this file needs only NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import T, arr, covers, host
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.functions as F


@pytest.fixture(autouse=True, scope="module")
def _float64_default():
    with minigan.default_dtype("float64"):
        yield


def gc(fn, inputs, order=1, **kw):
    assert minigan.gradcheck(fn, inputs, order=order, **kw)


def rng_of(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**20), label="seed"))


# ----------------------------------------------------------------------------
# NumPy references (direct loops, written for clarity)
# ----------------------------------------------------------------------------
def keras_same(size, k, s):
    """Keras 'same' pads (before, after): output ceil(size / s), odd pixel padded after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def ref_pads(padding, h, w, kh, kw, sh, sw):
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return keras_same(h, kh, sh), keras_same(w, kw, sw)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph), (pw, pw)


def ref_conv2d(x, w, b, stride, pads):
    (t, bo), (l, r) = pads
    sh, sw = stride
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    n, c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]  # (N, C, KH, KW)
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def ref_conv_transpose2d(x, w, stride, crop_top_left, out_hw):
    """Scatter every input pixel times the kernel into the full output, then crop to out_hw."""
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    sh, sw = stride
    full = np.zeros((n, o, (h - 1) * sh + kh + sh, (wd - 1) * sw + kw + sw))  # room for output_padding
    for i in range(h):
        for j in range(wd):
            full[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum("nc,cokl->nokl", x[:, :, i, j], w)
    t, l = crop_top_left
    return full[:, :, t : t + out_hw[0], l : l + out_hw[1]]


def ref_pool(x, k, s, pads, op, pad_value):
    (t, b), (l, r) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=pad_value)
    oh, ow = (xp.shape[2] - k[0]) // s[0] + 1, (xp.shape[3] - k[1]) // s[1] + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = op(xp[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]], axis=(2, 3))
    return y


# ----------------------------------------------------------------------------
# Geometry strategies
# ----------------------------------------------------------------------------
@st.composite
def conv_geometry(draw, max_hw=5):
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 2))
    o = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(
        st.one_of(
            st.sampled_from(["same", "valid"]),
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 1)),
        )
    )
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    (t, b), (l, r) = ref_pads(padding, h, w, kh, kw, sh, sw)
    assume(h + t + b >= kh and w + l + r >= kw)  # the kernel must fit
    return dict(x=(n, c, h, w), w=(o, c, kh, kw), stride=stride, padding=padding, s=(sh, sw), pads=((t, b), (l, r)))


# ----------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------
@covers("conv2d", order=2)
@given(st.data(), conv_geometry())
def test_conv2d_gradcheck(data, g):
    rng = rng_of(data)
    x, w, b = rng.standard_normal(g["x"]), rng.standard_normal(g["w"]), rng.standard_normal(g["w"][0])
    s, p = g["stride"], g["padding"]
    y = F.conv2d(T(x), T(w), T(b), stride=s, padding=p)
    np.testing.assert_allclose(host(y), ref_conv2d(x, w, b, g["s"], g["pads"]), rtol=1e-10, atol=1e-12)
    # conv is bilinear in (x, W): the second-order check exercises the x-W cross terms.
    gc(lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=p), [T(x), T(w), T(b)], order=2)
    # and a non-linear function of it, so the second derivative through conv's backward matters.
    gc(lambda x, w: F.tanh(F.conv2d(x, w, stride=s, padding=p)), [T(x), T(w)], order=2)


# Configurations a DCGAN uses, checked every run (hypothesis draws only a dozen geometries).
KEY_CONV = [
    ((1, 2, 6, 6), (2, 2, 4, 4), 2, "same"),  # even input, even kernel: asymmetric Keras padding
    ((1, 2, 5, 5), (2, 2, 3, 3), 2, "same"),  # odd input: the last row is padded
    ((2, 1, 5, 4), (2, 1, 3, 3), 2, 1),  # PyTorch style
    ((1, 2, 7, 5), (1, 2, 3, 2), (3, 2), (1, 0)),
    ((1, 1, 4, 4), (2, 1, 4, 4), 1, "valid"),
    # Channel counts that make conv2d (and its weight gradient) take each of its two layouts:
    ((2, 6, 5, 5), (1, 6, 3, 3), 1, "same"),  # many in, one out (a generator's last layer): output side
    ((1, 6, 6, 5), (1, 6, 3, 3), 2, "same"),  # the same, strided
    ((1, 1, 5, 5), (6, 1, 3, 3), 1, "same"),  # one in, many out: input side (im2col)
]


@pytest.mark.parametrize("xs, ws, stride, padding", KEY_CONV)
def test_conv2d_key_configurations(xs, ws, stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    s = (stride, stride) if isinstance(stride, int) else stride
    ref = ref_conv2d(x, w, b, s, ref_pads(padding, xs[2], xs[3], ws[2], ws[3], *s))
    np.testing.assert_allclose(host(F.conv2d(T(x), T(w), T(b), stride, padding)), ref, rtol=1e-10, atol=1e-12)
    gc(lambda x, w, b: F.leaky_relu(F.conv2d(x, w, b, stride, padding)) ** 2, [T(x), T(w), T(b)], order=2)


KEY_CONV_T = [
    ((1, 2, 3, 3), (2, 2, 4, 4), 2, "same", 0),  # DCGAN generator: doubles the size
    ((1, 2, 3, 3), (2, 1, 4, 4), 2, 1, 0),  # PyTorch DCGAN: (H - 1) * 2 + 4 - 2 = 2H
    ((1, 1, 3, 2), (1, 2, 3, 3), 2, 1, 1),  # output_padding
    ((2, 1, 2, 2), (1, 1, 5, 5), 3, 2, 2),
    ((1, 1, 3, 3), (1, 1, 2, 2), 3, "same", 0),  # kernel smaller than the stride
    # One input channel, many outputs: computed as a conv of the zero-dilated input (input side).
    ((1, 1, 4, 4), (1, 6, 3, 3), 1, "same", 0),
    ((2, 1, 3, 3), (1, 8, 4, 4), 2, "same", 0),
    ((1, 1, 3, 2), (1, 8, 3, 3), 2, 1, 1),  # with output_padding
]


@pytest.mark.parametrize("xs, ws, stride, padding, output_padding", KEY_CONV_T)
def test_conv_transpose2d_key_configurations(xs, ws, stride, padding, output_padding):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1])
    k = ws[2]
    if padding == "same":  # output H * stride, cropped like the 'same' conv2d it is the adjoint of
        out = (xs[2] * stride, xs[3] * stride)
        crop = keras_same(out[0], k, stride)[0], keras_same(out[1], k, stride)[0]
    else:  # PyTorch: (H - 1) * stride + K - 2 * padding + output_padding
        out = tuple((xs[i] - 1) * stride + k - 2 * padding + output_padding for i in (2, 3))
        crop = (padding, padding)
    y = F.conv_transpose2d(T(x), T(w), T(b), stride, padding, output_padding)
    ref = ref_conv_transpose2d(x, w, (stride, stride), crop, out)
    np.testing.assert_allclose(host(y), ref + b.reshape(1, -1, 1, 1), rtol=1e-10, atol=1e-12)
    gc(
        lambda x, w, b: F.tanh(F.conv_transpose2d(x, w, b, stride, padding, output_padding)),
        [T(x), T(w), T(b)],
        order=2,
    )


@given(st.integers(1, 9), st.integers(1, 4), st.integers(1, 3))
def test_conv2d_same_output_size(h, k, s):
    """Keras 'same': the output is ceil(H / stride) whatever the kernel."""
    y = F.conv2d(T(np.ones((1, 1, h, h)), False), T(np.ones((1, 1, k, k)), False), stride=s, padding="same")
    assert y.shape == (1, 1, -(-h // s), -(-h // s))


@given(st.data(), conv_geometry())
def test_conv_transpose_is_the_adjoint_of_conv(data, g):
    """<conv2d(x, W), y> == <x, conv_transpose2d(y, W)> with the output_padding that recovers x's size."""
    rng = rng_of(data)
    assume(isinstance(g["padding"], int))
    x, w = rng.standard_normal(g["x"]), rng.standard_normal(g["w"])
    s, p = g["s"], g["padding"]
    y = F.conv2d(T(x), T(w), stride=s, padding=p)
    v = rng.standard_normal(y.shape)
    op = tuple(g["x"][2 + i] - ((y.shape[2 + i] - 1) * s[i] + g["w"][2 + i] - 2 * p) for i in range(2))
    assume(all(0 <= o < si for o, si in zip(op, s)))
    xt = F.conv_transpose2d(T(v), T(w), stride=s, padding=p, output_padding=op)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.sum(host(y) * v), np.sum(x * host(xt)), rtol=1e-10)


@covers("conv2d_grad_weight", order=2)
@given(st.data(), conv_geometry())
def test_conv2d_grad_weight(data, g):
    rng = rng_of(data)
    x, w = rng.standard_normal(g["x"]), rng.standard_normal(g["w"])
    s, p = g["stride"], g["padding"]
    kernel = g["w"][2:]
    xt, wt = T(x), T(w)
    y = F.conv2d(xt, wt, stride=s, padding=p)
    gy = rng.standard_normal(y.shape)
    # It is exactly the weight gradient of conv2d ...
    (y * T(gy, False)).sum().backward()
    gw = F.conv2d_grad_weight(T(x), T(gy), kernel, stride=s, padding=p)
    np.testing.assert_allclose(host(gw), host(wt.grad), rtol=1e-10, atol=1e-12)
    # ... and is differentiable in both arguments (bilinear: order 2 checks the cross terms).
    gc(lambda x, gy: F.conv2d_grad_weight(x, gy, kernel, stride=s, padding=p), [T(x), T(gy)], order=2)


def test_conv2d_errors():
    x = T(np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(x, T(np.ones((1, 3, 1, 1))))
    with pytest.raises(ValueError, match="does not fit"):
        F.conv2d(x, T(np.ones((1, 2, 5, 5))))
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(x, T(np.ones((1, 2, 1, 1))), padding="full")
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(x, T(np.ones((1, 2, 1, 1))), padding=-1)


# ----------------------------------------------------------------------------
# conv_transpose2d
# ----------------------------------------------------------------------------
@st.composite
def conv_t_geometry(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["int", "same", "valid"]))
    if kind == "int":
        ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
        oph, opw = draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1))
        oh, ow = (h - 1) * sh + kh - 2 * ph + oph, (w - 1) * sw + kw - 2 * pw + opw
        assume(oh >= 1 and ow >= 1)
        padding, output_padding, crop = (ph, pw), (oph, opw), (ph, pw)
    elif kind == "valid":
        padding, output_padding, crop = "valid", 0, (0, 0)
        oh, ow = (h - 1) * sh + kh, (w - 1) * sw + kw
    else:  # Keras 'same': output H * stride, cropped like the 'same' conv it is the adjoint of
        padding, output_padding = "same", 0
        oh, ow = h * sh, w * sw
        crop = (keras_same(oh, kh, sh)[0], keras_same(ow, kw, sw)[0])
    return dict(
        x=(n, c, h, w), w=(c, o, kh, kw), stride=(sh, sw), padding=padding, output_padding=output_padding,
        crop=crop, out=(oh, ow),
    )  # fmt: skip


@covers("conv_transpose2d", order=2)
@given(st.data(), conv_t_geometry())
def test_conv_transpose2d_gradcheck(data, g):
    rng = rng_of(data)
    x, w, b = rng.standard_normal(g["x"]), rng.standard_normal(g["w"]), rng.standard_normal(g["w"][1])
    kw = dict(stride=g["stride"], padding=g["padding"], output_padding=g["output_padding"])
    y = F.conv_transpose2d(T(x), T(w), T(b), **kw)
    ref = ref_conv_transpose2d(x, w, g["stride"], g["crop"], g["out"]) + b.reshape(1, -1, 1, 1)
    assert y.shape == ref.shape
    np.testing.assert_allclose(host(y), ref, rtol=1e-10, atol=1e-12)
    gc(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [T(x), T(w), T(b)], order=2)
    gc(lambda x, w: F.tanh(F.conv_transpose2d(x, w, **kw)), [T(x), T(w)], order=2)


def test_conv_transpose2d_errors():
    x, w = T(np.ones((1, 2, 3, 3))), T(np.ones((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, w, stride=2, padding="same", output_padding=1)
    with pytest.raises(ValueError, match="channels"):
        F.conv_transpose2d(x, T(np.ones((3, 1, 3, 3))))
    with pytest.raises(ValueError, match="padding"):
        F.conv_transpose2d(x, w, padding="full")


def test_generator_discriminator_round_trip():
    """A stride-2 'same' conv_transpose2d doubles the size and a stride-2 'same' conv2d halves it back."""
    x = T(np.ones((1, 1, 7, 7)))
    up = F.conv_transpose2d(x, T(np.ones((1, 2, 4, 4))), stride=2, padding="same")
    assert up.shape == (1, 2, 14, 14)
    assert F.conv2d(up, T(np.ones((1, 2, 4, 4))), stride=2, padding="same").shape == (1, 1, 7, 7)


# ----------------------------------------------------------------------------
# unfold / fold
# ----------------------------------------------------------------------------
@st.composite
def pool_geometry(draw, max_pad_is_half=True, allow_same=False):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    options = [st.integers(0, min(kh, kw) // 2), st.just("valid")]
    if allow_same:
        options.append(st.just("same"))
    padding = draw(st.one_of(*options))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    s = (kh, kw) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    pads = ref_pads(padding, h, w, kh, kw, *s)
    assume(h + sum(pads[0]) >= kh and w + sum(pads[1]) >= kw)
    return dict(x=(n, c, h, w), k=(kh, kw), stride=stride, s=s, padding=padding, pads=pads)


@covers("unfold", "fold", order=2)
@given(st.data(), pool_geometry(allow_same=True))
def test_unfold_fold(data, g):
    rng = rng_of(data)
    x = rng.standard_normal(g["x"])
    args = (g["k"], g["stride"], g["padding"])
    cols = F.unfold(T(x), *args)
    # Window j of pixel (i, l) holds x at the matching offset (zero in the padding).
    (t, _), (l, _) = g["pads"]
    xp = np.pad(x, ((0, 0), (0, 0), g["pads"][0], g["pads"][1]))
    kh, kw = g["k"]
    sh, sw = g["s"]
    ref = np.stack(
        [xp[:, :, i : i + sh * (cols.shape[2] - 1) + 1 : sh, j : j + sw * (cols.shape[3] - 1) + 1 : sw]
         for i in range(kh) for j in range(kw)], axis=-1,
    )  # fmt: skip
    np.testing.assert_array_equal(host(cols), ref)
    c = rng.standard_normal(cols.shape)
    # fold is the adjoint of unfold: <unfold(x), c> = <x, fold(c)>.
    folded = F.fold(T(c), g["x"][2:], *args)
    np.testing.assert_allclose(np.sum(host(cols) * c), np.sum(x * host(folded)), rtol=1e-10)
    gc(lambda x: F.unfold(x * x, *args), [T(x)], order=2)
    gc(lambda c: F.fold(c * c, g["x"][2:], *args), [T(c)], order=2)


# ----------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------
@covers("max_pool2d", order=2)
@given(st.data(), pool_geometry(allow_same=True))
def test_max_pool2d(data, g):
    rng = rng_of(data)
    n = int(np.prod(g["x"]))
    # Distinct values 0.1 apart: no window has a tie, so the max is differentiable.
    x = ((rng.permutation(n) - n / 2) * 0.1).reshape(g["x"])
    args = (g["k"], g["stride"], g["padding"])
    y = F.max_pool2d(T(x), *args)
    np.testing.assert_array_equal(host(y), ref_pool(x, g["k"], g["s"], g["pads"], np.max, -np.inf))
    gc(lambda x: F.max_pool2d(x * x * x, *args), [T(x)], order=2)


@covers("avg_pool2d", order=2)
@given(st.data(), pool_geometry(allow_same=True))
def test_avg_pool2d(data, g):
    rng = rng_of(data)
    x = rng.standard_normal(g["x"])
    args = (g["k"], g["stride"], g["padding"])
    y = F.avg_pool2d(T(x), *args)
    if g["padding"] == "same":  # Keras: average over the real pixels of each window only
        total = ref_pool(x, g["k"], g["s"], g["pads"], np.sum, 0.0)
        count = ref_pool(np.ones_like(x), g["k"], g["s"], g["pads"], np.sum, 0.0)
        ref = total / count
    else:  # PyTorch's default count_include_pad=True: zeros in the padding count
        ref = ref_pool(x, g["k"], g["s"], g["pads"], np.mean, 0.0)
    np.testing.assert_allclose(host(y), ref, rtol=1e-12, atol=1e-14)
    gc(lambda x: F.avg_pool2d(x * x, *args), [T(x)], order=2)


# ----------------------------------------------------------------------------
# Upsampling
# ----------------------------------------------------------------------------
def ref_bilinear(x, sh, sw):
    """PyTorch's align_corners=False bilinear upsampling, one output pixel at a time."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, h * sh, w * sw))

    def src(o, scale, size):
        s = max((o + 0.5) / scale - 0.5, 0.0)
        i0 = min(int(np.floor(s)), size - 1)
        i1 = min(i0 + 1, size - 1)
        return i0, i1, s - i0

    for i in range(h * sh):
        i0, i1, a = src(i, sh, h)
        for j in range(w * sw):
            j0, j1, b = src(j, sw, w)
            y[:, :, i, j] = (
                (1 - a) * (1 - b) * x[:, :, i0, j0] + (1 - a) * b * x[:, :, i0, j1]
                + a * (1 - b) * x[:, :, i1, j0] + a * b * x[:, :, i1, j1]
            )  # fmt: skip
    return y


@covers("upsample", order=2)
@given(
    st.data(),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
    st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.sampled_from(["nearest", "bilinear"]),
)
def test_upsample(data, shape, scale, mode):
    rng = rng_of(data)
    x = rng.standard_normal(shape)
    sh, sw = (scale, scale) if isinstance(scale, int) else scale
    y = host(F.upsample(T(x), scale, mode))
    if mode == "nearest":
        ref = np.repeat(np.repeat(x, sh, axis=2), sw, axis=3)
    else:
        ref = ref_bilinear(x, sh, sw)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-14)
    gc(lambda x: F.upsample(x * x, scale, mode), [T(x)], order=2)


@covers("reflection_pad2d", order=2)
@given(
    st.data(),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(2, 4), st.integers(2, 4)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
)
def test_reflection_pad2d(data, shape, pads):
    h, w = shape[2], shape[3]
    left, right = (min(p, w - 1) for p in pads[:2])
    top, bottom = (min(p, h - 1) for p in pads[2:])
    rng = rng_of(data)
    x = rng.standard_normal(shape)
    y = host(F.reflection_pad2d(T(x), (left, right, top, bottom)))
    ref = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="reflect")  # NumPy's 'reflect' = PyTorch's
    np.testing.assert_array_equal(y, ref)
    gc(lambda x: F.reflection_pad2d(x * x, (left, right, top, bottom)), [T(x)], order=2)


def test_reflection_pad2d_bad_pads():
    x = T(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="smaller than the image"):
        F.reflection_pad2d(x, 3)
    with pytest.raises(ValueError, match="left, right, top, bottom"):
        F.reflection_pad2d(x, (1, 1))
    with pytest.raises(ValueError, match="left, right, top, bottom"):
        F.reflection_pad2d(x, -1)


def test_upsample_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        F.upsample(T(np.ones((1, 1, 2, 2))), 2, "bicubic")


# ----------------------------------------------------------------------------
# A whole critic, second order (what WGAN-GP differentiates)
# ----------------------------------------------------------------------------
def test_small_critic_second_order():
    """conv, leaky_relu, avg_pool, upsample, max_pool, dense: Hessian-vector products vs finite differences."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 6, 6))
    w1 = rng.standard_normal((2, 1, 3, 3)) * 0.5
    w2 = rng.standard_normal((2 * 3 * 3, 1)) * 0.5

    def critic(x, w1, w2):
        h = F.leaky_relu(F.conv2d(x, w1, stride=1, padding="same"), 0.2)
        h = F.avg_pool2d(h, 2)  # (2, 2, 3, 3)
        h = F.max_pool2d(F.upsample(h, 2, "bilinear"), 2)  # (2, 2, 3, 3)
        return F.flatten(h) @ w2

    gc(critic, [T(x), T(w1), T(w2)], order=2)


def _every_kernel_layout(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Forward and both gradients of conv2d and conv_transpose2d, on input-side and output-side layouts."""
    cases = [  # (x shape, w shape, stride, padding): input-side and output-side layouts both occur
        ((n, 3, 9, 9), (5, 3, 3, 3), 2, 1),
        ((n, 8, 6, 6), (1, 8, 4, 4), 1, "same"),
    ]
    outs = []
    for xs, ws, stride, pad in cases:
        x, w = T(rng.standard_normal(xs)), T(rng.standard_normal(ws))
        y = F.conv2d(x, w, stride=stride, padding=pad)
        (y * y).sum().backward()
        wt = T(rng.standard_normal((ws[0], ws[1], 4, 4)))
        yd = T(host(y))
        z = F.conv_transpose2d(yd, wt, stride=2, padding=1)
        gx, gw = minigan.grad((z * z).sum(), [yd, wt])
        outs += [host(t) for t in (y, x.grad, w.grad, z, gx, gw)]
    return outs


@pytest.mark.parametrize("n", [1, 3, 8])
@minigan.kernels.use_kernels(True)  # the threads are the kernels' (also under MINIGAN_KERNELS=0)
def test_threaded_copy_loops_are_bitwise_equal(monkeypatch, n):
    """split_batch runs im2col / col2im / the tap loops over batch chunks in threads (NumPy only):
    the results must be bitwise those of one thread, on both layouts of every kernel."""
    from minigan import backend as B

    monkeypatch.setattr(B, "NUM_THREADS", 1)
    single = _every_kernel_layout(n, np.random.default_rng(0))
    monkeypatch.setattr(B, "NUM_THREADS", 3)
    monkeypatch.setattr(B, "_MIN_PARALLEL_WORK", 0)  # thread even these small sizes
    threaded = _every_kernel_layout(n, np.random.default_rng(0))
    for a, b in zip(single, threaded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("images_per_chunk", [1, 2, 3])
@minigan.kernels.use_kernels(True)  # the chunks are the kernels' (also under MINIGAN_KERNELS=0)
def test_batch_chunks_give_the_whole_batch_result(monkeypatch, images_per_chunk):
    """The conv kernels take the batch a few images at a time (a bounded column buffer); any
    chunking, an uneven last chunk included, must give the one-chunk result (up to the order
    in which the weight gradient's per-chunk sums are added)."""
    from minigan.kernels import conv

    n = 7
    whole = _every_kernel_layout(n, np.random.default_rng(1))
    used = []

    def fixed(n_, per_image):
        chunks = [(lo, min(lo + images_per_chunk, n_)) for lo in range(0, n_, images_per_chunk)]
        used.append(chunks)
        return chunks

    monkeypatch.setattr(conv, "_batch_chunks", fixed)
    chunked = _every_kernel_layout(n, np.random.default_rng(1))
    assert len(used) >= 12  # every kernel went through the chunked loops
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_batch_chunk_size_follows_the_buffer_limit(monkeypatch):
    from minigan import backend as B
    from minigan.kernels import conv

    monkeypatch.setattr(B, "COLUMN_BUFFER_BYTES", 1000)
    monkeypatch.setattr(B, "get_backend", lambda: B.Backend("numpy", np, np.ndarray, on_host=True))  # the host's rule
    assert conv._batch_chunks(10, 300) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert conv._batch_chunks(10, 5000) == [(lo, lo + 1) for lo in range(10)]  # at least one image
    assert conv._batch_chunks(4, 10) == [(0, 4)]


def test_chunked_conv_second_order(monkeypatch):
    """Second derivatives through the chunked kernels (one image per chunk)."""
    from minigan import backend as B

    monkeypatch.setattr(B, "COLUMN_BUFFER_BYTES", 1)
    rng = np.random.default_rng(5)
    x, w = T(rng.standard_normal((3, 2, 5, 5))), T(rng.standard_normal((2, 2, 3, 3)))
    wt = T(rng.standard_normal((2, 1, 3, 3)))
    gc(lambda x, w, wt: F.conv_transpose2d(F.conv2d(x, w, stride=2, padding=1), wt, stride=2), [x, w, wt], order=2)


def _transposed_conv_by_definition(x: np.ndarray, w: np.ndarray, stride, pads) -> np.ndarray:
    """Every input pixel adds x[n, c] * w[c, o] into its KHxKW window of the full output, then
    the pads are cropped: the textbook definition, in float64 NumPy."""
    n, _, h, wd = x.shape
    _, o, kh, kw = w.shape
    (sh, sw), ((t, b), (l, r)) = stride, pads
    full = np.zeros((n, o, (h - 1) * sh + kh, (wd - 1) * sw + kw))
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + sh * (h - 1) + 1 : sh, j : j + sw * (wd - 1) + 1 : sw] += np.einsum(
                "nchw,co->nohw", x, w[:, :, i, j]
            )
    return full[:, :, t : full.shape[2] - b, l : full.shape[3] - r]


@given(data=st.data())
def test_transposed_conv_phases_match_the_definition(data):
    """The sub-pixel path (stride*stride phases, uneven tap counts when the kernel is not a
    multiple of the stride, rectangular strides, asymmetric pads, a batch split into chunks)
    against the definition of a transposed convolution."""
    from minigan.kernels import conv

    rng = rng_of(data)
    n, c, o = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 3))
    kh, kw = data.draw(st.integers(sh, 5)), data.draw(st.integers(sw, 5))
    h, wd = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    pads = tuple((data.draw(st.integers(0, k - 1)), data.draw(st.integers(0, k - 1))) for k in (kh, kw))
    assume((h - 1) * sh + kh - sum(pads[0]) >= 1 and (wd - 1) * sw + kw - sum(pads[1]) >= 1)
    x, w = rng.standard_normal((n, c, h, wd)), rng.standard_normal((c, o, kh, kw))
    expected = _transposed_conv_by_definition(x, w, (sh, sw), pads)
    got = host(conv._conv_transpose2d_phases(arr(x), arr(w), (sh, sw), pads))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
