"""pix2pix's training (``minigan.gan.PairedTrainer``): the two passes, the L1 term, the baseline."""

from __future__ import annotations

import numpy as np
import pytest

import minigan
from minigan import backend as B
from minigan import metrics, nn
from minigan.data import paired
from minigan.gan import PairedTrainer
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
