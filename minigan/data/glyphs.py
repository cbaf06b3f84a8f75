"""Glyph digits: an MNIST-like data set drawn from fonts, needing no download.

MNIST has to come from the internet once. So that the first command in the
README works on any machine (offline, behind a firewall, in CI), minigan can
*make* a digit data set instead: it renders 0-9 from the fonts that matplotlib
ships (DejaVu Sans/Serif/Mono, STIX, Computer Modern; regular, bold, italic)
and gives every sample its own random "handwriting":

- an affine warp: rotation, slant (shear), width change;
- a stroke width, chosen per sample (thin pen, thick marker);
- an elastic distortion: a smooth random displacement field, as in
  Simard et al. (2003), "Best practices for convolutional neural networks".

Then, like MNIST, each digit is scaled so that its ink fits a 20x20 box and is
placed so that its centre of mass is at pixel (14, 14) of the 28x28 image.

How it is fast enough (60,000 images in a few seconds, no per-pixel Python):

1. **Masters, once.** Each (font, digit) glyph outline is turned into a
   *signed distance field* (SDF) on a 64x64 grid: the distance from each grid
   point to the outline, negative inside the glyph. ~200 masters.
2. **Samples, vectorised.** For a chunk of samples at once, every output pixel
   is mapped back into its master's coordinates (inverse affine map plus the
   elastic field), the SDF is read there by bilinear interpolation, and ink is
   ``clip(0.5 - (sdf - t) * k / softness, 0, 1)``. Subtracting ``t`` from a
   distance field *is* dilation (t > 0) or erosion (t < 0) of the stroke, so
   stroke width costs nothing extra; the ramp of width ``softness`` pixels is
   the anti-aliased edge.

Output format is the MNIST loader's: float32 images ``(N, 1, 28, 28)`` scaled
to ``value_range`` (default [-1, 1]) and int64 labels ``(N,)``, on the host.

Read next: ``minigan/data/loader.py`` (``load_dataset`` and minibatches).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan.backend import host_np as np

__all__ = ["FONT_FILES", "GlyphMasters", "glyph_digits", "glyph_masters"]

#: Fonts bundled with matplotlib that have plain lining digits, by file name in
#: ``matplotlib/mpl-data/fonts/ttf``. (cmmi10 is left out: its digits are
#: old-style, with descenders, unlike handwritten digits.)
FONT_FILES: tuple[str, ...] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)

IMAGE_SIZE = 28  # output images are IMAGE_SIZE x IMAGE_SIZE, like MNIST
BOX = 19.5  # MNIST fits each digit's ink into a 20x20 box (we fit the half-ink contour, a bit less) ...
CENTRE = 14.0  # ... and puts the centre of mass at pixel (14, 14) (0-based row, column)

GRID = 64  # SDF resolution of a master
EXTENT = 0.75  # the SDF grid covers [-EXTENT, EXTENT]^2; glyphs are scaled into [-0.5, 0.5]^2


@dataclass(frozen=True)
class GlyphMasters:
    """Precomputed glyphs, one per (font, digit), stored digit-major: ``m = font * 10 + digit``.

    Coordinates are "glyph units": x to the right, y *down* (like image rows),
    the glyph's bounding box scaled so that its longer side is 1 and centred at 0.

    Attributes:
        sdf: ``(M, GRID, GRID)`` float32 signed distance to the outline in glyph
            units (negative inside), sampled at ``linspace(-EXTENT, EXTENT, GRID)``
            along rows (y) and columns (x).
        outline: ``(M, P, 2)`` outline vertices (x, y), padded by repetition to a
            common length P; used to find each warped glyph's bounding box.
        centroid: ``(M, 2)`` centre of the glyph's area (x, y).
        stroke: ``(M,)`` typical stroke width in glyph units, ``2 * area / perimeter``
            (exact for a long stroke of constant width).
        fonts: the font files used, in order.
    """

    sdf: Any
    outline: Any
    centroid: Any
    stroke: Any
    fonts: tuple[str, ...]

    @property
    def n_fonts(self) -> int:
        return len(self.fonts)


def _font_dir() -> Path:
    import matplotlib  # lazy: `import minigan` must not import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _glyph_polygons(font_file: Path, char: str) -> list[Any]:
    """Closed outline polygons of one character, in font units with y up."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0.0, 0.0), char, size=1.0, prop=FontProperties(fname=str(font_file)))
    # Curves are flattened into straight segments; a few hundred vertices per glyph.
    return [np.asarray(p, dtype=np.float64) for p in path.to_polygons(closed_only=True) if len(p) >= 3]


