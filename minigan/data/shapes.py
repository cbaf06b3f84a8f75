"""A colour data set made on the spot: coloured shapes on coloured backgrounds.

:func:`colour_shapes` draws ``n`` RGB images, each a filled circle, square or triangle
(the class) of a random colour, size and position on a background of another colour, with a
little pixel noise. :func:`write_shape_folder` saves them as PNG files in one subfolder per
class, so that ``minigan train --dataset folder:PATH`` reads them exactly as it reads a user's
own pictures::

    from minigan.data.shapes import write_shape_folder
    write_shape_folder("data/shapes", n=600, size=32)        # data/shapes/circle/0000.png, ...

    minigan train --model dcgan --dataset folder:data/shapes --channels 3 --steps 2000

Everything is drawn with NumPy on the host from a seed, so the same call writes the same files.

Read next: ``minigan/data/sources.py`` (how such a folder is read).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minigan.backend import host_np as np

__all__ = ["PALETTE", "SHAPES", "colour_shapes", "write_shape_folder"]

SHAPES = ("circle", "square", "triangle")


#: Six well-separated colours for ``palette=``: red, green, blue, yellow, white, near-black.
PALETTE = ((220, 40, 40), (40, 180, 70), (40, 80, 220), (240, 210, 40), (235, 235, 235), (30, 30, 30))


def colour_shapes(
    n: int,
    size: int = 32,
    *,
    classes: int = 3,
    seed: int = 0,
    noise: float = 6.0,
    palette: Sequence[Sequence[float]] | None = None,
) -> tuple[Any, Any]:
    """``n`` RGB images of coloured shapes: uint8 ``(n, size, size, 3)`` and int64 labels ``(n,)``.

    Args:
        n: how many images.
        size: their height and width in pixels.
        classes: how many of :data:`SHAPES` to use (2: circles and squares); the labels cycle
            through them, so the classes are balanced.
        seed: the same seed draws the same images.
        noise: standard deviation of the pixel noise, in 0..255 units.
        palette: None (default): shape and background colours drawn from the whole RGB cube.
            A list of RGB colours (such as :data:`PALETTE`): both drawn from it, never the same
            one; a data set a small GAN learns in far fewer steps (a few colour pairs, not a
            continuum of them).
    """
    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"classes must be 1..{len(SHAPES)}, got {classes}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    colours = None if palette is None else np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    if colours is not None and (len(colours) < 2 or colours.min() < 0 or colours.max() > 255):
        raise ValueError(f"palette must hold at least two RGB colours in 0..255, got {palette!r}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % classes
    rows, cols = np.mgrid[0:size, 0:size] + 0.5  # pixel centres, (size, size) each
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        if colours is not None:
            first, second = rng.choice(len(colours), size=2, replace=False)  # two different entries
            background, colour = colours[first], colours[second]
        else:
            background = rng.uniform(0, 255, 3)
            colour = rng.uniform(0, 255, 3)
            while np.abs(colour - background).sum() < 200:  # keep the shape visible on its background
                colour = rng.uniform(0, 255, 3)
        radius = rng.uniform(0.2, 0.35) * size
        cy, cx = rng.uniform(radius, size - radius, 2)
        inside = _shape_mask(SHAPES[labels[i]], rows - cy, cols - cx, radius)
        picture = np.where(inside[..., None], colour, background)  # (H, W) mask -> (H, W, 3)
        picture = picture + rng.normal(0.0, noise, picture.shape)
        images[i] = np.clip(np.round(picture), 0, 255).astype(np.uint8)
    return images, labels


def _shape_mask(shape: str, dy: Any, dx: Any, r: float) -> Any:
    """Boolean (H, W): which pixels (offsets dy, dx from the centre) the shape covers."""
    if shape == "circle":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        half = r * 0.85
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    # An upward triangle: below the two slanted sides, above the base.
    return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)


def write_shape_folder(
    path: str | os.PathLike,
    n: int = 600,
    size: int = 32,
    *,
    classes: int = 3,
    seed: int = 0,
    palette: Sequence[Sequence[float]] | None = None,
) -> Path:
    """Write :func:`colour_shapes` as ``path/<shape>/<index>.png`` (RGB PNGs); returns ``path``."""
    from PIL import Image

    images, labels = colour_shapes(n, size, classes=classes, seed=seed, palette=palette)
    root = Path(path)
    for k in range(classes):
        (root / SHAPES[k]).mkdir(parents=True, exist_ok=True)
    for i, (picture, label) in enumerate(zip(images, labels)):
        Image.fromarray(picture, mode="RGB").save(root / SHAPES[label] / f"{i:05d}.png", format="PNG")
    return root
