"""Every layer against the equivalent PyTorch layer, in float64: forward values and the gradients
of the input and of every parameter (for a random upstream gradient).

Weights are copied from minigan into torch; minigan uses PyTorch's weight layouts, so no
transposes are needed. Keras-only padding modes ('same' with an odd total) are compared with
a torch expression that pads or crops explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import T, arr, host
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn as nn
from minigan import backend as B

torch = pytest.importorskip("torch", reason="PyTorch not installed: comparison skipped")
tF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(autouse=True)
def float64_default():
    with minigan.default_dtype("float64"):
        yield


def tt(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(mine, theirs, rtol=RTOL, atol=ATOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(host(mine), theirs, rtol=rtol, atol=atol)


def compare(layer, torch_fn, x_host, torch_params: dict, rng, grad_input=True):
    """Forward and backward through ``layer`` and ``torch_fn(x)``; compare y, dx and every parameter's grad.

    ``torch_params`` maps our parameter names to the torch leaf tensors ``torch_fn`` uses.
    """
    x = T(x_host, requires_grad=grad_input)
    y = layer(x)
    xt = tt(x_host, grad=grad_input)
    yt = torch_fn(xt)
    close(y, yt)
    g = rng.normal(size=yt.shape)
    y.backward(T(g, requires_grad=False))
    yt.backward(torch.tensor(g))
    if grad_input:
        close(x.grad, xt.grad)
    for name, pt in torch_params.items():
        close(getattr(layer, name).grad, pt.grad)
    return y


# ----------------------------------------------------------------------------
# Dense and activations
# ----------------------------------------------------------------------------
def test_dense_matches_linear(rng):
    layer = nn.Dense(5, 3, rng=0)
    lin = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(host(layer.weight)))
        lin.bias.copy_(torch.tensor(host(layer.bias)))
    compare(layer, lin, rng.normal(size=(4, 5)), {"weight": lin.weight, "bias": lin.bias}, rng)


@pytest.mark.parametrize(
    "layer, torch_fn",
    [
        (nn.ReLU(), torch.relu),
        (nn.LeakyReLU(0.2), lambda x: tF.leaky_relu(x, 0.2)),
        (nn.LeakyReLU(0.01), lambda x: tF.leaky_relu(x, 0.01)),
        (nn.Tanh(), torch.tanh),
        (nn.Sigmoid(), torch.sigmoid),
    ],
    # ids free of memory addresses, so that every pytest-xdist worker collects the same tests
    ids=lambda v: repr(v) if isinstance(v, nn.Module) else "torch",
)
def test_activations_match(rng, layer, torch_fn):
    x = rng.normal(size=(3, 4, 2)) * 3
    x[0, 0, 0] = 0.0  # the kink: gradient 0 (relu) / slope (leaky relu), as PyTorch
    compare(layer, torch_fn, x, {}, rng)


# ----------------------------------------------------------------------------
# BatchNorm: train mode over several steps (running statistics), then eval
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 5)], ids=["BatchNorm1d", "BatchNorm2d"])
@pytest.mark.parametrize("momentum", [0.1, 0.35])
def test_batchnorm_train_and_eval_match(rng, shape, momentum):
    c = shape[1]
    layer = nn.BatchNorm(c, momentum=momentum, eps=1e-3)
    layer.gamma.data = arr(rng.uniform(0.5, 1.5, c))
    layer.beta.data = arr(rng.normal(size=c))
    tbn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c, eps=1e-3, momentum=momentum)
    tbn = tbn.double()
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(host(layer.gamma)))
        tbn.bias.copy_(torch.tensor(host(layer.beta)))
    for _ in range(4):  # several training steps: the running statistics accumulate
        layer.zero_grad()
        tbn.zero_grad()
        x = rng.normal(loc=2.0, scale=3.0, size=shape)
        compare(layer, tbn, x, {"gamma": tbn.weight, "beta": tbn.bias}, rng)
        close(layer.running_mean, tbn.running_mean)
        close(layer.running_var, tbn.running_var)
    layer.eval()
    tbn.eval()
    layer.zero_grad()
    tbn.zero_grad()
    compare(layer, tbn, rng.normal(size=shape), {"gamma": tbn.weight, "beta": tbn.bias}, rng)
    close(layer.running_mean, tbn.running_mean)  # eval mode leaves them alone


# ----------------------------------------------------------------------------
# Dropout: PyTorch's masks are its own; compare the scaling and the mask/gradient consistency
# ----------------------------------------------------------------------------
def test_dropout_scaling_and_gradient_mask_match_torch_semantics(rng):
    p = 0.3
    layer = nn.Dropout(p, rng=1)
    x_host = rng.uniform(1.0, 2.0, size=(50, 40))  # no zeros in the input
    x = T(x_host)
    y = layer(x)
    g = rng.normal(size=x_host.shape)
    y.backward(T(g, requires_grad=False))
    yh, gx = host(y), host(x.grad)
    kept = yh != 0
    np.testing.assert_allclose(yh[kept], x_host[kept] / (1 - p), rtol=1e-14)  # inverted dropout scaling
    np.testing.assert_allclose(gx, np.where(kept, g / (1 - p), 0.0), rtol=1e-14)  # same mask in backward
    # The same rule as torch: E[y] = x; torch's drop rate on the same size is the same within noise.
    # torch draws from its global generator, so seed it inside fork_rng (a seeded, repeatable
    # test that leaves torch's global state as it was). The rate bound is 5 standard deviations
    # of a binomial proportion over 2000 draws (sd = sqrt(0.3 * 0.7 / 2000) ~ 0.010).
    with torch.random.fork_rng():
        torch.manual_seed(0)
        yt = tF.dropout(tt(x_host, grad=False), p, training=True).numpy()
    assert set(np.round(yt[yt != 0] / x_host[yt != 0], 12)) == {round(1 / (1 - p), 12)}
    bound = 5 * np.sqrt(p * (1 - p) / x_host.size)
    assert abs((~kept).mean() - p) < bound and abs((yt == 0).mean() - p) < bound


# ----------------------------------------------------------------------------
# Conv2D: every padding mode
# ----------------------------------------------------------------------------
def keras_same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


@settings(max_examples=12)
@given(
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["same", "valid", 0, 1, 2]),
    h=st.integers(4, 7),
    w=st.integers(4, 7),
    bias=st.booleans(),
)
def test_conv2d_matches(k, stride, padding, h, w, bias):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(k + 10 * stride + 100 * h + 1000 * w)
        if isinstance(padding, int) and 2 * padding >= k:
            padding = k // 2
        layer = nn.Conv2D(3, 2, k, stride=stride, padding=padding, bias=bias, rng=0, bias_init="uniform")
        wt = tt(host(layer.weight))
        bt = tt(host(layer.bias)) if bias else None

        def torch_fn(x):
            if padding == "same":
                (t, b), (l, r) = keras_same_pads(h, k, stride), keras_same_pads(w, k, stride)
                return tF.conv2d(tF.pad(x, (l, r, t, b)), wt, bt, stride=stride)
            return tF.conv2d(x, wt, bt, stride=stride, padding=0 if padding == "valid" else padding)

        params = {"weight": wt} | ({"bias": bt} if bias else {})
        compare(layer, torch_fn, rng.normal(size=(2, 3, h, w)), params, rng)


# ----------------------------------------------------------------------------
# Conv2DTranspose: stride 2 (and 1, 3) with every padding mode, output_padding included
# ----------------------------------------------------------------------------
@settings(max_examples=16)
@given(
    k=st.integers(1, 5),
    stride=st.sampled_from([2, 2, 1, 3]),
    mode=st.sampled_from(["same", "valid", "int", "int+output_padding"]),
    p=st.integers(0, 2),
    h=st.integers(2, 4),
    w=st.integers(2, 4),
)
def test_conv2d_transpose_matches(k, stride, mode, p, h, w):
    check_conv_transpose(k, stride, mode, p, h, w)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("mode, p", [("same", 0), ("valid", 0), ("int", 1), ("int", 2), ("int+output_padding", 1)])
def test_conv2d_transpose_stride2_every_padding_mode(k, mode, p):
    check_conv_transpose(k, 2, mode, p, 3, 4)


def check_conv_transpose(k, stride, mode, p, h, w):
    with minigan.default_dtype("float64"):
        rng = np.random.default_rng(k + 10 * stride + 100 * h + 1000 * w + 7 * p)
        out_pad = stride - 1 if mode == "int+output_padding" else 0
        padding = p if mode.startswith("int") else mode
        if isinstance(padding, int) and 2 * padding >= (min(h, w) - 1) * stride + k + out_pad:
            padding = 0
        layer = nn.Conv2DTranspose(3, 2, k, stride=stride, padding=padding, output_padding=out_pad, rng=0)
        layer.bias.data = arr(rng.normal(size=2))
        wt, bt = tt(host(layer.weight)), tt(host(layer.bias))

        def torch_fn(x):
            if isinstance(padding, int):  # PyTorch's own semantics
                return tF.conv_transpose2d(x, wt, bt, stride=stride, padding=padding, output_padding=out_pad)
            full = tF.conv_transpose2d(x, wt, None, stride=stride)  # (H - 1) * s + K
            if padding == "same":  # Keras: output H * s, cropping the 'same' conv's pads (odd one at the end)
                (t, _), (l, _) = keras_same_pads(h * stride, k, stride), keras_same_pads(w * stride, k, stride)
                oh, ow = h * stride, w * stride
            else:  # Keras 'valid': (H - 1) * s + max(K, s)
                t = l = 0
                oh, ow = (h - 1) * stride + max(k, stride), (w - 1) * stride + max(k, stride)
            # Zero rows/cols at the end where K < s, then crop.
            full = tF.pad(full, (0, max(ow + l - full.shape[3], 0), 0, max(oh + t - full.shape[2], 0)))
            return full[:, :, t : t + oh, l : l + ow] + bt.reshape(1, -1, 1, 1)

        y = compare(layer, torch_fn, rng.normal(size=(2, 3, h, w)), {"weight": wt, "bias": bt}, rng)
        assert y.shape[2:] == layer.output_hw(h, w)


def test_conv2d_transpose_same_is_exactly_h_times_stride_like_keras(rng):
    for k in (3, 4, 5):
        y = nn.Conv2DTranspose(1, 1, k, stride=2, padding="same")(T(rng.normal(size=(1, 1, 7, 7)), False))
        assert y.shape == (1, 1, 14, 14)


# ----------------------------------------------------------------------------
# UpSampling2D and pooling
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [2, 3, (2, 3)])
def test_upsampling_matches_interpolate(rng, mode, size):
    layer = nn.UpSampling2D(size, mode)
    scale = size if isinstance(size, tuple) else (size, size)

    def torch_fn(x):
        kw = {"align_corners": False} if mode == "bilinear" else {}
        return tF.interpolate(x, scale_factor=scale, mode=mode, **kw)

    compare(layer, torch_fn, rng.normal(size=(2, 3, 4, 5)), {}, rng)


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1), (3, 1, 0), (2, 1, 1), (3, 3, 0)])
def test_max_pool_matches(rng, k, s, p):
    layer = nn.MaxPool2D(k, strides=s, padding=p)
    compare(layer, lambda x: tF.max_pool2d(x, k, stride=s, padding=p), rng.normal(size=(2, 3, 7, 6)), {}, rng)


def test_max_pool_same_padding_matches_explicit_minus_inf_padding(rng):
    layer = nn.MaxPool2D(3, strides=2, padding="same")
    (t, b), (l, r) = keras_same_pads(7, 3, 2), keras_same_pads(6, 3, 2)
    torch_fn = lambda x: tF.max_pool2d(tF.pad(x, (l, r, t, b), value=-float("inf")), 3, stride=2)
    compare(layer, torch_fn, rng.normal(size=(2, 3, 7, 6)), {}, rng)


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1), (3, 1, 0), (2, 1, 1)])
def test_avg_pool_matches(rng, k, s, p):
    layer = nn.AvgPool2D(k, strides=s, padding=p)
    compare(layer, lambda x: tF.avg_pool2d(x, k, stride=s, padding=p), rng.normal(size=(2, 3, 7, 6)), {}, rng)


def test_avg_pool_same_padding_counts_only_real_pixels_like_keras(rng):
    """Keras 'same' average pooling: divide by the number of real pixels (torch: count_include_pad=False)."""
    layer = nn.AvgPool2D(2, strides=2, padding="same")
    torch_fn = lambda x: (
        tF.avg_pool2d(tF.pad(x, (0, 1, 0, 1)), 2, stride=2)
        * torch.tensor([[1.0, 1.0, 1.0, 2.0]] * 3 + [[2.0, 2.0, 2.0, 4.0]], dtype=torch.float64)
    )
    compare(layer, torch_fn, rng.normal(size=(2, 3, 7, 7)), {}, rng)


# ----------------------------------------------------------------------------
# Flatten, Reshape, Embedding
# ----------------------------------------------------------------------------
def test_flatten_and_reshape_match(rng):
    compare(nn.Flatten(), lambda x: torch.flatten(x, 1), rng.normal(size=(2, 3, 4, 5)), {}, rng)
    compare(nn.Reshape((4, 15)), lambda x: x.reshape(2, 4, 15), rng.normal(size=(2, 3, 4, 5)), {}, rng)


@pytest.mark.parametrize("shape", [(6,), (3, 4)])
def test_embedding_matches(rng, shape):
    layer = nn.Embedding(5, 3, rng=0)
    emb = torch.nn.Embedding(5, 3).double()
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(host(layer.weight)))
    labels = rng.integers(0, 5, size=shape)
    labels.flat[:2] = 4  # a repeated label: its gradients add up
    y = layer(minigan.Tensor(B.asarray(labels, dtype="int64")))
    yt = emb(torch.tensor(labels))
    close(y, yt)
    g = rng.normal(size=yt.shape)
    y.backward(T(g, requires_grad=False))
    yt.backward(torch.tensor(g))
    close(layer.weight.grad, emb.weight.grad)


# ----------------------------------------------------------------------------
# A whole seed model: the conv generator against the same network built in torch
# ----------------------------------------------------------------------------
class Crop(torch.nn.Module):
    """Keep the first ``size`` rows and columns: Keras 'same' for a k=3, s=2 transposed conv crops (0, 1)."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x):
        return x[:, :, : self.size, : self.size]


