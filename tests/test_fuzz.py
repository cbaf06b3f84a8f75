"""Property-based tests (hypothesis): random layer stacks, and random bytes into the file readers.

- Random stacks of Conv2D / Conv2DTranspose / BatchNorm / LeakyReLU / pooling / upsampling
  (then Flatten and Dense) with random kernel sizes, strides, paddings and batch sizes give
  the output shape worked out independently here, finite values, and (small float64 cases)
  gradients that pass gradcheck. Batch 1 with a BatchNorm on 1x1 features in training mode
  must raise the layer's clear ValueError, as PyTorch raises.
- The IDX parser and the checkpoint reader fed random or mutated bytes never fail other than
  with their own error types (IDXError, CheckpointError).

Kept small (modest max_examples, no deadline) so the file runs in seconds.
"""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigan
from minigan import checkpoint, nn
from minigan.data import mnist
from minigan.optim import Adam

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ----------------------------------------------------------------------------
# Random layer stacks
# ----------------------------------------------------------------------------
BUILD = {
    "conv": nn.Conv2D,
    "convT": nn.Conv2DTranspose,
    "bn": nn.BatchNorm,
    "lrelu": nn.LeakyReLU,
    "maxpool": nn.MaxPool2D,
    "avgpool": nn.AvgPool2D,
    "up": nn.UpSampling2D,
}


def _build(spec, rng):
    layers = []
    for kind, kw in spec:
        if kind in ("conv", "convT"):
            kw = {**kw, "rng": rng}
        layers.append(BUILD[kind](**kw))
    return layers


@FUZZ
@given(data=st.data())
def test_random_layer_stacks_give_the_right_shapes_finite_values_and_gradients(data):
    n = data.draw(st.integers(1, 3), label="batch")
    c, h, w = (data.draw(st.integers(lo, hi)) for lo, hi in ((1, 3), (2, 7), (2, 7)))
    x_shape = (n, c, h, w)
    spec, shapes = _draw_stack(data, x_shape)
    seed = data.draw(st.integers(0, 2**16), label="seed")
    small = math.prod(x_shape) <= 150 and all(math.prod(s) <= 300 for s in shapes)
    dtype = "float64" if small else "float32"
    with minigan.default_dtype(dtype):
        rng = minigan.Generator(seed)
        layers = _build(spec, rng)
        out_features = math.prod(shapes[-1][1:]) if shapes else c * h * w
        model = nn.Sequential(*layers, nn.Flatten(), nn.Dense(out_features, 1, rng=rng))
        x = minigan.Tensor(rng.normal(x_shape), requires_grad=True)

        bn_too_small = any(kind == "bn" and n * s[2] * s[3] < 2 for (kind, _), s in zip(spec, [x_shape, *shapes[:-1]]))
        if bn_too_small:  # batch statistics of one value: PyTorch raises too
            with pytest.raises(ValueError, match=r"BatchNorm.*N\*H\*W >= 2 in training mode"):
                model(x)
            model.eval()  # running statistics: a single sample is fine
            assert model(x).shape == (n, 1)
            return

        h_ = x
        for layer, expected in zip(layers, shapes):
            h_ = layer(h_)
            assert h_.shape == expected, (layer, expected)
        y = model(x)
        assert y.shape == (n, 1)
        assert np.isfinite(y.numpy()).all()
        y.sum().backward()
        assert x.grad is not None and x.grad.shape == x_shape and np.isfinite(x.grad.numpy()).all()
        for p in model.parameters():
            assert p.grad is not None and np.isfinite(p.grad.numpy()).all()
        if small:
            x64 = minigan.Tensor(x.data, requires_grad=True)
            assert minigan.gradcheck(lambda t: model(t), [x64], atol=1e-5, rtol=1e-3)


