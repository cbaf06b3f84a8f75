"""pix2pix's training (``minigan.gan.PairedTrainer``): the two passes, the L1 term, the baseline."""

from __future__ import annotations

import numpy as np
import pytest

import minigan
from minigan import backend as B
from minigan import metrics, nn
from minigan.data import paired
from minigan.gan import CycleTrainer, ImagePool, PairedTrainer
from minigan.optim import Adam


def squares(n=32, size=8, seed=0):
    rng = np.random.default_rng(seed)
    y = -np.ones((n, 1, size, size), np.float32)
    for i in range(n):
        t, left = rng.integers(0, size - 3, 2)
        y[i, :, t : t + 3, left : left + 3] = 1.0
    return y


def make(adversarial=True, masks=None, x=None, y=None, batch_size=8, **kw):
    y = squares() if y is None else y
    x = paired.outlines(y) if x is None else x
    G = nn.UNet(1, 1, depth=2, width=4, rng=0)
    D = nn.patch_discriminator(2, width=4, rng=1)
    g_opt = Adam(G.parameters(), 2e-3, (0.5, 0.999))
    d_opt = Adam(D.parameters(), 2e-4, (0.5, 0.999))
    return (
        PairedTrainer(G, D, g_opt, d_opt, x, y, masks=masks, adversarial=adversarial, batch_size=batch_size, **kw),
        x,
        y,
    )


def snapshot(module):
    return [B.to_host(p.data).copy() for p in module.parameters()]


def changed(before, module):
    return any(not np.array_equal(a, B.to_host(p.data)) for a, p in zip(before, module.parameters()))


def test_each_pass_steps_only_its_own_network():
    tr, _, _ = make()
    x, y, m = tr.next_batch()
    g0, d0 = snapshot(tr.G), snapshot(tr.D)
    tr.discriminator_step(x, y)
    assert changed(d0, tr.D) and not changed(g0, tr.G)
    g1, d1 = snapshot(tr.G), snapshot(tr.D)
    d_grads = [B.to_host(p.grad.data).copy() for p in tr.D.parameters()]
    stats = tr.generator_step(x, y, m)
    assert changed(g1, tr.G) and not changed(d1, tr.D)
    assert stats["g_loss"] == pytest.approx(100.0 * stats["l1"] + stats["g_adv"], rel=1e-5)
    # Frozen: the G step's gradient passed through D into G, and added nothing to D's gradients.
    assert all(np.array_equal(a, B.to_host(p.grad.data)) for a, p in zip(d_grads, tr.D.parameters()))


def test_training_learns_the_map_and_the_baseline_leaves_d_alone():
    tr, x, y = make()
    first = tr.train_step()
    last = tr.train(60)[-1]
    assert last["l1"] < 0.5 * first["l1"]
    assert metrics.psnr(tr.translate(x), y).mean() > metrics.psnr(x, y).mean()
    base, _, _ = make(adversarial=False)
    d0 = snapshot(base.D)
    stats = base.train(5)
    assert not changed(d0, base.D) and "g_adv" not in stats[-1] and "d_loss" not in stats[-1]


def test_the_mask_restricts_the_l1_term():
    y = squares()
    holed, mask = paired.with_hole(y, 3)
    tr, _, _ = make(masks=mask, x=holed, y=y)
    fake = minigan.Tensor(B.asarray(y + 0.5))
    target = minigan.Tensor(B.asarray(y))
    m = minigan.Tensor(B.asarray(mask.astype(np.float32)))
    np.testing.assert_allclose(tr.reconstruction(fake, target, m).item(), 0.5, rtol=1e-6)
    outside = y.copy()
    outside[~np.broadcast_to(mask, y.shape)] += 1.0  # errors only outside the hole: not counted
    assert tr.reconstruction(minigan.Tensor(B.asarray(outside)), target, m).item() == 0.0
    tr.train(2)


def test_the_batches_cover_every_pair_each_epoch():
    tr, _, _ = make()
    seen = []
    for _ in range(4):  # 32 pairs, batches of 8
        x, _, _ = tr.next_batch()
        seen.append(B.to_host(x.data))
    rows = np.concatenate(seen).reshape(32, -1)
    assert len({r.tobytes() for r in rows}) == len({r.tobytes() for r in tr_inputs(tr)})


def tr_inputs(tr):
    return B.to_host(tr.inputs).reshape(tr.inputs.shape[0], -1)


