"""The CuPy backend on a real GPU: a small conv net's forward and backward
(first and second order) must agree with the NumPy backend.

Skipped cleanly when CuPy is not installed or no CUDA GPU is usable.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigan
import minigan.functions as F
from minigan import backend as B

pytestmark = pytest.mark.gpu

try:
    with minigan.use_backend("cupy"):
        pass
except Exception as e:  # BackendError names the cause; anything else is a broken CUDA setup
    pytest.skip(f"CuPy backend unavailable: {e}", allow_module_level=True)


def conv_net(x, w1, b1, g, be, w2, wt, w3):
    """conv -> batch_norm -> leaky_relu -> max_pool -> conv_transpose -> upsample -> conv -> mean."""
    h = F.conv2d(x, w1, b1, stride=2, padding="same")  # (2, 4, 4, 4)
    h = F.leaky_relu(F.batch_norm(h, g, be, training=True), 0.2)
    h = F.max_pool2d(h, 2)  # (2, 4, 2, 2)
    h = F.conv_transpose2d(h, wt, stride=2, padding=1)  # (2, 3, 4, 4)
    h = F.upsample(F.tanh(h), 2, "bilinear")  # (2, 3, 8, 8)
    h = F.avg_pool2d(F.conv2d(h, w2, padding=1), 2)  # (2, 2, 4, 4)
    return F.mean(F.sigmoid(F.flatten(h) @ w3))


def make_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((2, 3, 8, 8)),
        rng.standard_normal((4, 3, 3, 3)) * 0.3,
        rng.standard_normal(4) * 0.1,
        rng.uniform(0.5, 1.5, 4),
        rng.standard_normal(4) * 0.1,
        rng.standard_normal((2, 3, 3, 3)) * 0.3,
        rng.standard_normal((4, 3, 4, 4)) * 0.3,
        rng.standard_normal((32, 1)) * 0.3,
    ]


def run(backend, dtype):
    """Loss, first-order gradients, and d/dw of ||d loss / dx||^2, all as host arrays."""
    with minigan.use_backend(backend):
        ts = [minigan.Tensor(B.asarray(a, dtype=dtype), requires_grad=True) for a in make_arrays()]
        loss = conv_net(*ts)
        grads = minigan.grad(loss, ts, create_graph=True)
        assert B.namespace_of(loss.data) == backend
        assert all(g.dtype == getattr(B.xp(), dtype) for g in grads)
        penalty = F.sum(grads[0] * grads[0])
        second = minigan.grad(penalty, ts[1:], allow_unused=True)
        return (
            B.to_numpy(loss.data),
            [B.to_numpy(g.data) for g in grads],
            [None if g is None else B.to_numpy(g.data) for g in second],
        )


@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-10, 1e-12), ("float32", 2e-4, 1e-5)])
def test_conv_net_matches_numpy(dtype, rtol, atol):
    loss_c, grads_c, second_c = run("cupy", dtype)
    loss_n, grads_n, second_n = run("numpy", dtype)
    np.testing.assert_allclose(loss_c, loss_n, rtol=rtol, atol=atol)
    for i, (a, b) in enumerate(zip(grads_c, grads_n)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"gradient {i}")
    for i, (a, b) in enumerate(zip(second_c, second_n)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=atol * 10, err_msg=f"second-order gradient {i}")


def test_generator_draws_on_the_gpu_reproducibly_and_initial_weights_match_numpy():
    with minigan.use_backend("cupy"):
        g = minigan.Generator(3)
        z = g.normal((4, 4))
        assert type(z).__module__.startswith("cupy")  # drawn on the device (cuRAND Philox)
        again = B.to_host(minigan.Generator(3).normal((4, 4)))
        np.testing.assert_array_equal(B.to_host(z), again)  # same seed, same numbers
        state = g.get_state()
        a = B.to_host(g.uniform((5,)))
        g.set_state(state)
        np.testing.assert_array_equal(B.to_host(g.uniform((5,))), a)  # checkpoints resume the stream
        ints = B.to_host(g.integers(0, 3, (1000,)))
        assert ints.min() == 0 and ints.max() == 2
        w_gpu = B.to_host(minigan.nn.Dense(4, 3, rng=7).weight.data)
    with minigan.use_backend("numpy"):
        w_cpu = B.to_host(minigan.nn.Dense(4, 3, rng=7).weight.data)
    np.testing.assert_array_equal(w_gpu, w_cpu)  # initial weights are drawn on the host


def test_a_training_step_on_the_gpu_reads_nothing_back():
    from minigan import nn
    from minigan.data import DataLoader
    from minigan.gan.trainer import GANTrainer
    from minigan.optim import Adam

    with minigan.use_backend("cupy"):
        G = nn.Sequential(nn.Dense(8, 32, rng=1), nn.BatchNorm(32), nn.LeakyReLU(0.2), nn.Dense(32, 16, rng=2))
        D = nn.Sequential(nn.Dense(16, 32, rng=3), nn.LeakyReLU(0.2), nn.Dropout(0.3, rng=4), nn.Dense(32, 1, rng=5))
        data = np.random.default_rng(0).uniform(-1, 1, (256, 16)).astype(np.float32)
        loader = DataLoader(data, batch_size=16, seed=0, on_device=True)
        t = GANTrainer(G, D, Adam(G.parameters()), Adam(D.parameters()), loader, latent_dim=8, batch_size=16)
        t.train_step()
        with B.count_transfers() as moved:
            record = t.train_step()
        assert (moved.to_host, moved.to_device) == (0, 0)
        assert np.isfinite(record["d_loss"])


def test_cupy_refuses_a_host_array_in_an_op():
    with minigan.use_backend("cupy"):
        x = minigan.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(TypeError):
            F.add(x, minigan.Tensor(np.ones(2, dtype=np.float32)))