def _inside(polygons: list[Any], points: Any) -> Any:
    """Even-odd point-in-glyph test: inside an odd number of contours.

    (matplotlib's ``Path.contains_points`` on the whole glyph fills the holes of
    0, 4, 6, 8, 9; testing each contour separately and XOR-ing keeps them.)
    """
    from matplotlib.path import Path as MplPath

    inside = np.zeros(len(points), dtype=bool)
    for poly in polygons:
        inside ^= MplPath(poly).contains_points(points)
    return inside


def _distance_to_segments(points: Any, a: Any, b: Any) -> Any:
    """Distance from each point ``(Q, 2)`` to the nearest segment ``a[s] -> b[s]`` (``(S, 2)`` each).

    x and y are handled as separate ``(q, S)`` arrays: reductions over a trailing
    axis of length 2 are slow in NumPy.
    """
    ax, ay = a[:, 0], a[:, 1]
    abx, aby = b[:, 0] - ax, b[:, 1] - ay  # (S,) segment directions
    length2 = np.maximum(abx * abx + aby * aby, 1e-12)
    best = np.empty(len(points))
    for start in range(0, len(points), 1024):  # chunks keep the (q, S) temporaries small
        apx = points[start : start + 1024, 0, None] - ax  # (q, S)
        apy = points[start : start + 1024, 1, None] - ay
        t = np.clip((apx * abx + apy * aby) / length2, 0.0, 1.0)  # projection onto each segment
        dx, dy = apx - t * abx, apy - t * aby  # from the nearest point of each segment
        best[start : start + 1024] = np.sqrt((dx * dx + dy * dy).min(axis=1))
    return best


def _make_master(polygons: list[Any]) -> tuple[Any, Any, Any, float]:
    """SDF grid, outline, centroid and stroke width of one glyph (see :class:`GlyphMasters`)."""
    pts = np.concatenate(polygons)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, scale = (lo + hi) / 2, 1.0 / float((hi - lo).max())
    # Font units (y up) -> glyph units (y down, longer side 1, centred).
    polys = [(p - centre) * scale * np.array([1.0, -1.0]) for p in polygons]

    axis = np.linspace(-EXTENT, EXTENT, GRID)
    gx, gy = np.meshgrid(axis, axis)  # (GRID, GRID) each; rows are y, columns are x
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (GRID*GRID, 2)
    a = np.concatenate(polys)  # segment starts (S, 2)
    b = np.concatenate([np.roll(p, -1, axis=0) for p in polys])  # segment ends (S, 2)
    inside = _inside(polys, grid)
    dist = _distance_to_segments(grid, a, b)
    sdf = np.where(inside, -dist, dist).reshape(GRID, GRID)  # (GRID*GRID,) -> (GRID, GRID)

    cell = (axis[1] - axis[0]) ** 2
    area = inside.sum() * cell
    perimeter = np.sqrt(((b - a) ** 2).sum(axis=1)).sum()
    centroid = grid[inside].mean(axis=0)
    return sdf, np.concatenate(polys), centroid, float(2.0 * area / perimeter)


@functools.lru_cache(maxsize=2)
def glyph_masters(fonts: tuple[str, ...] = FONT_FILES) -> GlyphMasters:
    """Render every (font, digit) master once (about a second; cached for the process).

    Fonts missing from this matplotlib install are skipped; at least one is needed.
    """
    font_dir = _font_dir()
    available = tuple(f for f in fonts if (font_dir / f).is_file())
    if not available:
        raise FileNotFoundError(f"none of the fonts {fonts} is in {font_dir}; is matplotlib installed correctly?")
    sdfs, outlines, centroids, strokes = [], [], [], []
    for font in available:
        for digit in range(10):
            sdf, outline, centroid, stroke = _make_master(_glyph_polygons(font_dir / font, str(digit)))
            sdfs.append(sdf)
            outlines.append(outline)
            centroids.append(centroid)
            strokes.append(stroke)
    # Pad every outline to the same number of vertices by repeating its first one
    # (repeats do not change a bounding box), so they stack into one array.
    n_points = max(len(o) for o in outlines)
    outline = np.stack([np.concatenate([o, np.repeat(o[:1], n_points - len(o), axis=0)]) for o in outlines])
    return GlyphMasters(
        sdf=np.stack(sdfs).astype(np.float32),  # (M, GRID, GRID)
        outline=outline,  # (M, P, 2)
        centroid=np.stack(centroids),  # (M, 2)
        stroke=np.asarray(strokes),  # (M,)
        fonts=available,
    )