def test_bad_arguments_are_refused():
    y = squares()
    with pytest.raises(ValueError, match="same N"):
        make(x=paired.outlines(y)[:5], y=y)
    with pytest.raises(ValueError, match="differ in size"):
        make(x=paired.downsample(y, 2), y=y)
    with pytest.raises(ValueError, match="masks must be"):
        make(masks=np.zeros((32, 1, 4, 4), bool))
    with pytest.raises(ValueError, match="batch_size"):
        make(batch_size=100)
    with pytest.raises(ValueError, match="l1_weight"):
        make(adversarial=False, l1_weight=0.0)


# ----------------------------------------------------------------------------
# CycleGAN
# ----------------------------------------------------------------------------
def make_cycle(identity_weight=5.0, pool_size=4, a=None, b=None):
    a = squares(24, seed=0) if a is None else a
    b = paired.outlines(squares(20, seed=1)) if b is None else b
    nets = [
        nn.UNet(a.shape[1], b.shape[1], depth=2, width=4, rng=0),
        nn.UNet(b.shape[1], a.shape[1], depth=2, width=4, rng=1),
    ]
    nets += [nn.patch_discriminator(a.shape[1], width=4, rng=2), nn.patch_discriminator(b.shape[1], width=4, rng=3)]
    G_ab, G_ba, D_a, D_b = nets
    g_opt = Adam(G_ab.parameters() + G_ba.parameters(), 2e-3, (0.5, 0.999))
    opts = [Adam(D.parameters(), 2e-4, (0.5, 0.999)) for D in (D_a, D_b)]
    return CycleTrainer(
        G_ab, G_ba, D_a, D_b, g_opt, *opts, a, b, identity_weight=identity_weight, pool_size=pool_size, batch_size=4
    )


def test_cycle_generator_step_updates_only_the_generators():
    tr = make_cycle()
    a, b = tr.next_batch()
    before = {n: snapshot(m) for n, m in (("G_ab", tr.G_ab), ("G_ba", tr.G_ba), ("D_a", tr.D_a), ("D_b", tr.D_b))}
    stats, fake_a, fake_b = tr.generator_step(a, b)
    assert changed(before["G_ab"], tr.G_ab) and changed(before["G_ba"], tr.G_ba)
    assert not changed(before["D_a"], tr.D_a) and not changed(before["D_b"], tr.D_b)
    want = stats["g_adv"] + 10.0 * stats["cycle"] + 5.0 * stats["identity"]
    assert stats["g_loss"] == pytest.approx(want, rel=1e-5)
    g_ab = snapshot(tr.G_ab)
    tr.discriminator_step(tr.D_a, tr.d_a_opt, a, fake_a, tr.pool_a)
    assert changed(before["D_a"], tr.D_a) and not changed(g_ab, tr.G_ab)


def test_cycle_training_reduces_the_cycle_error():
    tr = make_cycle()
    first = tr.train_step()
    last = tr.train(40)[-1]
    assert last["cycle"] < 0.6 * first["cycle"]
    out = tr.translate(squares(3, seed=5), "ab")
    assert out.shape == (3, 1, 8, 8) and np.all(np.abs(out) <= 1)


def test_image_pool_mixes_old_and_new_fakes():
    pool = ImagePool(size=3, seed=0)
    first = minigan.Tensor(B.asarray(np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1)))
    assert np.array_equal(B.to_host(pool.query(first).data), B.to_host(first.data))  # filling: used as they are
    seen = set()
    for k in range(10):
        new = minigan.Tensor(B.asarray(np.full((3, 1, 1, 1), 10.0 + k, np.float32)))
        seen |= set(B.to_host(pool.query(new).data).ravel().tolist())
    assert any(v < 10 for v in seen) and any(v >= 10 for v in seen)  # old ones came back, new ones went through
    assert ImagePool(0).query(first) is first
    with pytest.raises(ValueError):
        ImagePool(-1)


def test_cycle_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="identity term"):
        make_cycle(a=np.zeros((8, 3, 8, 8), np.float32), b=squares(8))
    with pytest.raises(ValueError, match="one size"):
        make_cycle(identity_weight=0, a=squares(8), b=squares(8, size=16))
    with pytest.raises(ValueError, match="direction"):
        make_cycle().translate(squares(1), "ba-ab")


def test_composite_keeps_the_known_pixels():
    y = squares()
    holed, mask = paired.with_hole(y, 3)
    tr, _, _ = make(masks=mask, x=holed, y=y, composite=True)
    tr.train(2)
    out = tr.translate(holed, mask)
    keep = ~np.broadcast_to(mask, y.shape)
    assert np.array_equal(out[keep], holed[keep])  # only the hole is G's
    assert not np.array_equal(out[~keep], holed[~keep])
    with pytest.raises(ValueError, match="composite needs masks"):
        make(composite=True)