def _draw_stack(data, x_shape):
    n, c, h, w = x_shape
    spec, shapes = [], []
    shape = x_shape
    for _ in range(data.draw(st.integers(1, 4), label="depth")):
        _, c, h, w = shape
        kind = data.draw(st.sampled_from(sorted(BUILD)), label="layer")
        if kind in ("conv", "convT"):
            k, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
            pad = data.draw(st.sampled_from(["valid", "same"]))
            co = data.draw(st.integers(1, 3))
            if kind == "conv":
                oh, ow = (math.ceil(h / s), math.ceil(w / s)) if pad == "same" else ((h - k) // s + 1, (w - k) // s + 1)
            else:
                # Keras' 'valid' transposed convolution: n * s + max(k - s, 0)
                oh, ow = (h * s, w * s) if pad == "same" else (h * s + max(k - s, 0), w * s + max(k - s, 0))
            if oh < 1 or ow < 1 or oh > 12 or ow > 12:
                continue
            spec.append((kind, dict(in_channels=c, out_channels=co, kernel_size=k, stride=s, padding=pad)))
            shape = (n, co, oh, ow)
        elif kind == "bn":
            spec.append((kind, dict(num_features=c)))
        elif kind == "lrelu":
            spec.append((kind, dict(slope=data.draw(st.sampled_from([0.0, 0.2, 1.0])))))
        elif kind in ("maxpool", "avgpool"):
            if h < 2 or w < 2:
                continue
            spec.append((kind, dict(pool_size=2)))
            shape = (n, c, h // 2, w // 2)
        else:
            if h * 2 > 12 or w * 2 > 12:
                continue
            spec.append((kind, dict(size=2)))
            shape = (n, c, h * 2, w * 2)
        shapes.append(shape)
    return spec, shapes


# ----------------------------------------------------------------------------
# File readers on random and mutated bytes
# ----------------------------------------------------------------------------
def _idx_bytes(array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype("uint8").tobytes()


_VALID_IDX = _idx_bytes(np.arange(2 * 3 * 4).reshape(2, 3, 4))


def _mutate(data, blob):
    b = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]), label="op")
        if not b:
            break
        i = data.draw(st.integers(0, len(b) - 1), label="at")
        if op == "flip":
            b[i] ^= data.draw(st.integers(1, 255), label="xor")
        elif op == "truncate":
            del b[i:]
        elif op == "insert":
            b[i:i] = data.draw(st.binary(min_size=1, max_size=8), label="inserted")
        else:
            del b[i : i + data.draw(st.integers(1, 8), label="deleted")]
    return bytes(b)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_idx_parser_on_random_bytes_raises_only_idx_errors(blob):
    try:
        a = mnist.parse_idx(blob)
    except mnist.IDXError:
        return
    assert a.dtype == np.uint8


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_idx_reader_on_mutated_files_raises_only_idx_errors(data, tmp_path_factory):
    blob = _mutate(data, _VALID_IDX)
    if data.draw(st.booleans(), label="gzip"):
        blob = _mutate(data, gzip.compress(_VALID_IDX)) if data.draw(st.booleans()) else gzip.compress(blob)
    path = tmp_path_factory.mktemp("idx") / "file.idx"
    path.write_bytes(blob)
    try:
        a = mnist.read_idx(path)
    except mnist.IDXError:
        return
    assert a.dtype == np.uint8 and a.size == math.prod(a.shape)


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    rng = minigan.Generator(0)
    model = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.BatchNorm(4), nn.Dense(4, 1, rng=rng))
    opt = Adam(model.parameters())
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.npz"
    checkpoint.save(path, models={"m": model}, optimizers={"m": opt}, rngs={"r": rng}, step=3, extra={"a": [1, 2]})
    return path.read_bytes()


def _fresh():
    rng = minigan.Generator(1)
    model = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.BatchNorm(4), nn.Dense(4, 1, rng=rng))
    return model, Adam(model.parameters()), rng


@FUZZ
@given(data=st.data())
def test_checkpoint_reader_on_mutated_files_raises_only_checkpoint_errors(data, saved_checkpoint, tmp_path_factory):
    blob = _mutate(data, saved_checkpoint)
    path = tmp_path_factory.mktemp("mut") / "checkpoint.npz"
    path.write_bytes(blob)
    model, opt, rng = _fresh()
    before = model.state_dict()
    try:
        info = checkpoint.load(path, models={"m": model}, optimizers={"m": opt}, rngs={"r": rng})
    except checkpoint.CheckpointError:
        for k, v in model.state_dict().items():  # all or nothing: a refused file changed nothing
            assert np.array_equal(v, before[k])
        return
    assert info.step == 3  # a mutation that survived every check left the content intact


@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=300))
def test_checkpoint_reader_on_random_bytes_raises_only_checkpoint_errors(blob, tmp_path_factory):
    path = tmp_path_factory.mktemp("rand") / "checkpoint.npz"
    path.write_bytes(blob)
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.read(path)