# ----------------------------------------------------------------------------
# Random "handwriting" per sample
# ----------------------------------------------------------------------------
ELASTIC_KNOTS = 4  # the elastic field is a smooth mix of 4x4 random displacement vectors


def _elastic_basis() -> Any:
    """``(28, K)`` weights spreading K knot values smoothly over 28 pixels (Gaussian bumps)."""
    pix = np.arange(IMAGE_SIZE, dtype=np.float64)
    knots = np.linspace(0.0, IMAGE_SIZE - 1.0, ELASTIC_KNOTS)
    width = (IMAGE_SIZE - 1.0) / (ELASTIC_KNOTS - 1)
    w = np.exp(-0.5 * ((pix[:, None] - knots[None, :]) / (0.6 * width)) ** 2)  # (28, K)
    return w / w.sum(axis=1, keepdims=True)


@dataclass
class _Params:
    """Per-sample random choices (all arrays of length N); drawn up front so that
    the result does not depend on the chunk size used for rendering."""

    master: Any  # (N,) int index into the masters
    linear: Any  # (N, 2, 2) glyph units -> pixels, before the 20x20 fit
    stroke_px: Any  # (N,) target stroke width in pixels
    softness: Any  # (N,) anti-aliasing ramp width in pixels
    elastic: Any  # (N, 2, K, K) knot displacements in pixels (x, y)


def _draw_params(rng: Any, labels: Any, n_fonts: int, distortion: float) -> _Params:
    n = len(labels)
    font = rng.integers(0, n_fonts, size=n)
    angle = np.deg2rad(rng.normal(0.0, 7.0, size=n).clip(-18, 18) * distortion)
    shear = rng.normal(0.0, 0.18, size=n).clip(-0.45, 0.45) * distortion  # slant: x += shear * y
    aspect = np.exp(rng.normal(0.0, 0.12, size=n).clip(-0.3, 0.3) * distortion)  # width / height
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (N, 2, 2)
    shr = np.zeros((n, 2, 2))
    shr[:, 0, 0] = aspect
    shr[:, 0, 1] = shear
    shr[:, 1, 1] = 1.0
    return _Params(
        master=font * 10 + labels,
        linear=rot @ shr,  # (N, 2, 2): first stretch/slant, then rotate
        stroke_px=rng.uniform(1.3, 3.6, size=n),
        softness=rng.uniform(0.6, 1.2, size=n),
        elastic=rng.normal(0.0, 0.9 * distortion, size=(n, 2, ELASTIC_KNOTS, ELASTIC_KNOTS)),
    )


def _fit_to_box(m: GlyphMasters, p: _Params) -> tuple[Any, Any, Any]:
    """MNIST's normalisation, done analytically before drawing.

    Returns the full forward map ``pixel = A @ glyph + offset`` (A: (N, 2, 2),
    offset: (N, 2)) and the stroke offset ``t`` (glyph units) per sample, such that
    the ink's bounding box has longer side BOX pixels and its centre of mass
    lands on (CENTRE, CENTRE).

    With ``k`` pixels per glyph unit, the outline's box (w, h) after the linear map
    and a stroke grown by ``t`` on each side, the ink box is ``k * (max(w, h) + 2t)``
    and the stroke ``k * (stroke + 2t)``; asking for ``BOX`` and ``stroke_px``
    gives ``k = (BOX - stroke_px) / (max(w, h) - stroke)``.
    """
    # (N, P, 2) @ (N, 2, 2) -> (N, P, 2): every outline vertex v becomes linear @ v.
    outline = m.outline[p.master] @ p.linear.transpose(0, 2, 1)
    size = (outline.max(axis=1) - outline.min(axis=1)).max(axis=1)  # (N,) longer side, glyph units
    stroke = m.stroke[p.master]
    k = (BOX - p.stroke_px) / np.maximum(size - stroke, 0.2)
    t = (p.stroke_px / k - stroke) / 2
    # `stroke` is an average: serif fonts mix thick stems with thin hairlines, and
    # eroding by more than a little would break the hairlines (a "0" becomes "()").
    t = np.maximum(t, -0.15 * stroke)
    k = BOX / (size + 2 * t)
    A = k[:, None, None] * p.linear  # (N, 2, 2)
    # The centre of area moves with the affine map, so place the mapped centroid at CENTRE.
    offset = CENTRE - (A @ m.centroid[p.master][:, :, None])[:, :, 0]  # (N, 2, 2) @ (N, 2, 1) -> (N, 2)
    return A, offset, t


