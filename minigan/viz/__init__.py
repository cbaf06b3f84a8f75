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

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    # PEP 562: called only for names not found in the module, i.e. on first use.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
