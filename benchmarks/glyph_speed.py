"""How long do the built-in glyph digits take to generate?

Prints the time to render the font masters (once per process) and to generate
a data set of the given size (default 60,000, MNIST's training set), and
optionally saves a grid of the first 100 samples to look at.

Usage::

    python benchmarks/glyph_speed.py               # 60,000 images
    python benchmarks/glyph_speed.py -n 10000 --grid glyphs.png
"""

from __future__ import annotations

import argparse
import time

from minigan.data import glyphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60000, help="number of images (default 60000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--grid", default=None, help="save the first 100 samples as a PNG grid here")
    args = parser.parse_args()

    start = time.perf_counter()
    masters = glyphs.glyph_masters()
    t_masters = time.perf_counter() - start
    print(f"masters: {masters.sdf.shape[0]} glyphs from {masters.n_fonts} fonts in {t_masters:.2f} s")

    start = time.perf_counter()
    images, labels = glyphs.glyph_digits(args.n, seed=args.seed)
    t_gen = time.perf_counter() - start
    print(f"generated {len(labels)} images {images.shape} in {t_gen:.2f} s ({len(labels) / t_gen:,.0f} images/s)")
    print(f"total (masters + images): {t_masters + t_gen:.2f} s")

    if args.grid:
        from minigan.viz.images import save_image_grid

        print("grid:", save_image_grid(images[:100], args.grid, nrow=10, scale=2))


if __name__ == "__main__":
    main()
