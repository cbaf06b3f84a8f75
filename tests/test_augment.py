"""DiffAugment: each transformation against a NumPy reference, gradient checks (first and second
order, float64), reproducibility, policies, and its use by the trainer (real and fake, both phases)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import T, host
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.functions as F
import minigan.nn as nn
from minigan import backend as B
from minigan.gan.augment import DiffAugment
from minigan.gan.trainer import GANTrainer
from minigan.optim import Adam


@pytest.fixture(autouse=True)
def float64_default():
    with minigan.default_dtype("float64"):
        yield


def images(n=3, c=1, h=6, w=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, h, w))


def test_translation_shifts_each_sample_with_zeros_shifted_in():
    x = images()
    aug = DiffAugment("translation", translation=0.34)  # up to 2 pixels on a 6 x 5 image
    rng = B.Generator(3)
    y = host(aug(T(x, requires_grad=False), rng))
    # The same draws, replayed: dy then dx, one per sample.
    replay = B.Generator(3)
    dy = host(replay.integers(-2, 3, (3,)))
    dx = host(replay.integers(-2, 3, (3,)))
    for n in range(3):
        expected = np.zeros_like(x[n])
        for i in range(6):
            for j in range(5):
                si, sj = i + dy[n], j + dx[n]
                if 0 <= si < 6 and 0 <= sj < 5:
                    expected[:, i, j] = x[n, :, si, sj]
        np.testing.assert_array_equal(y[n], expected)
    assert (dy != 0).any() or (dx != 0).any()


def test_cutout_zeroes_one_square_per_sample():
    x = np.ones((8, 2, 8, 8))
    y = host(DiffAugment("cutout", cutout=0.5)(T(x, requires_grad=False), B.Generator(0)))
    for n in range(8):
        zero = y[n, 0] == 0
        np.testing.assert_array_equal(y[n, 0], y[n, 1])  # the same square in every channel
        rows, cols = np.nonzero(zero)
        assert zero.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
        assert rows.max() - rows.min() + 1 <= 4 and cols.max() - cols.min() + 1 <= 4
    assert (y == 0).sum(axis=(1, 2, 3)).max() == 2 * 16  # some square lies wholly inside


def test_color_is_brightness_then_contrast_per_sample():
    x = images(n=4, c=1)
    y = host(DiffAugment("color")(T(x, requires_grad=False), B.Generator(5)))
    replay = B.Generator(5)
    b = host(replay.uniform((4, 1, 1, 1), -0.5, 0.5))
    c = host(replay.uniform((4, 1, 1, 1), 0.5, 1.5))
    xb = x + b
    m = xb.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (xb - m) * c + m, rtol=1e-12)


def test_same_rng_state_same_augmentation_and_policy_order():
    x = T(images(), requires_grad=False)
    a = DiffAugment("cutout, translation,color")
    assert a.policy == ["color", "translation", "cutout"]
    np.testing.assert_array_equal(host(a(x, B.Generator(1))), host(a(x, B.Generator(1))))


def test_bad_policies_and_inputs_are_refused():
    with pytest.raises(ValueError, match="policy"):
        DiffAugment("flip")
    with pytest.raises(ValueError, match="policy"):
        DiffAugment("")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        DiffAugment()(T(np.ones((2, 3)), requires_grad=False), B.Generator(0))


@settings(max_examples=8)
@given(
    policy=st.sampled_from(["color", "translation", "cutout", "color,translation,cutout"]),
    c=st.integers(1, 3),
    size=st.integers(3, 6),
    order=st.integers(1, 2),
)
def test_gradcheck(policy, c, size, order):
    """The gradient flows through the augmentation (what the G phase relies on); a tanh after it
    makes the second derivatives non-zero."""
    with minigan.default_dtype("float64"):
        aug = DiffAugment(policy)
        x = T(images(n=2, c=c, h=size, w=size, seed=size))

        def fn(x):
            return F.tanh(aug(x, B.Generator(7)))  # the same draws on every call

        assert minigan.gradcheck(fn, [x], order=order)


def test_trainer_augments_real_and_fake_in_both_phases():
    seen = []

    def spy(x, rng):
        seen.append((x.requires_grad, tuple(x.shape)))
        return DiffAugment("translation")(x, rng)

    G = nn.Sequential(nn.Dense(4, 16, rng=0), nn.Reshape((1, 4, 4)))
    D = nn.Sequential(nn.Flatten(), nn.Dense(16, 1, rng=1))
    data = np.random.default_rng(0).normal(size=(16, 1, 4, 4))
    trainer = GANTrainer(
        G, D, Adam(G.parameters()), Adam(D.parameters()), [data[:8], data[8:]], latent_dim=4, batch_size=8,
        augment=spy,
    )  # fmt: skip
    trainer.train_step()
    # D phase: real (no grad), detached fake (no grad); G phase: fake with G's graph behind it.
    assert seen == [(False, (8, 1, 4, 4)), (False, (8, 1, 4, 4)), (True, (8, 1, 4, 4))]
    assert all(p.grad is not None for p in G.parameters())


def test_augmentation_changes_no_other_random_stream():
    def run(augment):
        G = nn.Sequential(nn.Dense(4, 16, rng=0), nn.Reshape((1, 4, 4)))
        D = nn.Sequential(nn.Flatten(), nn.Dense(16, 1, rng=1))
        tr = GANTrainer(G, D, Adam(G.parameters()), Adam(D.parameters()), lambda n, r: r.normal((n, 1, 4, 4)),
                        latent_dim=4, batch_size=4, augment=augment)  # fmt: skip
        tr.train_step()
        return host(tr.fixed_noise), host(tr.sample_noise(3)), host(tr.next_real()[0])

    for a, b in zip(run(None), run(DiffAugment("cutout"))):
        np.testing.assert_array_equal(a, b)
