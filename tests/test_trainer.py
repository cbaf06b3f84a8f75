"""The alternating GAN trainer: freeze semantics, determinism, n_critic, conditioning, callbacks.

The central test is :func:`test_generator_phase_freezes_d_and_follows_the_gradient_through_d`:
after a generator phase the discriminator (with BatchNorm) is bit-for-bit unchanged,
parameters *and* running statistics, the generator changed, and the gradient the generator
was updated with equals a central finite difference of its loss through D (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import host

import minigan
import minigan.functions as F
import minigan.nn as nn
from minigan import backend as B
from minigan.data import toy
from minigan.gan import Callback, GANTrainer, every, frozen, grad_norm, one_hot
from minigan.gan.trainer import HISTORY_KEYS, CosineLR, ParameterAverage
from minigan.optim import SGD, Adam


def mlp_g(latent=3, out=2, seed=0, bn=False):
    rng = minigan.Generator(seed)
    layers = [nn.Dense(latent, 8, rng=rng)]
    if bn:
        layers.append(nn.BatchNorm(8))
    layers += [nn.Tanh(), nn.Dense(8, out, rng=rng)]
    return nn.Sequential(*layers)


def mlp_d(inp=2, seed=1, bn=False):
    rng = minigan.Generator(seed)
    layers = [nn.Dense(inp, 8, rng=rng)]
    if bn:
        layers.append(nn.BatchNorm(8))
    layers += [nn.LeakyReLU(0.2), nn.Dense(8, 1, rng=rng)]
    return nn.Sequential(*layers)


def make_trainer(loss="ns", seed=0, bn=False, opt="adam", **kw):
    G, D = mlp_g(bn=bn), mlp_d(bn=bn)
    if opt == "adam":
        g_opt, d_opt = Adam(G.parameters(), lr=1e-2), Adam(D.parameters(), lr=1e-2)
    else:
        g_opt, d_opt = SGD(G.parameters(), lr=0.1), SGD(D.parameters(), lr=0.1)
    kw.setdefault("batch_size", 16)
    return GANTrainer(G, D, g_opt, d_opt, toy.ring_2d(), loss=loss, latent_dim=3, seed=seed, **kw)


def state(module):
    return {k: v.copy() for k, v in module.state_dict().items()}


def assert_states_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k  # bit-identical, not merely close


# ----------------------------------------------------------------------------
# Freeze semantics
# ----------------------------------------------------------------------------
def test_generator_phase_freezes_d_and_follows_the_gradient_through_d():
    with minigan.default_dtype("float64"):
        tr = make_trainer(bn=True, opt="sgd", n_fixed=4)
        tr.train(3)  # non-trivial BatchNorm running statistics and Adam-free SGD updates
        d_before, g_before = state(tr.D), state(tr.G)
        d_grads_before = [p.grad for p in tr.D.parameters()]
        noise_state = tr.noise_rng.get_state()

        tr.generator_step()

        # D: parameters and BatchNorm running statistics bit-identical; flags and grads untouched.
        assert_states_equal(state(tr.D), d_before)
        assert any("running_mean" in k for k in d_before) and any("running_var" in k for k in d_before)
        assert all(p.requires_grad for p in tr.D.parameters())
        assert all(p.grad is g for p, g in zip(tr.D.parameters(), d_grads_before))
        # G: every parameter moved.
        g_after = state(tr.G)
        for name, _ in tr.G.named_parameters():
            assert not np.array_equal(g_after[name], g_before[name]), name
        used_grads = {name: host(p.grad.data).copy() for name, p in tr.G.named_parameters()}

        # Finite differences of the generator loss through D, at G's weights before the step,
        # on the very noise batch the step used.
        tr.G.load_state_dict(g_before)
        tr.noise_rng.set_state(noise_state)
        z = tr.sample_noise(tr.batch_size)

        def loss_value():
            with minigan.no_grad(), frozen(tr.D):
                return tr.generator_loss(z).item()

        eps = 1e-6
        for name, p in tr.G.named_parameters():
            base = host(p.data).copy()
            numeric = np.zeros_like(base)
            for idx in np.ndindex(base.shape):
                for sign in (1, -1):
                    x = base.copy()
                    x[idx] += sign * eps
                    p.data = B.asarray(x, dtype="float64")
                    numeric[idx] += sign * loss_value() / (2 * eps)
            p.data = B.asarray(base, dtype="float64")
            np.testing.assert_allclose(used_grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)
        assert_states_equal(state(tr.D), d_before)  # the finite differences left D alone too


def test_discriminator_phase_holds_g_constant():
    tr = make_trainer(bn=True)
    tr.train(1)
    g_params = {k: v for k, v in state(tr.G).items() if "running" not in k}
    d_before = state(tr.D)
    tr.G.zero_grad()
    tr.discriminator_step()
    g_after = state(tr.G)
    for k, v in g_params.items():
        assert np.array_equal(g_after[k], v), k
    assert all(p.grad is None for p in tr.G.parameters())  # fake.detach(): no gradient reached G
    assert any(not np.array_equal(v, state(tr.D)[k]) for k, v in d_before.items())


def test_frozen_restores_flags_and_buffers_even_on_error():
    D = mlp_d(bn=True)
    first = D.parameters()[0]
    first.requires_grad = False  # a parameter frozen on purpose stays frozen
    before = state(D)
    with pytest.raises(RuntimeError):
        with frozen(D):
            assert not any(p.requires_grad for p in D.parameters())
            D(minigan.Tensor(minigan.Generator(0).normal((5, 2))))  # updates running stats
            raise RuntimeError("boom")
    assert [p.requires_grad for p in D.parameters()] == [False] + [True] * (len(D.parameters()) - 1)
    assert_states_equal(state(D), before)


# ----------------------------------------------------------------------------
# History, determinism, losses
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge", "ragan"])
def test_every_loss_trains_and_records_history(loss):
    tr = make_trainer(loss)
    history = tr.train(2)
    assert len(history) == 2 and [r["step"] for r in history] == [1, 2]
    for rec in history:
        for key in HISTORY_KEYS:
            assert key in rec and np.isfinite(rec[key]), (loss, key)
        assert 0.0 <= rec["d_acc"] <= 1.0
        if tr.loss.output == "logit":
            assert 0.0 < rec["d_real"] < 1.0 and 0.0 < rec["d_fake"] < 1.0
    assert ("gp" in history[0]) == (loss == "wgan-gp")
    cols = tr.history_columns()
    assert cols["step"] == [1, 2] and len(cols["d_loss"]) == 2


def test_same_seed_same_history_different_seed_different():
    a, b, c = make_trainer(seed=3), make_trainer(seed=3), make_trainer(seed=4)
    ha, hb, hc = a.train(4), b.train(4), c.train(4)
    assert ha == hb
    assert_states_equal(state(a.G), state(b.G))
    assert ha != hc


def test_d_accuracy_and_outputs_by_hand():
    tr = make_trainer("ns")
    r = minigan.tensor([[2.0], [-1.0], [0.5]])
    f = minigan.tensor([[-3.0], [1.0]])
    host = lambda stats: {k: float(B.to_host(v)) for k, v in stats.items()}  # 0-d device arrays -> numbers
    s = host(tr._output_stats(r, f))
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v)))
    assert s["d_real"] == pytest.approx(sig([2.0, -1.0, 0.5]).mean(), rel=1e-6)
    assert s["d_fake"] == pytest.approx(sig([-3.0, 1.0]).mean(), rel=1e-6)
    assert s["d_acc"] == pytest.approx(3 / 5)  # real 2, 0.5 right; fake -3 right
    tr = make_trainer("wgan")  # critic: raw means, threshold halfway between them
    s = host(tr._output_stats(r, f))
    assert s["d_real"] == pytest.approx(0.5) and s["d_fake"] == pytest.approx(-1.0)
    assert s["d_acc"] == pytest.approx(3 / 5)  # threshold -0.25: real -1 and fake 1 are wrong


def test_grad_norm_matches_hand():
    a, b = minigan.tensor([[3.0]]), minigan.tensor([4.0, 0.0])
    a.grad, b.grad = minigan.tensor([[3.0]]), minigan.tensor([4.0, 0.0])
    c = minigan.tensor([1.0])  # no grad: ignored
    assert grad_norm([a, b, c]) == pytest.approx(5.0)


# ----------------------------------------------------------------------------
# WGAN: n_critic and weight clipping
# ----------------------------------------------------------------------------
class CountingOpt:
    def __init__(self, opt):
        self.opt, self.steps = opt, 0

    def zero_grad(self):
        self.opt.zero_grad()

    def step(self):
        self.steps += 1
        self.opt.step()


def test_wgan_n_critic_counts_and_clipping():
    G, D = mlp_g(), mlp_d()
    g_opt, d_opt = CountingOpt(SGD(G.parameters(), lr=0.01)), CountingOpt(SGD(D.parameters(), lr=0.5))
    tr = GANTrainer(G, D, g_opt, d_opt, toy.ring_2d(), loss="wgan", latent_dim=3, batch_size=8, seed=0)
    assert tr.d_steps == 5 and tr.clip_value == 0.01
    tr.train(3)
    assert d_opt.steps == 15 and tr.d_updates == 15
    assert g_opt.steps == 3 and tr.g_updates == 3
    for p in D.parameters():
        assert float(np.abs(host(p.data)).max()) <= 0.01 + 1e-12
    # n_critic from the trainer overrides the loss's default; GP loss has no clipping.
    tr = make_trainer("wgan-gp", d_steps=2, g_steps=3)
    tr.train(2)
    assert (tr.d_updates, tr.g_updates) == (4, 6) and tr.clip_value is None and tr.gp_weight == 10.0


# ----------------------------------------------------------------------------
# Conditional training and data sources
# ----------------------------------------------------------------------------
class CondG(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k, self.seen = k, []
        self.body = nn.Sequential(nn.Dense(3 + k, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))

    def forward(self, z, y):
        self.seen.append(host(y.data).copy())
        return self.body(F.concat([z, one_hot(y, self.k)], axis=1))  # (N, 3) ++ (N, K) -> (N, 3 + K)


class CondD(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.seen = []
        self.embed = nn.Embedding(k, 4, rng=2)
        self.body = nn.Sequential(nn.Dense(2 + 4, 8, rng=3), nn.LeakyReLU(0.2), nn.Dense(8, 1, rng=4))

    def forward(self, x, y):
        self.seen.append(host(y.data).copy())
        return self.body(F.concat([x, self.embed(y)], axis=1))


def labelled_batches(n_batches=3, n=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n, 2)), rng.integers(0, k, size=n)) for _ in range(n_batches)]


@pytest.mark.parametrize("loss", ["ns", "ragan", "wgan-gp"])
def test_conditional_training_feeds_labels_to_both(loss):
    k = 3
    G, D = CondG(k), CondD(k)
    data = labelled_batches(k=k)  # a list: re-iterated when exhausted
    tr = GANTrainer(
        G,
        D,
        Adam(G.parameters(), lr=1e-2),
        Adam(D.parameters(), lr=1e-2),
        data,
        loss=loss,
        latent_dim=3,
        num_classes=k,
        seed=0,
        n_fixed=6,
        d_steps=1,
    )
    tr.train(4)  # 4 D steps over 3 batches: the iterable was restarted
    assert len(tr.history) == 4
    assert all(set(np.unique(y)) <= set(range(k)) for y in G.seen + D.seen)
    # D saw the real labels of the data as they are.
    assert any(np.array_equal(y, data[0][1]) for y in D.seen)
    samples = tr.sample_fixed()
    assert samples.shape == (6, 2)
    assert host(tr.fixed_labels.data).tolist() == [0, 1, 2, 0, 1, 2]


def test_data_sources():
    rng = np.random.default_rng(0)
    # An iterable of host arrays (float64 on the host -> the default float dtype).
    tr = make_trainer(batch_size=4)
    tr.data = [rng.normal(size=(4, 2)) for _ in range(2)]
    x, y = tr.next_real()
    assert y is None and x.shape == (4, 2) and x.dtype == B.float_dtype()
    tr.next_real()
    x3, _ = tr.next_real()  # third call: second epoch starts over
    np.testing.assert_allclose(host(x3.data), tr.data[0].astype("float32"))

    # A generator function (an iterable that is re-created by iter()).
    class Loader:
        def __iter__(self):
            for _ in range(2):
                yield minigan.Tensor(minigan.Generator(0).normal((4, 2)))

    tr.data = Loader()
    tr._iterator = None
    assert tr.next_real()[0].shape == (4, 2)

    # A callable data(batch_size, rng).
    tr.data = lambda n, r: minigan.Tensor(r.normal((n, 2)))
    assert tr.next_real()[0].shape == (4, 2)

    # Conditional training needs labels.
    tr.num_classes = 3
    with pytest.raises(ValueError, match="labels"):
        tr.next_real()


# ----------------------------------------------------------------------------
# Options and callbacks
# ----------------------------------------------------------------------------
def test_instance_noise_and_label_smoothing_options():
    tr = make_trainer(instance_noise=0.4, instance_noise_steps=4, label_smoothing=0.1)
    assert tr.current_instance_noise() == pytest.approx(0.4)
    tr.train(2)
    assert tr.current_instance_noise() == pytest.approx(0.2)
    assert [r["instance_noise"] for r in tr.history] == pytest.approx([0.3, 0.2])
    tr.train(3)
    assert tr.current_instance_noise() == 0.0
    r, f = minigan.tensor([[1.0]]), minigan.tensor([[0.0]])
    smoothed = tr.loss.d_loss(r, f).item()
    assert smoothed == pytest.approx(F.binary_cross_entropy_with_logits(r, 0.9).item() + np.log(2), rel=1e-6)
    with pytest.raises(ValueError):
        make_trainer(noise="cauchy")
    with pytest.raises(ValueError):
        make_trainer(d_steps=0)


def test_callbacks_every_and_hooks():
    calls, ends = [], []

    class Recorder(Callback):
        def on_step_end(self, trainer, record):
            calls.append(("cb", record["step"]))

        def on_train_end(self, trainer):
            ends.append(trainer.step)

    fn_calls = []
    tr = make_trainer()
    tr.train(
        5,
        [Recorder(), every(2, lambda t, rec: calls.append(("every2", rec["step"]))), lambda t, r: fn_calls.append(1)],
    )
    assert [s for name, s in calls if name == "cb"] == [1, 2, 3, 4, 5]
    assert [s for name, s in calls if name == "every2"] == [2, 4]
    assert ends == [5] and len(fn_calls) == 5
    with pytest.raises(ValueError):
        every(0, lambda t, r: None)


def test_fixed_noise_and_sample_fixed_restore_mode():
    tr = make_trainer(bn=True, n_fixed=5)
    z0 = host(tr.fixed_noise.data).copy()
    tr.train(2)
    np.testing.assert_array_equal(host(tr.fixed_noise.data), z0)  # the batch never changes
    before = state(tr.G)
    tr.G.train()
    out = tr.sample_fixed()
    assert out.shape == (5, 2) and not out.requires_grad
    assert tr.G.training  # mode restored
    assert_states_equal(state(tr.G), before)  # eval mode: running stats untouched
    assert one_hot(minigan.Tensor(B.asarray(np.array([2, 0]))), 3).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_cosine_lr_and_parameter_average():
    tr = make_trainer(opt="sgd")
    cos = CosineLR([tr.g_opt, tr.d_opt], total_steps=4)
    avg = ParameterAverage(tr.G, start=3)
    snapshots = []
    tr.train(4, [cos, avg, lambda t, r: snapshots.append(state(t.G))])
    assert tr.g_opt.lr == pytest.approx(0.0, abs=1e-12)
    assert avg.count == 2
    averaged = avg.state_dict()
    for name, _ in tr.G.named_parameters():
        expected = (snapshots[2][name].astype("float64") + snapshots[3][name].astype("float64")) / 2
        np.testing.assert_allclose(averaged[name], expected, rtol=1e-6)
    G2 = avg.copy_to(mlp_g())
    np.testing.assert_allclose(host(G2.parameters()[0].data), averaged["0.weight"])