@pytest.mark.parametrize("training", [True, False])
def test_conv_generator_seed_matches_torch_network(rng, training):
    from minigan import models

    G = models.build("conv-generator", rng=0)
    tG = torch.nn.Sequential(
        torch.nn.Linear(32, 1152),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Unflatten(1, (128, 3, 3)),
        torch.nn.ConvTranspose2d(128, 128, 3, stride=2),  # 'valid': 3 -> 7
        torch.nn.BatchNorm2d(128, eps=1e-3, momentum=0.01),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Sequential(torch.nn.ConvTranspose2d(128, 64, 3, stride=2), Crop(14)),  # 'same': 7 -> 14
        torch.nn.BatchNorm2d(64, eps=1e-3, momentum=0.01),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Sequential(torch.nn.ConvTranspose2d(64, 1, 3, stride=2), Crop(28)),  # 'same': 14 -> 28
        torch.nn.Tanh(),
    ).double()
    rename = {"gamma": "weight", "beta": "bias"}
    tsd = {}
    for k, v in G.state_dict().items():
        i, name = k.split(".")
        prefix = f"{i}.0" if i in ("6", "9") else i
        tsd[f"{prefix}.{rename.get(name, name)}"] = torch.tensor(v)
    missing, unexpected = tG.load_state_dict(tsd, strict=False)
    assert [m for m in missing if not m.endswith("num_batches_tracked")] == [] and unexpected == []
    G.train(training)
    tG.train(training)
    z = rng.normal(size=(4, 32))
    y = compare(G, tG, z, {}, rng)
    assert y.shape == (4, 1, 28, 28)
    tparams = dict(tG.named_parameters())
    tnames = [k for k in tsd if "running" not in k]
    assert len(tnames) == len(G.parameters())
    for p, tname in zip(G.parameters(), tnames):
        close(p.grad, tparams[tname].grad, rtol=1e-9, atol=1e-12)
    for (_, b), tname in zip(G.named_buffers(), [k for k in tsd if "running" in k]):
        close(b, tG.state_dict()[tname])


