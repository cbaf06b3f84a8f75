"""Plots: image grids (pixel-exact), GIFs, latent interpolation, training curves."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import minigan
from minigan import backend as B
from minigan.viz import curves, images

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as im:
        im.verify()  # checks the PNG chunks' CRCs
    with Image.open(path) as im:
        return np.asarray(im)


# ----------------------------------------------------------------------------
# Grids
# ----------------------------------------------------------------------------
def test_make_grid_places_each_image():
    # 5 images of 2x3 pixels, image i filled with i/4 in [0, 1]; 3 per row, padding 1.
    x = np.stack([np.full((1, 2, 3), i / 4) for i in range(5)])
    grid = images.make_grid(x, nrow=3, padding=1, value_range=(0, 1), pad_value=0.5)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
    for i in range(5):
        r, c = divmod(i, 3)
        tile = grid[1 + r * 3 : 1 + r * 3 + 2, 1 + c * 4 : 1 + c * 4 + 3, 0]
        np.testing.assert_array_equal(tile, i / 4)
    assert grid[0, 0, 0] == 0.5 and grid[:, 0, 0].tolist() == [0.5] * 7  # padding
    np.testing.assert_array_equal(grid[4:6, 9:12, 0], 0.5)  # the empty sixth cell


def test_make_grid_value_range_and_clipping():
    x = np.array([[[[-1.0, 0.0, 1.0, 3.0]]]])  # (1, 1, 1, 4)
    grid = images.make_grid(x, padding=0, value_range=(-1, 1))
    np.testing.assert_allclose(grid[0, :, 0], [0.0, 0.5, 1.0, 1.0])
    auto = images.make_grid(x, padding=0, value_range=None)  # batch min/max
    np.testing.assert_allclose(auto[0, :, 0], [0.0, 0.25, 0.5, 1.0])


def test_save_image_grid_pixels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(6, 1, 5, 4)).astype(np.float32)
    path = images.save_image_grid(B.asarray(x), tmp_path / "sub" / "grid.png", nrow=3, scale=2)
    assert path == tmp_path / "sub" / "grid.png"
    pixels = read_png(path)
    assert pixels.dtype == np.uint8 and pixels.ndim == 2  # greyscale PNG
    assert pixels.shape == (2 * (10 + 4) + 4, 3 * (8 + 4) + 4)
    # Image 4 (row 1, column 1), pixel (2, 3) is the 2x2 block at these coordinates.
    expected = round((x[4, 0, 2, 3] + 1) / 2 * 255)
    top, left = 4 + 1 * 14 + 2 * 2, 4 + 1 * 12 + 3 * 2
    np.testing.assert_array_equal(pixels[top : top + 2, left : left + 2], expected)
    assert pixels[0, 0] == round(0.5 * 255)


def test_save_image_grid_rgb_and_tensor_input(tmp_path):
    x = np.zeros((2, 3, 4, 4), dtype=np.float32)
    x[:, 0] = 1.0  # red in [0, 1]
    path = images.save_image_grid(minigan.Tensor(B.asarray(x)), tmp_path / "rgb.png", value_range=(0, 1), padding=0)
    pixels = read_png(path)
    assert pixels.shape == (4, 8, 3)
    assert (pixels[..., 0] == 255).all() and (pixels[..., 1:] == 0).all()


def test_bad_image_shapes():
    with pytest.raises(ValueError, match="channels"):
        images.make_grid(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="shape"):
        images.make_grid(np.zeros((1, 1, 1, 4, 4)))


# ----------------------------------------------------------------------------
# GIF
# ----------------------------------------------------------------------------
def test_save_gif_from_batches_and_pngs(tmp_path):
    frames = [np.full((4, 1, 6, 6), v, dtype=np.float32) for v in (-1.0, 0.0, 1.0)]
    path = images.save_gif(frames, tmp_path / "p.gif", fps=5, captions=["a", "b", "c"])
    assert path.read_bytes()[:6] == b"GIF89a"
    with Image.open(path) as im:
        assert im.n_frames == 3
        assert im.info["duration"] == 200
        im.seek(2)
        last = np.asarray(im.convert("L"))
    # The bottom-right pixel of the last frame's last image is white (value +1).
    assert last[-3, -3] == 255

    pngs = [images.save_image_grid(f, tmp_path / f"s{i}.png") for i, f in enumerate(frames)]
    path2 = images.save_gif(pngs, tmp_path / "from_png.gif")
    with Image.open(path2) as im:
        assert im.n_frames == 3


def _primaries(value_range=(-1.0, 1.0)):
    """Three 4x4 RGB images, pure red, green and blue, as (3, 3, 4, 4) in ``value_range``."""
    low, high = value_range
    x = np.full((3, 3, 4, 4), low, dtype=np.float32)
    for i in range(3):
        x[i, i] = high  # image i lights channel i only
    return x


def test_save_gif_keeps_colour_from_batches_and_pngs(tmp_path):
    """RGB batches (and RGB PNGs) become colour GIF frames: red stays red, not a grey level."""
    frames = [_primaries(), _primaries()[::-1]]
    path = images.save_gif(frames, tmp_path / "rgb.gif", captions=["a", "b"], nrow=3, scale=2)
    pngs = [images.save_image_grid(f, tmp_path / f"f{i}.png", nrow=3, scale=2) for i, f in enumerate(frames)]
    from_pngs = images.save_gif(pngs, tmp_path / "from_png.gif", captions=["a", "b"])
    strip, padding, cell = 14, 4, 8 + 4  # caption strip; padding and image size at scale 2
    for gif in (path, from_pngs):
        with Image.open(gif) as im:
            assert im.n_frames == 2
            for index, order in enumerate(([0, 1, 2], [2, 1, 0])):
                im.seek(index)
                rgb = np.asarray(im.convert("RGB"), dtype=int)
                for column, channel in enumerate(order):
                    pixel = rgb[strip + padding + 3, padding + column * cell + 3]
                    expected = np.zeros(3, dtype=int)
                    expected[channel] = 255
                    np.testing.assert_array_equal(pixel, expected, err_msg=f"{gif.name} frame {index}")


def test_save_interpolation_draws_colour(tmp_path):
    """A colour generator's interpolation is an RGB PNG; its value range is respected."""

    def generator(z):
        # Red that grows with z[0], green and blue off: (n, 3, 2, 2) in [0, 1].
        red = minigan.functions.sigmoid(z[:, 0:1]).reshape(z.shape[0], 1, 1, 1)
        mask = np.zeros((1, 3, 2, 2), dtype=np.float32)
        mask[:, 0] = 1.0
        return red * minigan.Tensor(B.asarray(mask))

    path = images.save_interpolation(
        generator, np.array([-3.0, 0.0]), np.array([3.0, 0.0]), tmp_path / "i.png", steps=3, mode="linear",
        value_range=(0.0, 1.0), scale=1,
    )  # fmt: skip
    pixels = read_png(path)
    assert pixels.shape == (1 * 4 + 2, 3 * 4 + 2, 3)  # one row of three 2x2 RGB tiles, padding 2
    reds = pixels[2, [2, 6, 10], 0].astype(int)
    expected = np.round(255 / (1 + np.exp(-np.array([-3.0, 0.0, 3.0]))))
    np.testing.assert_allclose(reds, expected, atol=1)
    assert (pixels[2, [2, 6, 10], 1:] == 0).all()


