"""GAN losses against hand-computed values, at ordinary and extreme (+-1000) logits.

Reference values are computed here directly from the textbook formulas with Python's
``math`` (log of sigmoid, not the softplus rewrite the implementation uses), and the
penalties are checked against closed forms for a linear critic, against PyTorch for a
small MLP critic, and against finite differences (their gradients are second derivatives).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import T, host

import minigan
import minigan.functions as F
from minigan.gan import losses as L

REAL = [2.0, -1.0, 0.5, 3.0]
FAKE = [-2.0, 0.0, 1.5]


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)


def value_and_grads(fn, *arrays):
    """Evaluate a loss on float64 tensors; return (value, [host gradient per input])."""
    ts = [T(np.asarray(a, dtype="float64").reshape(-1, 1)) for a in arrays]
    out = fn(*ts)
    out.backward()
    return out.item(), [host(t.grad.data).reshape(-1) for t in ts]


# ----------------------------------------------------------------------------
# Values at ordinary logits, from the textbook formulas
# ----------------------------------------------------------------------------
def test_minimax_d_loss_value_and_grad():
    v, (gr, gf) = value_and_grads(L.minimax_d_loss, REAL, FAKE)
    expected = -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE)
    assert v == pytest.approx(expected, rel=1e-12)
    # d/dr [-log s(r)] = s(r) - 1 ; d/df [-log(1 - s(f))] = s(f); each divided by the batch size
    np.testing.assert_allclose(gr, [(sig(r) - 1) / len(REAL) for r in REAL], rtol=1e-12)
    np.testing.assert_allclose(gf, [sig(f) / len(FAKE) for f in FAKE], rtol=1e-12)


def test_one_sided_label_smoothing():
    a = 0.1
    v, (gr, gf) = value_and_grads(lambda r, f: L.minimax_d_loss(r, f, label_smoothing=a), REAL, FAKE)
    real_term = -mean((1 - a) * math.log(sig(r)) + a * math.log(1 - sig(r)) for r in REAL)
    fake_term = -mean(math.log(1 - sig(f)) for f in FAKE)  # one-sided: fake targets stay 0
    assert v == pytest.approx(real_term + fake_term, rel=1e-12)
    np.testing.assert_allclose(gr, [(sig(r) - (1 - a)) / len(REAL) for r in REAL], rtol=1e-12)
    np.testing.assert_allclose(gf, [sig(f) / len(FAKE) for f in FAKE], rtol=1e-12)
    with pytest.raises(ValueError):
        L.minimax_d_loss(T([[0.0]]), T([[0.0]]), label_smoothing=1.0)


def test_minimax_g_loss_value_and_grad():
    v, (gf,) = value_and_grads(L.minimax_g_loss, FAKE)
    assert v == pytest.approx(mean(math.log(1 - sig(f)) for f in FAKE), rel=1e-12)
    np.testing.assert_allclose(gf, [-sig(f) / len(FAKE) for f in FAKE], rtol=1e-12)


def test_nonsaturating_g_loss_value_and_grad():
    v, (gf,) = value_and_grads(L.nonsaturating_g_loss, FAKE)
    assert v == pytest.approx(-mean(math.log(sig(f)) for f in FAKE), rel=1e-12)
    np.testing.assert_allclose(gf, [(sig(f) - 1) / len(FAKE) for f in FAKE], rtol=1e-12)


def test_wasserstein_losses():
    v, (gr, gf) = value_and_grads(L.wasserstein_critic_loss, REAL, FAKE)
    assert v == pytest.approx(mean(FAKE) - mean(REAL), rel=1e-12)
    np.testing.assert_allclose(gr, [-1 / len(REAL)] * len(REAL))
    np.testing.assert_allclose(gf, [1 / len(FAKE)] * len(FAKE))
    v, (gf,) = value_and_grads(L.wasserstein_g_loss, FAKE)
    assert v == pytest.approx(-mean(FAKE), rel=1e-12)
    np.testing.assert_allclose(gf, [-1 / len(FAKE)] * len(FAKE))


def test_lsgan_losses():
    v, (gr, gf) = value_and_grads(L.lsgan_d_loss, REAL, FAKE)
    assert v == pytest.approx(0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE), rel=1e-12)
    np.testing.assert_allclose(gr, [(r - 1) / len(REAL) for r in REAL], rtol=1e-12)
    np.testing.assert_allclose(gf, [f / len(FAKE) for f in FAKE], rtol=1e-12)
    v, (gf,) = value_and_grads(L.lsgan_g_loss, FAKE)
    assert v == pytest.approx(0.5 * mean((f - 1) ** 2 for f in FAKE), rel=1e-12)


def test_hinge_losses():
    real, fake = [2.0, 0.5, -1.0], [-2.0, -0.5, 1.0]
    v, (gr, gf) = value_and_grads(L.hinge_d_loss, real, fake)
    # relu(1 - r): 0, 0.5, 2 ; relu(1 + f): 0, 0.5, 2
    assert v == pytest.approx(2.5 / 3 + 2.5 / 3, rel=1e-12)
    np.testing.assert_allclose(gr, [0.0, -1 / 3, -1 / 3])  # no gradient beyond the margin
    np.testing.assert_allclose(gf, [0.0, 1 / 3, 1 / 3])
    v, _ = value_and_grads(L.hinge_g_loss, fake)
    assert v == pytest.approx(-mean(fake), rel=1e-12)


def test_ragan_losses():
    mr, mf = mean(REAL), mean(FAKE)
    d_expected = -mean(math.log(sig(r - mf)) for r in REAL) - mean(math.log(1 - sig(f - mr)) for f in FAKE)
    g_expected = -mean(math.log(sig(f - mr)) for f in FAKE) - mean(math.log(1 - sig(r - mf)) for r in REAL)
    v, _ = value_and_grads(L.ragan_d_loss, REAL, FAKE)
    assert v == pytest.approx(d_expected, rel=1e-12)
    v, (gf, gr) = value_and_grads(L.ragan_g_loss, FAKE, REAL)
    assert v == pytest.approx(g_expected, rel=1e-12)
    # G's gradient w.r.t. fake logit j, by hand: the first term directly, the second through mean(f).
    nf, nr = len(FAKE), len(REAL)
    hand = [(sig(f - mr) - 1) / nf - sum(sig(r - mf) for r in REAL) / nr / nf for f in FAKE]
    np.testing.assert_allclose(gf, hand, rtol=1e-12)
    assert gr.shape == (nr,)


# ----------------------------------------------------------------------------
# Extreme logits: finite losses and gradients, with the right limits
# ----------------------------------------------------------------------------
EXTREME = [1000.0, -1000.0]


@pytest.mark.parametrize(
    "name, fn, n_inputs",
    [
        ("minimax_d", L.minimax_d_loss, 2),
        ("minimax_d_smoothed", lambda r, f: L.minimax_d_loss(r, f, label_smoothing=0.1), 2),
        ("minimax_g", L.minimax_g_loss, 1),
        ("ns_g", L.nonsaturating_g_loss, 1),
        ("wgan_c", L.wasserstein_critic_loss, 2),
        ("wgan_g", L.wasserstein_g_loss, 1),
        ("lsgan_d", L.lsgan_d_loss, 2),
        ("lsgan_g", L.lsgan_g_loss, 1),
        ("hinge_d", L.hinge_d_loss, 2),
        ("hinge_g", L.hinge_g_loss, 1),
        ("ragan_d", L.ragan_d_loss, 2),
        ("ragan_g", L.ragan_g_loss, 2),
    ],
)
def test_extreme_logits_finite(name, fn, n_inputs):
    for dtype in ("float64", "float32"):
        ts = [T(np.asarray(EXTREME).reshape(-1, 1), dtype=dtype) for _ in range(n_inputs)]
        out = fn(*ts)
        out.backward()
        assert np.isfinite(out.item()), name
        for t in ts:
            assert np.all(np.isfinite(host(t.grad.data))), name


def test_extreme_logit_limits():
    big = 1000.0
    # D sure and right: real logit +1000, fake logit -1000 -> loss 0, gradients 0.
    v, (gr, gf) = value_and_grads(L.minimax_d_loss, [big], [-big])
    assert v == 0.0 and gr[0] == 0.0 and gf[0] == 0.0
    # D sure and wrong: loss = 1000 + 1000 (softplus(1000) = 1000), gradients -1 and +1.
    v, (gr, gf) = value_and_grads(L.minimax_d_loss, [-big], [big])
    assert v == pytest.approx(2 * big) and gr[0] == -1.0 and gf[0] == 1.0
    # D confidently rejects the fake (logit -1000): the saturating loss has a zero gradient,
    # the non-saturating loss a full one: the vanishing-gradient problem in one assert.
    v, (g_sat,) = value_and_grads(L.minimax_g_loss, [-big])
    assert v == 0.0 and g_sat[0] == 0.0
    v, (g_ns,) = value_and_grads(L.nonsaturating_g_loss, [-big])
    assert v == pytest.approx(big) and g_ns[0] == -1.0


# ----------------------------------------------------------------------------
# Penalties
# ----------------------------------------------------------------------------
def linear_critic(w):
    return lambda x: x @ w  # (N, d) @ (d, 1) -> (N, 1); grad_x = w for every x


def test_gradient_penalty_linear_critic_closed_form():
    w_host = np.array([[0.3], [-1.2], [2.0]])
    w = T(w_host)
    real, fake = T(np.ones((5, 3)), requires_grad=False), T(np.zeros((5, 3)), requires_grad=False)
    gp = L.gradient_penalty(linear_critic(w), real, fake, minigan.Generator(0), weight=10.0)
    norm = np.linalg.norm(w_host)
    assert gp.item() == pytest.approx(10.0 * (norm - 1.0) ** 2, rel=1e-9)
    gp.backward()  # a second derivative: d/dw of a function of grad_x(x @ w)
    np.testing.assert_allclose(host(w.grad.data), 10.0 * 2 * (norm - 1) * w_host / norm, rtol=1e-9)


def test_r1_penalty_linear_critic_closed_form():
    w_host = np.array([[0.5], [-2.0]])
    w = T(w_host)
    real = T(np.random.default_rng(0).normal(size=(4, 2)), requires_grad=False)
    r1 = L.r1_penalty(linear_critic(w), real, gamma=4.0)
    assert r1.item() == pytest.approx(4.0 / 2 * float(np.sum(w_host**2)), rel=1e-12)
    r1.backward()
    np.testing.assert_allclose(host(w.grad.data), 4.0 * w_host, rtol=1e-12)


def mlp_critic(w1, b1, w2):
    return lambda x: F.tanh(x @ w1 + b1) @ w2


def critic_params(rng):
    return rng.normal(size=(2, 4)), rng.normal(size=(4,)), rng.normal(size=(4, 1))


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    params = critic_params(rng)
    real_h, fake_h = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    ws = [T(p) for p in params]
    gp = L.gradient_penalty(mlp_critic(*ws), T(real_h, False), T(fake_h, False), minigan.Generator(7), weight=10.0)
    gp.backward()

    e = host(minigan.Generator(7).uniform((6, 1), dtype="float64"))  # the same interpolation weights
    tw = [torch.tensor(p, requires_grad=True) for p in params]
    x_hat = torch.tensor(e * real_h + (1 - e) * fake_h, requires_grad=True)
    out = torch.tanh(x_hat @ tw[0] + tw[1]) @ tw[2]
    (g,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    tgp = 10.0 * ((g.norm(dim=1) - 1) ** 2).mean()
    tgp.backward()
    assert gp.item() == pytest.approx(tgp.item(), rel=1e-9)
    for w, t in zip(ws, tw):
        np.testing.assert_allclose(host(w.grad.data), t.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_penalty_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    params = [T(p) for p in critic_params(rng)]
    real, fake = T(rng.normal(size=(3, 2)), False), T(rng.normal(size=(3, 2)), False)

    def gp(w1, b1, w2):  # a fresh Generator each call: the same interpolates every evaluation
        return L.gradient_penalty(mlp_critic(w1, b1, w2), real, fake, minigan.Generator(3), weight=10.0)

    def r1(w1, b1, w2):
        return L.r1_penalty(mlp_critic(w1, b1, w2), real, gamma=10.0)

    assert minigan.gradcheck(gp, params, atol=1e-6, rtol=1e-5)
    assert minigan.gradcheck(r1, params, atol=1e-6, rtol=1e-5)


def test_penalties_conditional_critic_get_labels():
    seen = []

    def critic(x, y):
        seen.append(y)
        return x @ T(np.ones((2, 1)), requires_grad=False) * 2.0

    x = T(np.ones((3, 2)), False)
    labels = minigan.Tensor(minigan.backend.asarray(np.array([0, 1, 2])))
    gp = L.gradient_penalty(critic, x, x, minigan.Generator(0), weight=1.0, labels=labels)
    # grad_x = 2 * (1, 1): norm 2 sqrt(2)
    assert gp.item() == pytest.approx((2 * math.sqrt(2) - 1) ** 2, rel=1e-6)
    r1 = L.r1_penalty(critic, x, gamma=2.0, labels=labels)
    assert r1.item() == pytest.approx(8.0, rel=1e-6)
    assert len(seen) == 2 and all(s is labels for s in seen)


# ----------------------------------------------------------------------------
# Instance noise and the registry
# ----------------------------------------------------------------------------
def test_instance_noise():
    x = T(np.zeros((2000, 2)))
    assert L.instance_noise(x, 0.0, minigan.Generator(0)) is x
    y = L.instance_noise(x, 0.5, minigan.Generator(0))
    assert np.std(host(y.data)) == pytest.approx(0.5, rel=0.05)
    y.sum().backward()  # the noise is a constant: gradient 1 passes through
    np.testing.assert_array_equal(host(x.grad.data), np.ones((2000, 2)))


def test_registry():
    for name in L.LOSSES:
        loss = L.get_loss(name)
        assert loss.name == name
        r, f = T([[1.0], [2.0]]), T([[-1.0], [0.5]])
        assert np.isfinite(loss.d_loss(r, f).item())
        assert np.isfinite(loss.g_loss(f, r).item())
    assert L.get_loss("wgan").n_critic == 5 and L.get_loss("wgan").clip_value == 0.01
    assert L.get_loss("wgan-gp").gp_weight == 10.0 and L.get_loss("wgan-gp").clip_value is None
    assert L.get_loss("ns").output == "logit" and L.get_loss("hinge").output == "score"
    assert L.get_loss("non-saturating").name == "ns"
    assert L.get_loss("wgan-gp", n_critic=3).n_critic == 3
    with pytest.raises(ValueError, match="unknown GAN loss"):
        L.get_loss("nope")
    with pytest.raises(ValueError, match="label smoothing"):
        L.get_loss("wgan", label_smoothing=0.1)
    # Smoothing reaches the registered D loss.
    r, f = T([[1.0]]), T([[0.0]])
    smoothed = L.get_loss("ns", label_smoothing=0.2).d_loss(r, f).item()
    assert smoothed == pytest.approx(L.minimax_d_loss(r, f, label_smoothing=0.2).item())
    assert smoothed != pytest.approx(L.get_loss("ns").d_loss(r, f).item())