# ----------------------------------------------------------------------------
# Instance norm and reflection padding (pix2pix, CycleGAN)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches(rng, affine):
    layer = nn.InstanceNorm(3, eps=1e-3, affine=affine)
    tin = torch.nn.InstanceNorm2d(3, eps=1e-3, affine=affine).double()
    params = {}
    if affine:
        layer.gamma.data = arr(rng.uniform(0.5, 1.5, 3))
        layer.beta.data = arr(rng.normal(size=3))
        with torch.no_grad():
            tin.weight.copy_(torch.tensor(host(layer.gamma)))
            tin.bias.copy_(torch.tensor(host(layer.beta)))
        params = {"gamma": tin.weight, "beta": tin.bias}
    for mode in ("train", "eval"):  # no running statistics: the same function in both modes
        layer.train(mode == "train")
        tin.train(mode == "train")
        layer.zero_grad()
        tin.zero_grad()
        compare(layer, tin, rng.normal(loc=1.0, scale=2.0, size=(2, 3, 4, 5)), params, rng)


@pytest.mark.parametrize("pads", [1, (1, 2, 0, 3), (0, 0, 2, 1)])
def test_reflection_pad_matches(rng, pads):
    layer = nn.ReflectionPad2D(pads)
    tpad = torch.nn.ReflectionPad2d(pads)
    compare(layer, tpad, rng.normal(size=(2, 3, 4, 5)), {}, rng)
