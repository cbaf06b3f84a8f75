"""`minigan sample`: rebuild the generator of a checkpoint and draw a grid of its samples.

The checkpoint (a run's, or one shipped in :mod:`minigan.pretrained`) says which generator to
build (:func:`minigan.gan.run.build_generator`), how big its noise is and what its outputs are:
images (a grid, :func:`minigan.viz.save_image_grid`), points of a ``csv:`` data set, or points of
a 2-D toy mixture (scatter plots, :mod:`minigan.viz.toy`). ``--out X.npy`` writes the raw samples
instead, for scoring them with other tools: images as float32 ``(N, C, H, W)`` in [0, 1].

Read next: ``minigan/app/evaluate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan import backend as B
from minigan import pretrained
from minigan.app.common import UsageError, check_writable, one_line, read_run_checkpoint, refuse_run_file
from minigan.atomic import atomic_write
from minigan.backend import host_np as np
from minigan.data import toy
from minigan.gan import run as R
from minigan.viz import save_image_grid
from minigan.viz import toy as vtoy

__all__ = ["DESCRIPTION", "HELP", "SampleOptions", "run_sample"]

HELP = "draw samples from the generator of a `minigan train` checkpoint"
DESCRIPTION = (
    "Rebuild the generator stored in a checkpoint written by `minigan train` (or one shipped with "
    "minigan: --pretrained NAME) and save a grid of its samples as a PNG (a scatter plot for the "
    "2-D toy models), or the raw samples as a .npy array."
)


@dataclass
class SampleOptions:
    """What `minigan sample` takes (the flags of the same names; ``n`` is ``-n``)."""

    checkpoint: str | None = None
    pretrained: str | None = None
    n: int = 64
    out: str = "samples.png"
    label: int | None = None
    nrow: int | None = None
    seed: int = 0


def run_sample(options: SampleOptions) -> int:
    """Write ``options.n`` samples of the checkpoint's generator to ``options.out``; returns the exit status."""
    out = Path(options.out)
    refuse_run_file(out, "--out")
    check_writable(out, "--out", folder=False)  # before the (slow) work, as every command does
    if (options.pretrained is None) == (options.checkpoint is None):
        raise UsageError("give --checkpoint (a run's) or --pretrained (a shipped generator), one of them")
    if options.pretrained is not None:
        try:
            ckpt = read_run_checkpoint(pretrained.path(options.pretrained), what="--pretrained")
        except pretrained.PretrainedError as e:
            raise UsageError(f"--pretrained: {e}") from None
    else:
        ckpt = read_run_checkpoint(Path(str(options.checkpoint)), what="--checkpoint")
    config = ckpt.extra["config"]
    classes = config.get("num_classes")
    if options.label is not None:
        if classes is None:
            raise UsageError(f"--label needs a conditional model; this checkpoint is {config['model']!r}")
        if not 0 <= options.label < classes:
            raise UsageError(f"--label must be in 0..{classes - 1}, got {options.label}")
    G = R.build_generator(config)
    try:
        G.load_state_dict(R.sampling_state(ckpt))  # the EMA of G when the run kept one
    except Exception as e:
        raise UsageError(f"--checkpoint: {one_line(e)}") from None
    labels, nrow = labels_and_columns(options, classes)
    x = R.sample(G, options.n, config["latent_dim_resolved"], B.Generator(options.seed), labels)
    save_samples(out, x, config, nrow)
    print(f"wrote {out}")
    return 0


def labels_and_columns(options: SampleOptions, classes: int | None) -> tuple[Any, int | None]:
    """The class labels to draw (None: an unconditional model) and the images per row.

    A conditional model draws ``--label`` only, or else every class in turn, one column each.
    """
    if classes is None:
        return None, options.nrow
    if options.label is not None:
        return np.full((options.n,), options.label, dtype=np.int64), options.nrow
    return np.arange(options.n, dtype=np.int64) % classes, options.nrow or classes


def save_samples(out: Path, x: Any, config: dict[str, Any], nrow: int | None) -> None:
    """An image grid, or a scatter plot of points (with the toy mixture's modes when there is one);
    ``.npy``: the samples themselves (images float32 ``(N, C, H, W)`` in [0, 1], points as drawn)."""
    n = len(x)
    if out.suffix.lower() == ".npy":
        if config.get("image_shape"):
            lo, hi = config["value_range"]
            x = np.clip((x.reshape(n, *config["image_shape"]) - lo) / (hi - lo), 0.0, 1.0)
        with atomic_write(out) as f:
            np.save(f, np.asarray(x, dtype=np.float32))
    elif config.get("image_shape"):
        x = x.reshape(n, *config["image_shape"])
        save_image_grid(x, out, nrow=nrow, value_range=tuple(config["value_range"]))
    elif str(config.get("dataset", "")).startswith("csv:"):
        vtoy.scatter_points(out, x, None, title=f"{config['model']} ({config['dataset']}): {n} samples")
    else:
        mixture = toy.ring_2d() if config["model"] == "ring-2d" else toy.grid_2d()
        vtoy.scatter_2d(out, x, mixture.means, sigma=mixture.sigma, title=f"{config['model']}: {n} samples")