def test_make_grid_rgb_layout():
    """(N, 3, H, W) -> (rows, cols, 3) with each image's channels kept apart."""
    grid = images.make_grid(_primaries((0.0, 1.0)), nrow=3, padding=1, value_range=(0.0, 1.0))
    assert grid.shape == (1 * 5 + 1, 3 * 5 + 1, 3)
    for i in range(3):
        np.testing.assert_array_equal(grid[1, 1 + 5 * i], np.eye(3)[i])


def test_save_gif_errors(tmp_path):
    with pytest.raises(ValueError):
        images.save_gif([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="captions"):
        images.save_gif([np.zeros((1, 1, 2, 2))], tmp_path / "x.gif", captions=["a", "b"])


# ----------------------------------------------------------------------------
# Latent interpolation
# ----------------------------------------------------------------------------
def test_linear_interpolation():
    z = images.interpolate_latents(np.array([0.0, 2.0]), np.array([4.0, -2.0]), steps=5)
    assert z.shape == (1, 5, 2)
    np.testing.assert_allclose(z[0, :, 0], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(z[0, :, 1], [2, 1, 0, -1, -2])


def test_slerp_stays_on_the_arc():
    a, b = np.array([[3.0, 0.0]]), np.array([[0.0, 5.0]])  # a quarter circle, norms 3 -> 5
    z = images.interpolate_latents(a, b, steps=7, mode="slerp")[0]
    np.testing.assert_allclose(z[0], a[0], atol=1e-12)
    np.testing.assert_allclose(z[-1], b[0], atol=1e-12)
    angles = np.arctan2(z[:, 1], z[:, 0])
    np.testing.assert_allclose(angles, np.linspace(0, np.pi / 2, 7), atol=1e-12)  # equal angle steps
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linspace(3, 5, 7), atol=1e-12)
    # Parallel vectors: no division by zero.
    same = images.interpolate_latents(np.ones(3), 2 * np.ones(3), steps=3, mode="slerp")
    assert np.isfinite(same).all()
    np.testing.assert_allclose(same[0, 1], 1.5 * np.ones(3))


def test_save_interpolation_calls_the_generator(tmp_path):
    calls = []

    def generator(z):
        # An image that shows its own latent: every pixel = tanh(z[0]).
        calls.append(z.shape)
        assert isinstance(z, minigan.Tensor) and not minigan.is_grad_enabled()
        v = minigan.functions.tanh(z[:, 0:1])  # (n, 1)
        return v.reshape(z.shape[0], 1, 1, 1) + minigan.Tensor(B.asarray(np.zeros((1, 1, 3, 3))))

    z0, z1 = np.array([[-2.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 0.0], [1.0, 1.0]])
    path = images.save_interpolation(generator, z0, z1, tmp_path / "interp.png", steps=4, mode="linear", scale=1)
    assert calls == [(8, 2)]
    pixels = read_png(path)
    assert pixels.shape == (2 * 5 + 2, 4 * 5 + 2)  # R=2 rows of 4 tiles, 3x3 images, padding 2
    expected = np.round((np.tanh(np.linspace(-2, 2, 4)) + 1) / 2 * 255)
    np.testing.assert_allclose(pixels[3, [3, 8, 13, 18]], expected, atol=1)


def test_interpolation_argument_checks():
    with pytest.raises(ValueError):
        images.interpolate_latents(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        images.interpolate_latents(np.zeros(3), np.ones(3), steps=1)
    with pytest.raises(ValueError, match="mode"):
        images.interpolate_latents(np.zeros(3), np.ones(3), mode="cubic")


# ----------------------------------------------------------------------------
# Curves
# ----------------------------------------------------------------------------
@pytest.fixture
def history():
    rng = np.random.default_rng(0)
    n = 120
    return {
        "step": list(range(0, 10 * n, 10)),
        "d_loss": (1.3 + 0.1 * rng.standard_normal(n)).tolist(),
        "g_loss": (0.8 + 0.1 * rng.standard_normal(n)).tolist(),
        "d_real": rng.uniform(0.4, 0.8, n).tolist(),
        "d_fake": rng.uniform(0.2, 0.6, n).tolist(),
        "d_grad_norm": np.exp(rng.standard_normal(n)).tolist(),
        "g_grad_norm": np.exp(rng.standard_normal(n)).tolist(),
    }


@pytest.mark.parametrize("fn", [curves.plot_losses, curves.plot_d_outputs, curves.plot_grad_norms])
def test_curve_plots_write_pngs(tmp_path, history, fn):
    path = fn(history, tmp_path / "plots" / "c.png")
    pixels = read_png(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0  # something was drawn


def test_d_outputs_draws_the_half_line(tmp_path, history):
    # The same data with and without the 0.5 line differ in the image.
    with_line = read_png(curves.plot_d_outputs(history, tmp_path / "a.png"))
    without = read_png(curves.plot_d_outputs(history, tmp_path / "b.png", hline=None))
    assert with_line.shape != without.shape or (with_line != without).any()


def test_plot_history_skips_missing_series(tmp_path, history):
    wgan = {k: history[k] for k in ("step", "d_loss", "g_loss", "d_grad_norm")}
    written = curves.plot_history(wgan, tmp_path)
    assert set(written) == {"losses", "grad_norms"}
    for path in written.values():
        read_png(path)
    with pytest.raises(ValueError, match="none of the keys"):
        curves.plot_d_outputs(wgan, tmp_path / "x.png")


def test_curves_without_step_and_with_zero_norms(tmp_path):
    path = curves.plot_grad_norms({"d_grad_norm": [0.0, 1.0, 2.0]}, tmp_path / "g.png")  # no log axis for 0
    read_png(path)


def test_smooth_is_a_trailing_mean():
    out = curves.smooth([1.0, 2.0, 3.0, float("nan"), 5.0], window=2)
    np.testing.assert_allclose(out, [1.0, 1.5, 2.5, 3.0, 5.0])


# ----------------------------------------------------------------------------
# Headless and lazy
# ----------------------------------------------------------------------------
def test_import_is_lazy_and_plots_are_headless(tmp_path):
    code = f"""
import sys
import minigan, minigan.viz
assert 'matplotlib' not in sys.modules, 'import minigan.viz imported matplotlib'
from minigan.viz import plot_losses
plot_losses({{'d_loss': [1.0, 0.5], 'g_loss': [0.5, 1.0]}}, {str(tmp_path / "l.png")!r})
assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'
"""
    env = {"MPLBACKEND": "", "DISPLAY": ""}  # no display, no backend preference
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **env})
    read_png(tmp_path / "l.png")
