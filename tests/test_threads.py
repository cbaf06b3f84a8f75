"""Work shared between threads gives bitwise the numbers of one thread.

The kernels split large element-wise passes (LeakyReLU, batch norm), the convolutions' copies
and the optimizer's per-parameter updates over threads (``B.split_batch``, ``B.map_rows``,
``B.map_parallel``). Each test runs the same computation with one chunk and with several
(``B.split_work(k, min_work=0)`` forces the split even on these small arrays) and asks for
equal bits, float32 as in training. On NumPy the chunks run in threads; on the strict backend
(CI runs this file there too) they run one after another through the same slicing code, so
that code is checked against the array API as CuPy would check it.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.functions as F
from minigan import backend as B
from minigan import models
from minigan import nn as mnn
from minigan.gan import GANTrainer
from minigan.optim import SGD, Adam, RMSprop


def host(x):
    return B.to_host(x.data if isinstance(x, minigan.Tensor) else x)


def assert_bitwise(a, b):
    a, b = np.ascontiguousarray(host(a)), np.ascontiguousarray(host(b))
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), f"max |diff| {np.max(np.abs(a - b))}"


def tensor32(shape, seed=0, requires_grad=True, channels_last=False):
    """A float32 input; ``channels_last``: (N, C, H, W) values laid out (N, H, W, C) in memory, as a
    convolution's output is (the split passes must keep that layout: sums over it add in its order)."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x[..., 0] = 0.0  # exact zeros: LeakyReLU's kink
    if not channels_last:
        return minigan.tensor(x, requires_grad=requires_grad, dtype="float32")
    nhwc = minigan.tensor(np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))), dtype="float32").data
    return minigan.Tensor(B.xp().permute_dims(nhwc, (0, 3, 1, 2)), requires_grad=requires_grad)


def assert_split_is_bitwise(run, chunks):
    """``run()`` (a list of arrays or Tensors) gives the same bits with one chunk and with ``chunks``."""
    with B.split_work(1):
        one = run()
    with B.split_work(chunks):
        split = run()
    for a, b in zip(one, split):
        assert_bitwise(a, b)


def value_and_grads(fn, shapes, channels_last=False):
    """fn(*inputs) and the gradients of sum(fn * w) for all inputs."""
    xs = [tensor32(s, seed=i, channels_last=channels_last) for i, s in enumerate(shapes)]
    y = fn(*xs)
    w = minigan.tensor(np.random.default_rng(9).standard_normal(y.shape).astype(np.float32), dtype="float32")
    F.sum(y * w).backward()
    return [y, *(x.grad for x in xs)]


@pytest.mark.parametrize("chunks", [2, 3])
@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (7, 33), (2, 1, 6, 6), "channels-last"])
def test_leaky_relu_split(shape, chunks):
    act = mnn.LeakyReLU(0.2)
    last = shape == "channels-last"
    shape = (5, 3, 4, 4) if last else shape
    assert_split_is_bitwise(lambda: value_and_grads(act, [shape], channels_last=last), chunks)


@pytest.mark.parametrize("chunks", [2, 3])
@pytest.mark.parametrize("shape", [(6, 3, 5, 5), (9, 17), "channels-last"])
def test_batch_norm_split(shape, chunks):
    last = shape == "channels-last"
    shape = (6, 3, 5, 5) if last else shape

    def run():
        bn = mnn.BatchNorm(shape[1])
        bn.gamma.data = minigan.tensor(np.linspace(0.5, 1.5, shape[1], dtype=np.float32)).data
        out = value_and_grads(bn, [shape], channels_last=last)
        return [*out, bn.gamma.grad, bn.beta.grad, bn.running_mean, bn.running_var]

    assert_split_is_bitwise(run, chunks)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: mnn.Conv2D(3, 4, 3, stride=2, padding="same", rng=0),
        lambda: mnn.Conv2DTranspose(3, 4, 4, stride=2, padding="same", rng=0),
        lambda: mnn.Conv2DTranspose(3, 2, 3, stride=2, padding="valid", rng=0),
    ],
)
def test_convolution_copies_split(layer):
    def run():
        net = layer()
        out = value_and_grads(net, [(5, 3, 7, 7)])
        return [*out, *(p.grad for p in net.parameters())]

    assert_split_is_bitwise(run, 3)


