"""Glyph digits: format, determinism, MNIST-like normalisation, and the SDF masters."""

from __future__ import annotations

import numpy as np
import pytest

from minigan.data import glyphs
from minigan.data.glyphs import glyph_digits

# One shared sample for the cheap checks (rendering 600 images takes well under a second).
N = 600


@pytest.fixture(scope="module")
def sample():
    return glyph_digits(N, seed=0, value_range=(0.0, 1.0))


def centre_of_mass(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intensity-weighted (row, column) centre of each (N, 28, 28) image."""
    rows, cols = np.mgrid[0:28, 0:28]
    mass = images.sum(axis=(1, 2))
    return (images * rows).sum(axis=(1, 2)) / mass, (images * cols).sum(axis=(1, 2)) / mass


def test_format(sample):
    images, labels = sample
    assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (N,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))
    # The border is background, as in MNIST (digits fit a 20x20 box in the middle).
    border = np.concatenate([images[:, 0, :2].ravel(), images[:, 0, -2:].ravel()])
    assert (border == 0).mean() > 0.99


def test_value_range_is_an_affine_map(sample):
    images01, labels01 = sample
    images, labels = glyph_digits(N, seed=0)  # default (-1, 1)
    np.testing.assert_array_equal(labels, labels01)
    np.testing.assert_allclose(images, images01 * 2 - 1, atol=1e-6)
    assert images.min() == -1.0


def test_deterministic_by_seed_and_split(sample):
    images, labels = glyph_digits(N, seed=0, value_range=(0.0, 1.0))
    np.testing.assert_array_equal(images, sample[0])
    np.testing.assert_array_equal(labels, sample[1])
    other, _ = glyph_digits(N, seed=1, value_range=(0.0, 1.0))
    test, _ = glyph_digits(N, seed=0, split="test", value_range=(0.0, 1.0))
    assert not np.array_equal(other, images) and not np.array_equal(test, images)


def test_chunk_size_does_not_change_the_result(sample):
    images, _ = glyph_digits(N, seed=0, value_range=(0.0, 1.0), chunk_size=37)
    np.testing.assert_allclose(images, sample[0], atol=1e-6)


def test_mnist_like_normalisation(sample):
    images = sample[0][:, 0]
    rows, cols = centre_of_mass(images)
    # MNIST centres the centre of mass on pixel (14, 14).
    assert abs(rows.mean() - 14.0) < 0.3 and abs(cols.mean() - 14.0) < 0.3
    assert np.abs(rows - 14).max() < 2.0 and np.abs(cols - 14).max() < 2.0
    # ... and scales each digit's ink to a 20x20 box: the longer side of the box of
    # clearly-inked pixels is about 20 (19.98 +- 0.18 on MNIST itself).
    ink = images > 0.5
    height = 28 - ink.any(axis=2)[:, ::-1].argmax(axis=1) - ink.any(axis=2).argmax(axis=1)
    width = 28 - ink.any(axis=1)[:, ::-1].argmax(axis=1) - ink.any(axis=1).argmax(axis=1)
    side = np.maximum(height, width)
    assert 18.5 < side.mean() < 21.0 and side.min() >= 16 and side.max() <= 24
    # Ink coverage similar to MNIST's (13% of pixels above 0.5).
    assert 0.08 < ink.mean() < 0.2


def test_labels_match_the_pictures(sample):
    # Nearest class mean, fitted on another seed, recognises most digits: the labels
    # belong to the images (a label/image mix-up would give ~10%).
    images, labels = sample
    fit_x, fit_y = glyph_digits(2000, seed=5, value_range=(0.0, 1.0))
    means = np.stack([fit_x[fit_y == d].reshape(-1, 784).mean(axis=0) for d in range(10)])  # (10, 784)
    dist = ((images.reshape(N, 1, 784) - means[None]) ** 2).sum(axis=2)  # (N, 10)
    assert (dist.argmin(axis=1) == labels).mean() > 0.8


def test_no_distortion_gives_clean_upright_glyphs():
    a, la = glyph_digits(50, seed=3, distortion=0.0, value_range=(0.0, 1.0))
    b, lb = glyph_digits(50, seed=3, distortion=1.0, value_range=(0.0, 1.0))
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, b)


def test_sdf_of_a_square_matches_the_formula():
    # Square of side 1 centred at 0: inside, -(distance to the nearest side);
    # outside, the distance to the box. Computed by hand, not by the code under test.
    square = [np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])]
    sdf, outline, centroid, stroke = glyphs._make_master(square)
    axis = np.linspace(-glyphs.EXTENT, glyphs.EXTENT, glyphs.GRID)
    x, y = np.meshgrid(axis, axis)
    qx, qy = np.abs(x) - 0.5, np.abs(y) - 0.5
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    inside = np.minimum(np.maximum(qx, qy), 0)
    np.testing.assert_allclose(sdf, outside + inside, atol=1e-9)
    np.testing.assert_allclose(centroid, [0, 0], atol=1e-9)
    # 2 * area / perimeter = 2 * 1 / 4 (area counted on the grid, hence the tolerance)
    assert stroke == pytest.approx(0.5, rel=0.05)


def test_masters_keep_the_holes():
    # Even-odd filling: walking along the middle row of a "0" crosses the ring twice,
    # out-in-out(hole)-in-out, so the SDF changes sign at least 4 times in every font
    # (more for the dotted zero of DejaVu Sans Mono). A filled blob would give 2.
    m = glyphs.glyph_masters()
    zeros = m.sdf[0::10]  # master index = font * 10 + digit
    middle_row = np.sign(zeros[:, glyphs.GRID // 2, :])  # (fonts, GRID)
    changes = (middle_row[:, 1:] != middle_row[:, :-1]).sum(axis=1)
    assert (changes >= 4).all(), changes
    assert m.sdf.shape == (10 * m.n_fonts, glyphs.GRID, glyphs.GRID)
    assert m.n_fonts >= 3  # several families and weights
    assert ((m.stroke > 0.02) & (m.stroke < 0.4)).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        glyph_digits(10, split="valid")
    with pytest.raises(ValueError):
        glyph_digits(-1)
    images, labels = glyph_digits(0)
    assert images.shape == (0, 1, 28, 28) and labels.shape == (0,)


@pytest.mark.slow
def test_full_size_training_set():
    images, labels = glyph_digits(60000, seed=0)
    assert images.shape == (60000, 1, 28, 28) and images.dtype == np.float32
    counts = np.bincount(labels, minlength=10)
    assert counts.min() > 5500 and counts.max() < 6500
