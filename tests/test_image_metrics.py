"""PSNR, SSIM and masked L1 (``minigan.metrics.image``) against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minigan import metrics


def test_psnr_by_hand():
    a = np.zeros((2, 1, 4, 4))
    b = a + np.array([0.1, 0.2]).reshape(2, 1, 1, 1)
    # MSE 0.01 and 0.04 with a range of 2: 10 log10(4 / MSE)
    np.testing.assert_allclose(metrics.psnr(a, b), [10 * math.log10(400), 10 * math.log10(100)])
    np.testing.assert_allclose(metrics.psnr(a, b, data_range=1.0), [20.0, 10 * math.log10(25)])
    assert metrics.psnr(a, a)[0] == math.inf


def _ssim_loops(a, b, data_range=2.0, k=7):
    """The definition, one window at a time."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    vals = []
    for i in range(a.shape[0] - k + 1):
        for j in range(a.shape[1] - k + 1):
            x, y = a[i : i + k, j : j + k].ravel(), b[i : i + k, j : j + k].ravel()
            mx, my = x.mean(), y.mean()
            vx, vy = x.var(ddof=1), y.var(ddof=1)
            cxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
            vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return np.mean(vals)


def test_ssim_by_hand_and_by_the_definition():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 2, 9, 10))
    b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1)
    got = metrics.ssim(a, b)
    want = [np.mean([_ssim_loops(a[n, c], b[n, c]) for c in range(2)]) for n in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(metrics.ssim(a, a), 1.0)
    # Two flat images: only the luminance term is left, (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1).
    flat0, flat1 = np.zeros((1, 7, 7)), np.full((1, 7, 7), 0.5)
    np.testing.assert_allclose(metrics.ssim(flat0, flat1), [0.0004 / (0.25 + 0.0004)])
    assert metrics.ssim(a, b).mean() > metrics.ssim(a, rng.uniform(-1, 1, a.shape)).mean()


def test_masked_l1_and_bad_input():
    a, b = np.zeros((2, 1, 4, 4)), np.ones((2, 1, 4, 4))
    b[:, :, :2] = 3.0
    mask = np.zeros((2, 1, 4, 4), bool)
    mask[0, :, :2, :2] = True  # 4 pixels at |0 - 3|
    mask[1, :, 3, :] = True  # 4 pixels at |0 - 1|
    np.testing.assert_allclose(metrics.masked_l1(a, b, mask), [3.0, 1.0])
    with pytest.raises(ValueError, match="selects no pixel"):
        metrics.masked_l1(a, b, np.zeros_like(mask))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(a, b[:1])
    with pytest.raises(ValueError, match="window does not fit"):
        metrics.ssim(np.zeros((1, 5, 5)), np.zeros((1, 5, 5)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        metrics.psnr(np.zeros(3), np.zeros(3))
