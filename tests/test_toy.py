"""Toy distributions and the 2-D mode metrics, against hand-built samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import host

import minigan
from minigan import backend as B
from minigan.data import toy


def test_gaussian_1d_samples():
    g = toy.gaussian_1d(4.0, 1.25)
    x = g.sample(20_000, minigan.Generator(0))
    assert x.shape == (20_000, 1) and x.dtype == B.float_dtype()
    h = host(x.data)
    assert h.mean() == pytest.approx(4.0, abs=0.03) and h.std() == pytest.approx(1.25, rel=0.02)
    np.testing.assert_array_equal(host(g.sample(50, minigan.Generator(3)).data), host(g(50, minigan.Generator(3)).data))
    assert not np.array_equal(
        host(g.sample(50, minigan.Generator(3)).data), host(g.sample(50, minigan.Generator(4)).data)
    )
    assert g.mean == [4.0] and g.std == [1.25]


def test_mixture_1d_modes_and_moments():
    near, far = toy.mixture_1d("near"), toy.mixture_1d("far", sigma=0.5, center=4.0)
    assert near.means == [[-1.0], [1.0]] and far.means == [[0.0], [8.0]]
    assert far.mean == [4.0] and far.std[0] == pytest.approx(math.sqrt(0.25 + 16.0))
    assert toy.mixture_1d(3.0).means == [[-1.5], [1.5]]
    with pytest.raises(ValueError):
        toy.mixture_1d("medium")
    x = host(far.sample(4000, minigan.Generator(1)).data).reshape(-1)
    assert (x < 4).mean() == pytest.approx(0.5, abs=0.04)  # equal weights
    assert np.abs(np.where(x < 4, x, x - 8)).max() < 6 * 0.5  # every sample near a mode
    # The density integrates to 1 and peaks at the modes.
    xs = np.linspace(-5, 13, 20001)
    assert np.trapezoid(far.pdf(xs), xs) == pytest.approx(1.0, abs=1e-6)
    assert far.pdf([0.0])[0] == pytest.approx(0.5 / (0.5 * math.sqrt(2 * math.pi)), rel=1e-6)
    with pytest.raises(ValueError):
        toy.ring_2d().pdf([0.0])


def test_ring_and_grid_layout():
    ring = toy.ring_2d()
    assert ring.n_modes == 8 and ring.sigma == 0.01 and ring.dim == 2
    for k, (x, y) in enumerate(ring.means):
        assert math.hypot(x, y) == pytest.approx(1.0)
        assert math.atan2(y, x) % (2 * math.pi) == pytest.approx(2 * math.pi * k / 8, abs=1e-12)
    grid = toy.grid_2d()
    assert grid.n_modes == 25 and grid.sigma == 0.05
    assert {tuple(m) for m in grid.means} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    moons = toy.two_moons()
    assert moons.n_modes == 100 and moons.sigma == 0.08 and moons.dim == 2
    upper, lower = moons.means[:50], moons.means[50:]
    assert all(math.hypot(x, y) == pytest.approx(1.0) and y >= -1e-12 for x, y in upper)  # around (0, 0), above
    assert all(math.hypot(x - 1.0, y - 0.5) == pytest.approx(1.0) and y <= 0.5 + 1e-12 for x, y in lower)
    assert host(moons.sample(10, minigan.Generator(0))).shape == (10, 2)
    with pytest.raises(ValueError):
        toy.two_moons(points_per_moon=1)
    with pytest.raises(ValueError):
        toy.Mixture([[0.0], [1.0, 2.0]], 1.0)
    with pytest.raises(ValueError):
        toy.Mixture([[0.0]], 0.0)


def test_mode_metrics_by_hand():
    ring = toy.ring_2d()
    s = 0.01
    pts = np.array(
        [
            [1.0, 0.0],  # mode 0, exact
            [1.0 + 2.9 * s, 0.0],  # mode 0, inside 3 sigma
            [0.0, 1.0 - 1.0 * s],  # mode 2
            [1.0 + 3.1 * s, 0.0],  # nearest mode 0 but outside 3 sigma: low quality
            [0.0, 0.0],  # far from everything
        ]
    )
    m = toy.mode_metrics(B.asarray(pts), ring)
    assert m["counts"] == [2, 0, 1, 0, 0, 0, 0, 0]
    assert m["modes"] == 2 and m["n_modes"] == 8
    assert m["high_quality"] == pytest.approx(60.0)
    expected = (2 / 3) * math.log((2 / 3) * 8) + (1 / 3) * math.log((1 / 3) * 8)
    assert m["reverse_kl"] == pytest.approx(expected, rel=1e-12)


def test_mode_metrics_limits():
    grid = toy.grid_2d()
    # Everything on one mode: reverse KL = log K, one mode captured.
    one = np.tile([[2.0, -4.0]], (10, 1))
    m = toy.mode_metrics(minigan.tensor(one), grid)
    assert m["modes"] == 1 and m["reverse_kl"] == pytest.approx(math.log(25)) and m["high_quality"] == 100.0
    # Exactly even over all modes: reverse KL 0.
    even = np.repeat(np.asarray(grid.means), 2, axis=0)
    m = toy.mode_metrics(minigan.tensor(even), grid)
    assert m["modes"] == 25 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    # No high-quality sample: no histogram to compare.
    m = toy.mode_metrics(minigan.tensor([[1.0, 1.0]]), grid)
    assert m["modes"] == 0 and m["high_quality"] == 0.0 and m["reverse_kl"] is None
    with pytest.raises(ValueError):
        toy.mode_metrics(minigan.tensor([[1.0, 1.0, 1.0]]), grid)


@pytest.mark.parametrize("make", [toy.ring_2d, toy.grid_2d])
def test_real_samples_score_as_the_data(make):
    mix = make()
    m = toy.mode_metrics(mix.sample(2500, minigan.Generator(0)), mix)
    assert m["modes"] == mix.n_modes
    # P(||x - m|| <= 3 sigma) for an isotropic 2-D Gaussian is 1 - exp(-9/2) = 98.89%.
    assert m["high_quality"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.8)
    assert m["reverse_kl"] < 0.02


def test_toy_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    from minigan.viz import toy as vtoy

    ring = toy.ring_2d()
    p = vtoy.scatter_2d(tmp_path / "ring.png", ring.sample(200, minigan.Generator(0)), ring.means, sigma=ring.sigma)
    assert p.stat().st_size > 1000
    g = toy.gaussian_1d()
    xs = np.linspace(-1, 9, 50)
    fake = g.sample(300, minigan.Generator(1))
    p = vtoy.plot_histogram_1d(tmp_path / "h.png", xs, g.pdf(xs), fake, d_curve=np.full(50, 0.5))
    assert p.stat().st_size > 1000
    frames = [{"step": s, "fake": fake, "d_curve": np.full(50, 0.5)} for s in (0, 10)]
    p = vtoy.animate_1d(tmp_path / "a.gif", xs, g.pdf(xs), frames)
    from PIL import Image

    with Image.open(p) as im:
        assert im.n_frames == 2
    # A fixed y_max changes the picture (a lower axis makes the histogram fill more of it).
    q = vtoy.animate_1d(tmp_path / "c.gif", xs, g.pdf(xs), frames, y_max=0.05)
    with Image.open(p) as a, Image.open(q) as b:
        assert np.asarray(a.convert("RGB")).tobytes() != np.asarray(b.convert("RGB")).tobytes()
    with pytest.raises(ValueError):
        vtoy.animate_1d(tmp_path / "b.gif", xs, g.pdf(xs), [])
