"""`minigan summary NAME`: the Keras-style table of a network, or both tables of a GAN.

``NAME`` is either one network registered in :mod:`minigan.models` (``mlp-discriminator``) or a
GAN as ``minigan train --model`` names it (``mlp-gan``: the generator's table, then the
discriminator's, exactly as `minigan train` builds them); ``--list`` lists both kinds.

Read next: ``minigan/cli.py`` (the parser that calls these commands).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from minigan import backend as B
from minigan import models
from minigan.app.common import UsageError, one_line
from minigan.gan import run as R
from minigan.gan.experiments import build_1d_generator

__all__ = ["DESCRIPTION", "HELP", "SummaryOptions", "pair_summaries", "run_summary"]

HELP = "print a model's layers, output shapes and parameter counts (Keras-style)"
DESCRIPTION = (
    "Print the Keras-style summary table of a registered model: each layer's name and type, "
    "output shape and parameter count, then Total / Trainable / Non-trainable params. "
    "BatchNorm running statistics count as non-trainable, as in Keras."
)


@dataclass
class SummaryOptions:
    """What `minigan summary` takes (the flags of the same names)."""

    name: str | None = None
    list: bool = False
    latent_dim: int | None = None
    seed: int = 0
    image_size: int | None = None
    channels: int | None = None

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """``--channels`` and ``--image-size`` as one image's (C, S, S), else None."""
        if self.image_size is None and self.channels is None:
            return None
        size = self.image_size or 28
        return (self.channels or 1, size, size)


def run_summary(options: SummaryOptions) -> int:
    """Print the table(s) of ``options.name`` (or the list of names); returns the exit status."""
    pairs = list(R.MODEL_NAMES)  # what `minigan train --model` takes: a generator and a discriminator
    if options.list:
        print_names(pairs)
        return 0
    check_name(options, pairs)
    if options.name in pairs:
        generator, discriminator = pair_summaries(options.name, options.seed, options.latent_dim, options.image_shape)
        print(f"{generator}\n\n{discriminator}")
        return 0
    kwargs: dict[str, Any] = {} if options.latent_dim is None else {"latent_dim": options.latent_dim}
    if options.image_shape is not None:
        defaults = models.info(options.name).defaults
        if "image_size" not in defaults and "channels" not in defaults:
            raise UsageError(f"--image-size and --channels apply to the conv and DCGAN networks, not {options.name}")
        try:
            models.check_image_shape(options.name, options.image_shape)
        except ValueError as e:
            raise UsageError(one_line(e)) from None
        kwargs.update(channels=options.image_shape[0], image_size=options.image_shape[1])
    print(models.summarize(options.name, rng=options.seed, **kwargs))
    return 0


def print_names(pairs: list[str]) -> None:
    """``--list``: every single network, then every GAN pair, with what it is."""
    width = max(len(n) for n in [*models.names(), *pairs])
    for name in models.names():
        meta = models.info(name)
        print(f"{name.ljust(width)}  {meta.role:<13}  {meta.description}")
    for name in pairs:
        spec = R.GAN_MODELS.get(name)
        nets = f"{spec.generator} + {spec.discriminator}" if spec else "the 1-D Gaussian-fitting experiment's pair"
        print(f"{name.ljust(width)}  {'GAN pair':<13}  `train --model {name}`: {nets}")


def check_name(options: SummaryOptions, pairs: list[str]) -> None:
    """A UsageError for a missing or unknown NAME, or a --latent-dim it cannot take."""
    name = options.name
    if name is None:
        raise UsageError("summary needs a model NAME (or --list to see them)")
    if name not in models.names() and name not in pairs:
        close = difflib.get_close_matches(name, [*pairs, *models.names()], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"unknown model {name!r}{hint}; GAN pairs (as in train --model): {', '.join(pairs)}; "
            f"single networks: {', '.join(models.names())}"
        )
    if options.latent_dim is not None:
        role = "GAN pair" if name in pairs else models.info(name).role
        if role not in ("generator", "GAN pair"):
            raise UsageError(f"--latent-dim applies to generators; {name} is a {role}")
        if options.latent_dim < 1:
            raise UsageError(f"--latent-dim must be >= 1, got {options.latent_dim}")


LOGITS_NOTE = "Output: logits (no final sigmoid; the GAN losses apply it, numerically stable)."


def pair_summaries(
    model: str, seed: int, latent_dim: int | None, image_shape: tuple[int, ...] | None = None
) -> tuple[Any, Any]:
    """The Keras-style tables of the generator and discriminator `minigan train --model MODEL` builds."""
    if model in R.TOY_1D_MODELS:
        G, D, latent, names, d_shape = _toy_1d_pair(model, seed, latent_dim)
    else:
        G, D, latent, names, d_shape = _gan_pair(model, seed, latent_dim, image_shape)
    return (
        G.summarize((latent,), name=f"{model} generator ({names[0]})"),
        D.summarize(d_shape, name=f"{model} discriminator ({names[1]})", note=LOGITS_NOTE),
    )


def _toy_1d_pair(model: str, seed: int, latent_dim: int | None) -> tuple[Any, Any, int, tuple[str, str], tuple]:
    """What the 1-D experiment trains (minigan.gan.experiments.run_gaussian_1d, with its defaults)."""
    kind = "mlp" if model == "mixture-1d" else "linear"
    latent = latent_dim or (4 if kind == "mlp" else 1)  # run_gaussian_1d's defaults
    root = B.Generator(seed)
    G = build_1d_generator(kind, root.spawn(), latent_dim=latent)
    D = models.build("gaussian-1d-discriminator", rng=root.spawn())
    return G, D, latent, (f"{kind} 1-D generator", "gaussian-1d-discriminator"), (1,)


def _gan_pair(
    model: str, seed: int, latent_dim: int | None, image_shape: tuple[int, ...] | None
) -> tuple[Any, Any, int, tuple[str, str], tuple]:
    """What minigan.gan.run builds for ``model``, sized for ``image_shape`` if given."""
    config = R.TrainConfig.for_model(model, latent_dim=latent_dim, seed=seed)
    if image_shape is not None:
        if config.spec.data != "images":
            raise UsageError(f"--image-size and --channels apply to the image models, not {model}")
        try:
            config.fit_data(image_shape, config.spec.num_classes)
        except ValueError as e:
            raise UsageError(one_line(e)) from None
    G, D = R.build_models(config)
    shape = config.resolved_image_shape
    d_shape = (2,) if shape is None else (math.prod(shape),) if config.spec.flat else shape
    names = (config.spec.generator, config.spec.discriminator)
    return G, D, config.resolved_latent_dim(), names, d_shape