@pytest.mark.parametrize("make", [Adam.gan_defaults, lambda ps: SGD(ps, lr=0.1, momentum=0.9), RMSprop])
def test_optimizer_updates_split(make):
    def run():
        net = models.build("mlp-discriminator", rng=0)
        opt = make(net.parameters())
        x = tensor32((8, 784), requires_grad=False)
        for _ in range(3):
            opt.zero_grad()
            F.mean(net(x) ** 2).backward()
            opt.step()
        return [p.data for p in net.parameters()]

    assert_split_is_bitwise(run, 3)


@pytest.mark.parametrize("key", ["mlp", "conv"])
def test_whole_gan_steps_split(key):
    """Three training steps of a GAN (every split above, together): the same weights bit for bit."""

    def run():
        G, D = models.build(f"{key}-generator", rng=0), models.build(f"{key}-discriminator", rng=1)
        real = minigan.Generator(2).uniform((8, *models.info(f"{key}-discriminator").input_shape), -1.0, 1.0)
        t = GANTrainer(
            G,
            D,
            Adam.gan_defaults(G.parameters()),
            Adam.gan_defaults(D.parameters()),
            data=lambda n, rng: real,
            latent_dim=models.info(f"{key}-generator").input_shape[0],
            batch_size=8,
            seed=3,
            n_fixed=1,
        )
        for _ in range(3):
            t.train_step()
        return [p.data for p in (*G.parameters(), *D.parameters())]

    assert_split_is_bitwise(run, 2)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 9),
    cols=st.integers(1, 5),
    chunks=st.integers(1, 4),
    block=st.sampled_from([1, 3, 1 << 17]),
)
def test_map_rows_is_the_one_call(rows, cols, chunks, block):
    x = minigan.tensor(np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) - 7.0).data
    k = B.xp().asarray(np.linspace(-1, 1, cols, dtype=np.float32))
    old = B._ROW_BLOCK
    B._ROW_BLOCK = block  # blocks of a few elements: many blocks per chunk
    try:
        with B.split_work(chunks):
            got = B.map_rows(lambda a: B.maximum_into(a * k, a), x)
    finally:
        B._ROW_BLOCK = old
    assert_bitwise(got, B.maximum_into(x * k, x))


def test_map_parallel_keeps_order_and_raises():
    items = list(range(11))
    with B.split_work(3):
        assert B.map_parallel(lambda i: i * i, items, sizes=items) == [i * i for i in items]

        def boom(i):
            if i == 7:
                raise ValueError("item 7")
            return i

        with pytest.raises(ValueError, match="item 7"):
            B.map_parallel(boom, items, sizes=[1] * len(items))


def test_map_parallel_balances_by_size():
    seen = {}

    def record(i):
        seen[i] = threading.current_thread().name
        time.sleep(0.01)  # long enough that neither thread takes everything
        return i

    with B.split_work(2):
        B.map_parallel(record, [0, 1, 2, 3], sizes=[400, 400, 5, 5])
    if B.get_backend().on_host:  # threads only on NumPy
        assert seen[0] != seen[1]  # the two large items run in different threads


def test_split_batch_covers_every_row_once():
    seen = []
    with B.split_work(4):
        B.split_batch(10, lambda lo, hi: seen.append((lo, hi)), work=0)
    assert sorted(i for lo, hi in seen for i in range(lo, hi)) == list(range(10))
    assert len(seen) == 4


def test_no_split_below_the_work_threshold_or_with_one_thread():
    calls = []
    with B.split_work(4, min_work=100):
        B.split_batch(10, lambda lo, hi: calls.append((lo, hi)), work=99)
    with B.split_work(1):
        B.split_batch(10, lambda lo, hi: calls.append((lo, hi)), work=10**9)
    assert calls == [(0, 10), (0, 10)]
    with pytest.raises(ValueError):
        with B.split_work(0):
            pass
