"""Paired images for image-to-image GANs: an input made from each digit, the digit its target.

Three tasks, each a fixed function of the real images (so every input has its true answer):

- :func:`outlines`: the edges of each digit (the magnitude of a 3x3 Sobel filter, pix2pix's
  "edges to photo" at MNIST scale); translate outlines -> digits, or the reverse;
- :func:`downsample`: each digit averaged over ``factor`` x ``factor`` blocks (28x28 -> 7x7 at 4),
  and :func:`upsample_nearest` to bring it back to 28x28 as the generator's input (super-resolution);
- :func:`with_hole`: each digit with a square hole filled with ``fill`` (-1, the background), at
  the centre or at random places, and the hole's mask (inpainting).

Images are host arrays ``(N, C, H, W)`` in ``[-1, 1]`` (as :func:`minigan.data.load_dataset`
gives); the results are float32 in ``[-1, 1]`` too.

Read next: ``minigan/gan/translation.py`` (the trainer that learns these maps).
"""

from __future__ import annotations

from typing import Any

from minigan.backend import host_np as np

__all__ = ["downsample", "outlines", "upsample_nearest", "with_hole"]


def _images(x: Any) -> Any:
    x = np.asarray(x, dtype="float32")
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {x.shape}")
    return x


def outlines(images: Any) -> Any:
    """The edges of each image: the Sobel gradient magnitude of the ink, scaled to [-1, 1].

    Each image is first mapped to ink in [0, 1]; the 3x3 Sobel kernels give the horizontal and
    vertical differences (zero padding, so edges at the border count), and their magnitude,
    divided by its largest possible value (4 * sqrt(2)) and clipped, becomes the new ink.
    """
    x = (_images(images) + 1.0) / 2.0  # ink in [0, 1]
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = x.shape[2], x.shape[3]

    def at(i: int, j: int) -> Any:  # the padded image shifted by (i, j): pixel (r, c) reads (r + i, c + j)
        return p[:, :, i : i + h, j : j + w]

    gx = (at(0, 2) + 2 * at(1, 2) + at(2, 2)) - (at(0, 0) + 2 * at(1, 0) + at(2, 0))
    gy = (at(2, 0) + 2 * at(2, 1) + at(2, 2)) - (at(0, 0) + 2 * at(0, 1) + at(0, 2))
    mag = np.clip(np.sqrt(gx * gx + gy * gy) / (4.0 * np.sqrt(2.0)), 0.0, 1.0)
    return (mag * 2.0 - 1.0).astype("float32")


def downsample(images: Any, factor: int) -> Any:
    """Average over ``factor`` x ``factor`` blocks: (N, C, H, W) -> (N, C, H/factor, W/factor)."""
    x = _images(images)
    n, c, h, w = x.shape
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1 or h % factor or w % factor:
        raise ValueError(f"downsample factor must be a positive int dividing {h}x{w}, got {factor!r}")
    # (N, C, H, W) -> (N, C, H/f, f, W/f, f): each block's pixels on axes 3 and 5
    return x.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5)).astype("float32")


def upsample_nearest(images: Any, factor: int) -> Any:
    """Repeat each pixel ``factor`` x ``factor`` times: the blocky input a super-resolution G refines."""
    x = _images(images)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"upsample factor must be a positive int, got {factor!r}")
    return np.repeat(np.repeat(x, factor, axis=2), factor, axis=3)


def with_hole(images: Any, size: int, *, centre: bool = True, rng: Any = None, fill: float = -1.0) -> tuple[Any, Any]:
    """Each image with a ``size`` x ``size`` square set to ``fill``, and the hole's mask.

    ``centre=True``: the same central hole in every image (a context encoder's fixed region);
    else a hole at a random place per image, drawn from ``rng`` (a ``numpy.random.Generator`` or
    a seed). Returns (holed images, mask (N, 1, H, W) of booleans, true in the hole).
    """
    x = _images(images).copy()
    n, _, h, w = x.shape
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= min(h, w):
        raise ValueError(f"hole size must be an int from 1 to {min(h, w)}, got {size!r}")
    if centre:
        tops, lefts = np.full(n, (h - size) // 2), np.full(n, (w - size) // 2)
    else:
        gen = np.random.default_rng(rng)
        tops, lefts = gen.integers(0, h - size + 1, n), gen.integers(0, w - size + 1, n)
    mask = np.zeros((n, 1, h, w), dtype=bool)
    for i, (t, l) in enumerate(zip(tops, lefts)):
        mask[i, :, t : t + size, l : l + size] = True
    x[np.broadcast_to(mask, x.shape)] = fill
    return x, mask