def _render(m: GlyphMasters, p: _Params, A: Any, offset: Any, t: Any) -> Any:
    """Draw the samples of one chunk: ``(n, 28, 28)`` float32 ink in [0, 1]."""
    f32 = np.float32  # the per-pixel work is done in float32: half the memory traffic of float64

    def col(v: Any) -> Any:  # (n,) -> (n, 1, 1) float32, to broadcast against (n, 28, 28)
        return v.astype(f32)[:, None, None]

    # Output pixel coordinates (x = column, y = row), shifted by the elastic field:
    # the K x K knot displacements spread smoothly over the image, basis @ knots @ basis.T.
    basis = _elastic_basis().astype(f32)  # (28, K)
    field = basis @ p.elastic.astype(f32) @ basis.T  # (28, K) @ (n, 2, K, K) @ (K, 28) -> (n, 2, 28, 28)
    pix = np.arange(IMAGE_SIZE, dtype=f32)
    px = pix[None, None, :] + field[:, 0] - col(offset[:, 0])  # (n, 28, 28), x varies along columns
    py = pix[None, :, None] + field[:, 1] - col(offset[:, 1])  # y varies along rows
    # Inverse affine map: pixel -> glyph units.
    inv = np.linalg.inv(A)  # (n, 2, 2)
    gx = col(inv[:, 0, 0]) * px + col(inv[:, 0, 1]) * py
    gy = col(inv[:, 1, 0]) * px + col(inv[:, 1, 1]) * py

    # Bilinear read of the SDF at (gx, gy); outside the grid the clamped border
    # value is positive (outside the glyph), which is what we want.
    scale = (GRID - 1) / (2 * EXTENT)
    fx = np.clip((gx + EXTENT) * scale, 0.0, GRID - 1.001)
    fy = np.clip((gy + EXTENT) * scale, 0.0, GRID - 1.001)
    ix, iy = fx.astype(np.int32), fy.astype(np.int32)  # floor, as the values are >= 0
    wx, wy = fx - ix, fy - iy  # bilinear weights
    flat = m.sdf.reshape(-1)  # (M, GRID, GRID) -> (M*GRID*GRID,)
    base = (p.master.astype(np.int32) * (GRID * GRID))[:, None, None] + iy * GRID + ix  # (n, 28, 28)
    top = flat[base] + (flat[base + 1] - flat[base]) * wx  # interpolate along x on the upper row ...
    bottom = flat[base + GRID] + (flat[base + GRID + 1] - flat[base + GRID]) * wx  # ... and the lower row
    sdf = top + (bottom - top) * wy  # ... then along y

    # Signed distance to the grown stroke in pixels (k = pixels per glyph unit),
    # turned into ink with a linear ramp `softness` pixels wide centred on the edge.
    k = np.sqrt(np.abs(np.linalg.det(A)))
    ink = (sdf - col(t)) * col(-k / p.softness)
    ink += 0.5
    return np.clip(ink, 0.0, 1.0, out=ink)


def glyph_digits(
    n: int = 60000,
    seed: int = 0,
    *,
    split: str = "train",
    value_range: tuple[float, float] = (-1.0, 1.0),
    distortion: float = 1.0,
    chunk_size: int = 4096,
) -> tuple[Any, Any]:
    """Generate ``n`` labelled 28x28 digit images from fonts (no download needed).

    Args:
        n: number of images (MNIST has 60,000 train / 10,000 test).
        seed: the same (seed, split, n) always gives the same images, on any machine
            with the same matplotlib fonts.
        split: ``"train"`` or ``"test"``: independent random streams for the same seed.
        value_range: pixel range of the output, (-1, 1) for tanh generators or (0, 1).
        distortion: scales all random warps; 0 gives clean, upright glyphs.
        chunk_size: samples rendered per vectorised step (memory vs. speed).

    Returns:
        images: float32 ``(n, 1, 28, 28)`` in ``value_range``, background at the low end.
        labels: int64 ``(n,)`` digits 0-9.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    lo, hi = (float(v) for v in value_range)
    masters = glyph_masters()
    # One independent stream per (seed, split): SeedSequence mixes both numbers.
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    params = _draw_params(rng, labels, masters.n_fonts, distortion)
    A, offset, t = _fit_to_box(masters, params)

    images = np.empty((n, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for start in range(0, n, chunk_size):
        sl = slice(start, start + chunk_size)
        chunk = _Params(
            master=params.master[sl],
            linear=params.linear[sl],
            stroke_px=params.stroke_px[sl],
            softness=params.softness[sl],
            elastic=params.elastic[sl],
        )
        images[sl, 0] = _render(masters, chunk, A[sl], offset[sl], t[sl])
    # ink in [0, 1] -> value_range; Python floats keep the array float32.
    images *= hi - lo
    images += lo
    return images, labels
