"""Plots: everything minigan draws, saved as PNG (or GIF) files.

Submodules (imported on first use; matplotlib is imported only when a plot is
actually drawn, so ``import minigan.viz`` costs nothing):

- :mod:`minigan.viz.images` - image grids, a GIF of samples over training,
  latent-space interpolation;
- :mod:`minigan.viz.curves` - loss curves, D(x) / D(G(z)) with the 0.5 line,
  gradient norms;
- :mod:`minigan.viz.toy` - 1-D densities and 2-D scatter plots of the toy mixtures.

All drawing goes through matplotlib's Agg renderer without ``pyplot``: it works
on machines without a display and leaves a notebook's matplotlib settings alone.
Every function saves its file and returns the path.

Read next: ``minigan/viz/images.py``.
"""

from __future__ import annotations

from minigan.lazy import lazy_module

_SUBMODULES = ("images", "curves", "toy")

# name -> submodule that defines it (looked up lazily by __getattr__ below)
_EXPORTS = {
    "make_grid": "images",
    "save_image_grid": "images",
    "save_gif": "images",
    "interpolate_latents": "images",
    "save_interpolation": "images",
    "plot_losses": "curves",
    "plot_d_outputs": "curves",
    "plot_grad_norms": "curves",
    "plot_history": "curves",
}

__all__ = [*_SUBMODULES, *_EXPORTS]


__getattr__, __dir__ = lazy_module(__name__, _SUBMODULES, _EXPORTS, globals())
