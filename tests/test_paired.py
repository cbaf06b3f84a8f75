"""Paired inputs for image-to-image GANs (``minigan.data.paired``), checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from minigan.data import paired


def square(n=1, size=8, lo=2, hi=6):
    x = -np.ones((n, 1, size, size), np.float32)
    x[:, :, lo:hi, lo:hi] = 1.0  # a filled square of ink
    return x


def test_outlines_of_a_filled_square_are_its_border():
    e = paired.outlines(square())[0, 0]
    inside, outside = e[3:5, 3:5], e[0, :]
    assert np.all(inside == -1.0) and np.all(outside == -1.0)  # flat regions: no edge
    ring = np.zeros((8, 8), bool)
    ring[1:7, 1:7] = True
    ring[3:5, 3:5] = False  # the pixels next to a change of ink, on either side
    assert np.all(e[ring] > -1.0) and np.all(e[~ring] == -1.0)
    # At the middle of the left side: gx = 4 (ink on the right), gy = 0 -> 4 / (4 sqrt 2) = 0.707 ink.
    np.testing.assert_allclose(e[3, 1], 2 * (4 / (4 * np.sqrt(2))) - 1, rtol=1e-6)
    assert e.dtype == np.float32 and e.min() >= -1 and e.max() <= 1


def test_downsample_and_upsample_by_hand():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) / 8 - 1
    d = paired.downsample(x, 2)
    np.testing.assert_allclose(d[0, 0], (np.array([[2.5, 4.5], [10.5, 12.5]]) / 8 - 1))
    u = paired.upsample_nearest(d, 2)
    assert u.shape == (1, 1, 4, 4) and np.all(u[0, 0, :2, :2] == d[0, 0, 0, 0])
    with pytest.raises(ValueError, match="dividing 4x4"):
        paired.downsample(x, 3)
    with pytest.raises(ValueError, match="positive int"):
        paired.upsample_nearest(x, 0)


def test_holes_centre_and_random():
    x = square(n=5)
    holed, mask = paired.with_hole(x, 2)
    assert mask.shape == (5, 1, 8, 8) and mask.sum() == 5 * 4 and np.all(mask[:, 0, 3:5, 3:5])
    assert np.all(holed[np.broadcast_to(mask, x.shape)] == -1.0)
    assert np.array_equal(holed[~np.broadcast_to(mask, x.shape)], x[~np.broadcast_to(mask, x.shape)])
    _, m1 = paired.with_hole(x, 3, centre=False, rng=0)
    _, m2 = paired.with_hole(x, 3, centre=False, rng=0)
    assert np.array_equal(m1, m2) and np.all(m1.sum(axis=(1, 2, 3)) == 9)
    assert len({tuple(np.argwhere(m[0])[0]) for m in m1}) > 1  # not all at one place
    with pytest.raises(ValueError, match="hole size"):
        paired.with_hole(x, 9)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        paired.outlines(np.zeros((8, 8)))
