"""The WGAN-GP gradient penalty, differentiated with respect to the critic's weights.

    penalty(theta) = mean_i (||d D_theta(x) / d x_i||_2 - 1)^2

needs the derivative of a gradient (double backprop) through every layer of
the critic D = conv2d -> batch_norm (training mode) -> leaky_relu -> flatten
-> dense. Batch norm is the classic trap: its output for one sample depends
on the whole batch, and an implementation that caches raw arrays in its
backward pass (as DeZero's does) gets this second derivative wrong.

The gradient of the penalty w.r.t. (conv W, conv b, gamma, beta, dense W,
dense b) is checked against central finite differences, and against PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import T, host

import minigan
import minigan.functions as F
from minigan import backend as B

SLOPE = 0.2


def critic(x, w1, b1, gamma, beta, w2, b2):
    """(N, 2, 6, 6) -> (N, 1)."""
    h = F.conv2d(x, w1, b1, stride=2, padding=1)  # (N, 3, 3, 3)
    h = F.batch_norm(h, gamma, beta, training=True)
    h = F.leaky_relu(h, SLOPE)
    return F.flatten(h) @ w2 + b2  # (N, 27) @ (27, 1) + (1,)


def penalty(x, *weights):
    """mean((||grad_x D(x)||_2 - 1)^2), one norm per sample, differentiable in the weights."""
    with minigan.enable_grad():  # gradcheck evaluates the finite differences under no_grad
        x = minigan.Tensor(x.data, requires_grad=True)
        out = critic(x, *weights)
        (gx,) = minigan.grad(out.sum(), [x], create_graph=True)
        norms = F.sqrt(F.sum(gx * gx, axis=(1, 2, 3)))
        return F.mean((norms - 1.0) ** 2)


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    real, fake = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((4, 2, 6, 6))
    eps = rng.uniform(size=(4, 1, 1, 1))
    x_hat = eps * real + (1 - eps) * fake  # WGAN-GP evaluates the critic between real and fake
    weights = [
        rng.standard_normal((3, 2, 3, 3)) * 0.4,  # conv W
        rng.standard_normal(3) * 0.1,  # conv b (batch norm cancels it: its gradient is 0)
        rng.uniform(0.5, 1.5, 3),  # gamma
        rng.standard_normal(3) * 0.1,  # beta
        rng.standard_normal((27, 1)) * 0.4,  # dense W
        rng.standard_normal(1) * 0.1,  # dense b (no effect on grad_x: gradient 0)
    ]
    return x_hat, weights


def _min_abs_preactivation(x, weights):
    with minigan.no_grad(), minigan.default_dtype("float64"):
        h = F.batch_norm(F.conv2d(T(x), T(weights[0]), T(weights[1]), 2, 1), T(weights[2]), T(weights[3]))
    return np.abs(host(h)).min()


def test_problem_is_away_from_leaky_relu_kinks():
    """Finite differences across leaky_relu's kink would be meaningless; the fixed seed avoids it."""
    x, weights = make_problem()
    assert _min_abs_preactivation(x, weights) > 1e-3


def test_penalty_weight_gradient_matches_finite_differences():
    x, weights = make_problem()
    with minigan.default_dtype("float64"):
        inputs = [T(x, requires_grad=False)] + [T(w) for w in weights]
        assert minigan.gradcheck(penalty, inputs, order=1, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_penalty_gradient_is_not_trivial():
    """The check above would be weak if the gradients were ~0: gamma and the conv weights matter."""
    x, weights = make_problem()
    ws = [T(w) for w in weights]
    p = penalty(T(x, False), *ws)
    p.backward()
    assert p.item() > 0
    for i in (0, 2, 4):
        assert np.abs(host(ws[i].grad)).max() > 1e-3, f"weight {i} has a vanishing gradient"
    # Some weights do not change grad_x D: batch norm cancels the conv bias (gradient 0 up to
    # rounding); beta only moves points along leaky_relu's linear pieces, and the dense bias
    # only shifts the output, so neither is in the graph of grad_x D (no gradient at all).
    assert np.abs(host(ws[1].grad)).max() < 1e-12
    assert ws[3].grad is None and ws[5].grad is None


def test_penalty_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: comparison skipped")
    TF = torch.nn.functional
    x, weights = make_problem()

    ws = [T(w) for w in weights]
    p = penalty(T(x, False), *ws)
    ours = minigan.grad(p, ws, allow_unused=True)

    tws = [torch.tensor(w, requires_grad=True) for w in weights]
    xt = torch.tensor(x, requires_grad=True)
    h = TF.conv2d(xt, tws[0], tws[1], stride=2, padding=1)
    h = TF.batch_norm(h, None, None, tws[2], tws[3], training=True, eps=1e-5)
    out = TF.leaky_relu(h, SLOPE).flatten(1) @ tws[4] + tws[5]
    (gx,) = torch.autograd.grad(out.sum(), xt, create_graph=True)
    pt = ((gx.flatten(1).norm(dim=1) - 1) ** 2).mean()
    theirs = torch.autograd.grad(pt, tws, allow_unused=True)

    np.testing.assert_allclose(p.item(), pt.item(), rtol=1e-10)
    for i, (a, b, w) in enumerate(zip(ours, theirs, weights)):
        # None means "not in the graph": a zero gradient (torch keeps beta in its graph, with zeros).
        a = np.zeros_like(w) if a is None else host(a)
        b = np.zeros_like(w) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"weight {i}")


def test_penalty_in_float32_stays_float32_and_agrees():
    x, weights = make_problem()
    ws32 = [minigan.Tensor(B.asarray(w, dtype="float32"), requires_grad=True) for w in weights]
    x32 = minigan.Tensor(B.asarray(x, dtype="float32"))
    p32 = penalty(x32, *ws32)
    used = [0, 1, 2, 4]
    g32 = minigan.grad(p32, [ws32[i] for i in used])
    assert p32.dtype == B.xp().float32 and all(g.dtype == B.xp().float32 for g in g32)
    ws64 = [T(w) for w in weights]
    g64 = minigan.grad(penalty(T(x, False), *ws64), [ws64[i] for i in used])
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(host(a), host(b), rtol=2e-3, atol=2e-4)
