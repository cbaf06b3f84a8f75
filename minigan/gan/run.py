"""Resumable training runs: what ``minigan train`` trains, and how it stops and starts again.

A :class:`TrainConfig` names everything that defines a run (model, loss, optimizer
settings, seed, data set, ...); :class:`TrainingRun` builds the generator, the
discriminator, their Adam optimizers and a :class:`~minigan.gan.trainer.GANTrainer`
from it and trains until a target step, with a checkpoint every ``k`` steps, at the end,
and on Ctrl-C.

**Resuming is exact.** A checkpoint (:func:`minigan.checkpoint.save`) holds

- G and D (parameters, BatchNorm statistics, the generators of their Dropout layers);
- both optimizers (Adam's moments and step counts);
- the trainer's four random streams (noise, data, labels, penalties), its step counters
  and its history;
- the fixed noise (and labels) of the progress images;
- the data loader's position (seed, epoch, batch), passed in by whoever owns the loader;
- the config, so that a run (or just its generator, :func:`build_generator`) can be
  rebuilt from the file alone.

So ``train 200 steps`` and ``train 100 steps, save, load, train to step 200`` do the same
arithmetic on the same numbers: the final weights are bitwise equal (the test-suite checks it).

Ctrl-C. While :meth:`TrainingRun.train` runs, the first SIGINT (or SIGTERM, what ``kill``
and job schedulers send) only asks the loop to stop after the current step, so the
checkpoint it writes is a consistent step boundary; a second one interrupts at once.
Checkpoints are written atomically (temporary file, then rename), so even SIGKILL loses at
most the steps since the last one, and ``--resume`` continues bit for bit from there.

Divergence. With ``stop_on_nan=True`` (``minigan train`` turns it on) the trainer raises
:class:`~minigan.gan.trainer.TrainingDiverged` at the first NaN/Inf loss or gradient, before
the bad update; :meth:`TrainingRun.train` then writes *no* checkpoint, so the last one on disk
is the last good state. On a GPU ``minigan train`` uses ``stop_on_nan="deferred"``: the numbers
are checked when they come back from the device (every ``--log-every`` steps, and before every
checkpoint is written), so no step waits for them and the checkpoint on disk is still good.

The models: ``mlp-gan``, ``conv-gan``, ``dcgan`` and ``cgan`` (class-conditional) use the
architectures registered in :mod:`minigan.models`; ``ring-2d`` and ``grid-2d`` use the
small MLPs of ``benchmarks/toy2d.py``. The data itself (MNIST, glyphs, the toy mixtures, a
user's folder or array) is supplied by the caller: this module sits below ``minigan.data`` in the
layering. :meth:`TrainConfig.fit_data` sizes the models for it (image size, channels, classes,
the dimension of points) and refuses, in one line, data a model cannot take.

Read next: ``minigan/app/train.py`` (``minigan train``: data sets, the progress bar and the
pictures around this) and ``minigan/app/sample.py`` (``minigan sample``).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from minigan import backend as B
from minigan import checkpoint, models
from minigan.autograd import Tensor, no_grad
from minigan.backend import host_np as np
from minigan.gan.augment import DiffAugment
from minigan.gan.ema import EMA
from minigan.gan.trainer import GANTrainer
from minigan.nn import Dense, LeakyReLU, Module, ReLU, Sequential
from minigan.optim import Adam

__all__ = [
    "GAN_MODELS",
    "MODEL_NAMES",
    "TOY_1D_MODELS",
    "GanSpec",
    "TrainConfig",
    "TrainingRun",
    "build_generator",
    "build_models",
    "sampling_state",
    "sample",
    "summarize_history",
    "write_history_csv",
]


# ----------------------------------------------------------------------------
# The models
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GanSpec:
    """A generator/discriminator pair and the data it expects.

    Attributes:
        generator, discriminator: builder names (registered in :mod:`minigan.models`, or
            ``"toy2d-generator"`` / ``"toy2d-discriminator"``).
        data: ``"images"`` (28x28 digits unless :meth:`TrainConfig.fit_data` sizes the models for
            other images) or ``"ring"`` / ``"grid"`` (2-D mixtures, or the points of a csv: file).
        flat: the models take flat (N, C*H*W) vectors rather than (N, C, H, W) images.
        value_range: the generator's output range (the pixels are scaled to it).
        num_classes: for conditional models, else None.
        defaults: the run defaults that differ from :class:`TrainConfig`'s (DCGAN's).
    """

    generator: str
    discriminator: str
    data: str = "images"
    flat: bool = False
    value_range: tuple[float, float] = (-1.0, 1.0)
    num_classes: int | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: dcgan-fast's run defaults: what helped in short runs on the 2-core CPU (benchmarks/README.md, "A fast
#: MNIST recipe"). Small batches and a learning rate 2.5x DCGAN's: more, larger updates per second,
#: whose noise the EMA of G averages away. Spectral norm keeps D (and so the game) stable at that rate.
#: DiffAugment and two learning rates are available (--augment, --g-lr/--d-lr) but made these runs worse:
#: with 60,000 images and a few epochs D has no time to memorise the data, which is what DiffAugment cures.
FAST_DEFAULTS: dict[str, Any] = {
    "steps": 8000,
    "batch_size": 32,
    "loss": "hinge",
    "lr": 5e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "ema": 0.999,
}

#: The models ``minigan train`` trains with this module (the 1-D toys are in ``TOY_1D_MODELS``).
GAN_MODELS: dict[str, GanSpec] = {
    # The README's first command trains this one: 4,000 steps is ~2.5 min on a 2-core laptop.
    "mlp-gan": GanSpec("mlp-generator", "mlp-discriminator", flat=True, defaults={"steps": 4000}),
    # The lecture's Keras conv pair keeps Keras' Glorot init: with N(0, 0.02) it collapses to one
    # blob within a few hundred steps (benchmarks/quality.py, row conv-ns-normal-init; chapter 8).
    "conv-gan": GanSpec("conv-generator", "conv-discriminator", defaults={"steps": 1000, "init": "glorot_uniform"}),
    "dcgan": GanSpec("dcgan-generator", "dcgan-discriminator", value_range=(0.0, 1.0), defaults={"steps": 1000}),
    "cgan": GanSpec("cgan-generator", "cgan-discriminator", flat=True, num_classes=10, defaults={"steps": 1000}),
    # The fast recipe (issue 16): a small DCGAN with spectral norm in D, two learning rates, DiffAugment
    # and an EMA of G for sampling; sized for ~10 minutes on a 2-core CPU (benchmarks/README.md).
    "dcgan-fast": GanSpec("dcgan-fast-generator", "dcgan-fast-discriminator", defaults=FAST_DEFAULTS),
    # benchmarks/toy2d.py's "plain" runs: Adam 1e-3, batch 256, 5,000 steps, Keras' default init.
    "ring-2d": GanSpec(
        "toy2d-generator",
        "toy2d-discriminator",
        data="ring",
        defaults={"steps": 5000, "lr": 1e-3, "batch_size": 256, "init": "glorot_uniform", "n_fixed": 2500},
    ),
    "grid-2d": GanSpec(
        "toy2d-generator",
        "toy2d-discriminator",
        data="grid",
        defaults={"steps": 5000, "lr": 1e-3, "batch_size": 256, "init": "glorot_uniform", "n_fixed": 2500},
    ),
}

#: The 1-D Gaussian-fitting models, trained by :func:`minigan.gan.experiments.run_gaussian_1d`.
TOY_1D_MODELS = ("gaussian-1d", "mixture-1d")

#: Every model name ``minigan train --model`` accepts.
MODEL_NAMES = (*GAN_MODELS, *TOY_1D_MODELS)


def _toy2d_generator(rng: B.Generator, latent_dim: int, hidden: int, layers: int, init: str, dim: int = 2) -> Module:
    """latent -> hidden x layers (ReLU) -> dim (2; 1 for 1-D points of a csv: file), as ``benchmarks/toy2d.py``."""
    mods: list[Module] = []
    width = latent_dim
    for _ in range(layers):
        mods += [Dense(width, hidden, rng=rng, weight_init=init), ReLU()]
        width = hidden
    mods.append(Dense(width, dim, rng=rng, weight_init=init))
    return Sequential(*mods)


def _toy2d_discriminator(rng: B.Generator, hidden: int, layers: int, init: str, dim: int = 2) -> Module:
    """dim (2, or 1) -> hidden x layers (LeakyReLU 0.2) -> 1 logit, as ``benchmarks/toy2d.py``."""
    mods: list[Module] = []
    width = dim
    for _ in range(layers):
        mods += [Dense(width, hidden, rng=rng, weight_init=init), LeakyReLU(0.2)]
        width = hidden
    mods.append(Dense(width, 1, rng=rng, weight_init=init))
    return Sequential(*mods)


_TOY2D_BUILDERS: dict[str, Callable[..., Module]] = {
    "toy2d-generator": _toy2d_generator,
    "toy2d-discriminator": _toy2d_discriminator,
}


def _build(name: str, rng: B.Generator, kwargs: Mapping[str, Any]) -> Module:
    if name in _TOY2D_BUILDERS:
        return _TOY2D_BUILDERS[name](rng, **kwargs)
    return models.build(name, rng=rng, **kwargs)


# ----------------------------------------------------------------------------
# The configuration
# ----------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in ``config.json`` and in the checkpoint).

    The defaults are the DCGAN paper's: Adam with lr 2e-4 and beta1 0.5, batch 128,
    weights from N(0, 0.02); LeakyReLU(0.2) is built into the architectures. ``g_lr`` and
    ``d_lr`` (when set) replace ``lr`` for one network; ``ema`` > 0 keeps an exponential
    moving average of G (:class:`~minigan.gan.ema.EMA`) that samples and evaluations use;
    ``augment`` names a :class:`~minigan.gan.augment.DiffAugment` policy for D's inputs. A model's
    :attr:`GanSpec.defaults` replace some of them (the 2-D toys train with Adam 1e-3).
    ``steps`` is the *total* number of training steps the run aims at (a resumed run
    continues up to it).
    """

    model: str = "mlp-gan"
    loss: str = "non-saturating"
    steps: int = 1000
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int | None = None  # None: the loss's n_critic (5 for WGAN, else 1)
    g_steps: int = 1
    seed: int = 0
    init: str = "dcgan_normal"
    latent_dim: int | None = None  # None: the generator's default
    dataset: str = "auto"  # what was asked for; the data set actually used is reported separately
    data_dir: str | None = None
    limit: int | None = None  # use only the first `limit` training images
    n_fixed: int = 64  # size of the fixed noise batch of the progress images
    image_size: int | None = None  # resize the images to S x S (--image-size); None: as they are
    channels: int | None = None  # convert the images to 1 or 3 channels (--channels); None: as they are
    # What the data turned out to be (set by fit_data, saved with the run): one image's (C, H, W)
    # (None: MNIST's (1, 28, 28)), the classes of a conditional model (None: the spec's), and the
    # dimension of a toy model's points (None: 2).
    image_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    point_dim: int | None = None

    g_lr: float | None = None  # two time-scale learning rates (TTUR); None: lr
    d_lr: float | None = None
    r1_gamma: float = 0.0  # weight of the R1 penalty on D's gradient at real data (0: off)
    ema: float = 0.0  # decay of the exponential moving average of G used for sampling (0: off)
    augment: str = ""  # DiffAugment policy for D's inputs, e.g. "translation,cutout" ("": off)

    def __post_init__(self) -> None:
        if self.image_shape is not None:
            self.image_shape = tuple(int(s) for s in self.image_shape)  # JSON gives a list

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> TrainConfig:
        """The config of ``model`` with its defaults, then ``overrides`` (None values are ignored)."""
        if model not in GAN_MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(GAN_MODELS)}")
        spec = GAN_MODELS[model]
        values: dict[str, Any] = {"model": model, **spec.defaults}
        if spec.num_classes is not None:
            values["n_fixed"] = 10 * spec.num_classes  # a 10 x 10 grid: one column per class
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def spec(self) -> GanSpec:
        return GAN_MODELS[self.model]

    @property
    def resolved_image_shape(self) -> tuple[int, ...] | None:
        """One generated image's (C, H, W); None for the toy models."""
        if self.spec.data != "images":
            return None
        return self.image_shape or (1, 28, 28)

    @property
    def resolved_num_classes(self) -> int | None:
        """Classes of a conditional model (None: unconditional)."""
        if self.spec.num_classes is None:
            return None
        return self.num_classes or self.spec.num_classes

    def fit_data(self, shape: tuple[int, ...], num_classes: int | None = None) -> None:
        """Size the models for data whose examples have ``shape`` ((C, H, W) images, (D,) points).

        Raises a one-line ValueError naming both shapes when the model cannot take the data, and
        when a conditional model gets fewer than two classes. Called before anything is built.
        """
        shape = tuple(int(s) for s in shape)
        shown = "(" + ", ".join(str(s) for s in shape) + ")"
        if self.spec.data != "images":
            if len(shape) != 1 or shape[0] not in (1, 2):
                raise ValueError(f"the data's examples are {shown} but {self.model} takes 1-D or 2-D points")
            self.point_dim = None if shape[0] == 2 else shape[0]
            return
        if len(shape) != 3:
            raise ValueError(f"the data's examples are {shown} but {self.model} takes (C, H, W) images")
        for net in (self.spec.generator, self.spec.discriminator):
            models.check_image_shape(net, shape)
        self.image_shape = None if shape == (1, 28, 28) else shape
        if self.spec.num_classes is not None:
            if num_classes is None or num_classes < 2:
                found = "no class labels" if num_classes is None else f"{num_classes} class"
                raise ValueError(
                    f"{self.model} is class-conditional and needs at least two classes; the data has {found} "
                    "(put each class's images in its own subfolder)"
                )
            if num_classes != self.spec.num_classes and self.n_fixed == 10 * self.spec.num_classes:
                self.n_fixed = 10 * num_classes  # still ten rows, one column per class
            self.num_classes = None if num_classes == self.spec.num_classes else num_classes

    def _image_kwargs(self, role: str) -> dict[str, Any]:
        """The builder options that size a network for :attr:`image_shape` (none for MNIST's shape)."""
        kwargs: dict[str, Any] = {}
        shape = self.image_shape
        if shape is not None and shape != (1, 28, 28):
            if self.spec.flat:
                kwargs["out_features" if role == "generator" else "in_features"] = math.prod(shape)
            else:
                kwargs["image_size"], kwargs["channels"] = shape[1], shape[0]
        if self.num_classes is not None and self.spec.num_classes is not None:
            kwargs["num_classes"] = self.num_classes
        return kwargs

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the generator's builder."""
        if self.spec.data != "images":
            kwargs = {"latent_dim": self.latent_dim or 16, "hidden": 128, "layers": 2, "init": self.init}
            return {**kwargs, "dim": self.point_dim} if self.point_dim is not None else kwargs
        kwargs = {"init": self.init, **self._image_kwargs("generator")}
        if self.latent_dim is not None:
            kwargs["latent_dim"] = self.latent_dim
        return kwargs

    def discriminator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the discriminator's builder."""
        if self.spec.data != "images":
            kwargs = {"hidden": 128, "layers": 2, "init": self.init}
            return {**kwargs, "dim": self.point_dim} if self.point_dim is not None else kwargs
        return {"init": self.init, **self._image_kwargs("discriminator")}

    def resolved_latent_dim(self) -> int:
        """The size of z the generator takes."""
        if self.latent_dim is not None:
            return self.latent_dim
        if self.spec.data != "images":
            return 16
        latent = models.info(self.spec.generator).latent_dim
        assert latent is not None
        return latent

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the builders' names and keyword arguments added (for rebuilding)."""
        d = asdict(self)
        d["generator"] = {"name": self.spec.generator, "kwargs": self.generator_kwargs()}
        d["discriminator"] = {"name": self.spec.discriminator, "kwargs": self.discriminator_kwargs()}
        d["latent_dim_resolved"] = self.resolved_latent_dim()
        d["value_range"] = list(self.spec.value_range)
        d["num_classes"] = self.resolved_num_classes
        shape = self.resolved_image_shape
        d["image_shape"] = list(shape) if shape is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (derived keys are ignored)."""
        names = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in d.items() if k in names})
        # image_shape and num_classes are written resolved: MNIST's values mean "the default" again.
        if config.image_shape == (1, 28, 28):
            config.image_shape = None
        if config.spec.num_classes is not None and config.num_classes == config.spec.num_classes:
            config.num_classes = None
        elif config.spec.num_classes is None:
            config.num_classes = None
        return config


def build_models(config: TrainConfig) -> tuple[Module, Module]:
    """The generator and discriminator of a run, with their initial weights (seeded by ``config.seed``).

    What :class:`TrainingRun` trains, and what ``minigan summary mlp-gan`` shows.
    """
    root = B.Generator(config.seed)
    G = _build(config.spec.generator, root.spawn(), config.generator_kwargs())
    D = _build(config.spec.discriminator, root.spawn(), config.discriminator_kwargs())
    return G, D


def build_generator(config: Mapping[str, Any], rng: B.Generator | int = 0) -> Module:
    """Rebuild a run's generator from its saved config dict (``checkpoint.extra["config"]``)."""
    g = config["generator"]
    return _build(g["name"], B.Generator(rng) if isinstance(rng, int) else rng, g["kwargs"])


def sampling_state(ckpt: Any) -> dict[str, Any]:
    """The generator weights to sample from in a :class:`minigan.checkpoint.Checkpoint` of a run: the
    EMA of G (``"G_ema"``) when the run kept one, else G itself."""
    return ckpt.model_state("G_ema" if "G_ema" in ckpt.model_names() else "G")


# ----------------------------------------------------------------------------
# History helpers
# ----------------------------------------------------------------------------
def write_history_csv(history: list[dict[str, Any]], path: str | os.PathLike) -> str:
    """One row per step, one column per statistic (the union of the records' keys)."""
    keys: list[str] = []
    for rec in history:
        keys.extend(k for k in rec if k not in keys)
    path = os.fspath(path)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(history)
    return path


def summarize_history(history: list[dict[str, Any]], window: int = 100) -> dict[str, Any]:
    """Means of the losses and D outputs over the last ``window`` steps, and the last step's values."""
    if not history:
        return {}
    tail = history[-window:]
    out: dict[str, Any] = {"averaged_over_steps": len(tail)}
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_acc"):
        values = [r[key] for r in tail if key in r]
        if values:
            out[key] = sum(values) / len(values)
            out[f"last_{key}"] = history[-1].get(key)
    return out


# ----------------------------------------------------------------------------
# Ctrl-C
# ----------------------------------------------------------------------------
class _StopFlag:
    requested = False


#: Signals that stop a training loop gracefully: Ctrl-C, and ``kill``'s default (job schedulers).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[_StopFlag]:
    """First SIGINT/SIGTERM sets a flag (the loop stops at the next step boundary); the second raises."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield flag
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, signal.SIG_DFL if prev is None else prev)


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------
class _FixedBatch(Module):
    """Holds the fixed noise (and labels) as buffers, so that the checkpoint stores them."""

    def __init__(self, noise: Tensor, labels: Tensor | None) -> None:
        super().__init__()
        self.register_buffer("noise", noise)
        if labels is not None:
            self.register_buffer("labels", labels)


class TrainingRun:
    """G, D, their optimizers and a trainer, built from a :class:`TrainConfig`.

    Args:
        config: the run's settings.
        data: the trainer's data source (a :class:`minigan.data.DataLoader` yielding ``x`` or
            ``(x, labels)``, or a callable such as a toy mixture). When it has
            ``state_dict``/``load_state_dict`` its position is saved in checkpoints.
        dataset_info: what the data actually is (name, source, size), kept in the checkpoint.
        stop_on_nan: stop at the first NaN/Inf loss or gradient (see the module docstring).

    Attributes:
        G, D, g_opt, d_opt, trainer; ``train_seconds`` (training time over all sessions).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Any,
        dataset_info: Mapping[str, Any] | None = None,
        *,
        stop_on_nan: bool | str = False,
    ) -> None:
        self.config = config
        self.data = data
        self.dataset_info = dict(dataset_info or {})
        self.G, self.D = build_models(config)
        betas = (config.beta1, config.beta2)
        self.g_opt = Adam(self.G.parameters(), lr=config.g_lr or config.lr, betas=betas)
        self.d_opt = Adam(self.D.parameters(), lr=config.d_lr or config.lr, betas=betas)
        self.trainer = GANTrainer(
            self.G,
            self.D,
            self.g_opt,
            self.d_opt,
            data,
            loss=config.loss,
            latent_dim=config.resolved_latent_dim(),
            batch_size=config.batch_size,
            d_steps=config.d_steps,
            g_steps=config.g_steps,
            num_classes=config.resolved_num_classes,
            seed=config.seed,
            n_fixed=config.n_fixed,
            stop_on_nan=stop_on_nan,
            r1_gamma=config.r1_gamma,
            augment=DiffAugment(config.augment) if config.augment else None,
        )
        #: The moving average of G that samples and evaluations use (None without ``config.ema``).
        self.ema = EMA(self.G, beta=config.ema) if config.ema > 0.0 else None
        self.train_seconds = 0.0
        self.time_limited = False  # the last train() stopped at its deadline, before its target step

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def sampler(self) -> Module:
        """The generator to draw samples from: the EMA of G when the run keeps one, else G."""
        return self.ema.average if self.ema is not None else self.G

    # -- checkpoints ---------------------------------------------------------------
    def _rngs(self) -> dict[str, B.Generator]:
        t = self.trainer
        rngs = {"noise": t.noise_rng, "data": t.data_rng, "labels": t.label_rng, "aux": t.aux_rng}
        if t.augment is not None:
            rngs["augment"] = t.augment_rng
        return rngs

    def _models(self) -> dict[str, Module]:
        models = {"G": self.G, "D": self.D, "fixed": _FixedBatch(self.trainer.fixed_noise, self.trainer.fixed_labels)}
        if self.ema is not None:
            models["G_ema"] = self.ema.average  # what `minigan sample` and `minigan evaluate` use
        return models

    def save(self, path: str | os.PathLike) -> str:
        """Write the complete state to ``path`` (atomically)."""
        t = self.trainer
        extra = {
            "config": self.config.to_dict(),
            "dataset": self.dataset_info,
            "trainer": {"step": t.step, "d_updates": t.d_updates, "g_updates": t.g_updates},
            "data_state": self.data.state_dict() if hasattr(self.data, "state_dict") else None,
            "history": [dict(r) for r in t.history],  # plain numbers (read back now, in one transfer)
            "train_seconds": self.train_seconds,
            "ema_updates": self.ema.updates if self.ema is not None else None,
        }
        return checkpoint.save(
            path,
            models=self._models(),
            optimizers={"G": self.g_opt, "D": self.d_opt},
            rngs=self._rngs(),
            step=t.step,
            extra=extra,
        )

    def restore(self, path: str | os.PathLike) -> None:
        """Load a checkpoint written by :meth:`save` (all or nothing: a mismatch raises CheckpointError)."""
        fixed = _FixedBatch(self.trainer.fixed_noise, self.trainer.fixed_labels)
        models = {**self._models(), "fixed": fixed}
        info = checkpoint.load(
            path,
            models=models,
            optimizers={"G": self.g_opt, "D": self.d_opt},
            rngs=self._rngs(),
        )
        extra = info.extra
        if self.ema is not None:
            self.ema.updates = int(extra.get("ema_updates") or 0)
        t = self.trainer
        t.fixed_noise = fixed.noise
        if t.fixed_labels is not None:
            t.fixed_labels = fixed.labels
        t.step = extra["trainer"]["step"]
        t.d_updates = extra["trainer"]["d_updates"]
        t.g_updates = extra["trainer"]["g_updates"]
        t.history = list(extra["history"])
        t._iterator = None  # the loader continues from its saved position
        if extra.get("data_state") is not None and hasattr(self.data, "load_state_dict"):
            self.data.load_state_dict(extra["data_state"])
        self.train_seconds = float(extra.get("train_seconds", 0.0))
        if extra.get("dataset"):
            self.dataset_info = dict(extra["dataset"])

    # -- training ------------------------------------------------------------------
    def train(
        self,
        until: int,
        *,
        on_step: Callable[[TrainingRun, dict[str, Any]], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int = 0,
        deadline: float | None = None,
    ) -> None:
        """Train until step ``until`` (total), calling ``on_step(run, record)`` after each step.

        ``deadline`` (a ``time.perf_counter()`` value) ends the loop earlier, at the first step
        boundary after it, like reaching ``until`` (checkpoint and all); ``time_limited`` then
        says so. On a shared machine that keeps a run within a wall-time budget.

        With ``checkpoint_path``, a checkpoint is written every ``checkpoint_every`` steps (0:
        never in between), at the end, and when the loop is interrupted (Ctrl-C, SIGTERM, or a
        KeyboardInterrupt raised by ``on_step``), after which KeyboardInterrupt propagates.
        Any other exception (:class:`~minigan.gan.trainer.TrainingDiverged` included) propagates
        without a checkpoint, so the last one written is kept.
        """
        self.time_limited = False
        with _deferred_interrupt() as stop:
            try:
                while self.trainer.step < until:
                    if deadline is not None and time.perf_counter() >= deadline:
                        self.time_limited = True
                        break
                    started = time.perf_counter()
                    record = self.trainer.train_step()
                    if self.ema is not None:
                        self.ema.update()  # on the device, like the step itself
                    self.train_seconds += time.perf_counter() - started
                    if on_step is not None:
                        on_step(self, record)
                    if checkpoint_path is not None and checkpoint_every and self.step % checkpoint_every == 0:
                        self.save(checkpoint_path)
                    if stop.requested:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                if checkpoint_path is not None:
                    self.save(checkpoint_path)
                raise
        if checkpoint_path is not None:
            self.save(checkpoint_path)

    def sample_fixed(self) -> Any:
        """G(fixed noise) in eval mode as a host array (flat images reshaped to (N, C, H, W)); the EMA
        of G when the run keeps one."""
        if self.ema is not None:
            t = self.trainer
            with no_grad():  # the average is always in eval mode
                y = (
                    self.ema.average(t.fixed_noise)
                    if t.fixed_labels is None
                    else self.ema.average(t.fixed_noise, t.fixed_labels)
                )
            x = B.to_numpy(y)
        else:
            x = B.to_numpy(self.trainer.sample_fixed(eval_mode=True))
        shape = self.config.resolved_image_shape
        if shape is not None and x.ndim == 2:
            x = x.reshape(x.shape[0], *shape)  # (N, C*H*W) -> (N, C, H, W)
        return x

    def metrics(self) -> dict[str, Any]:
        """Final statistics (means over the last 100 steps) plus steps, epochs and timing."""
        out: dict[str, Any] = {"steps": self.step, **summarize_history(self.trainer.history)}
        if hasattr(self.data, "__len__") and len(self.data):
            out["epochs"] = self.step * self.trainer.d_steps / len(self.data)
        out["train_seconds"] = round(self.train_seconds, 2)
        out["d_updates"], out["g_updates"] = self.trainer.d_updates, self.trainer.g_updates
        if self.time_limited:
            out["stopped_by_time_limit"] = True
            out["target_steps"] = self.config.steps
        nonfinite = [k for k in ("d_loss", "g_loss") if k in out and not math.isfinite(out[k])]
        if nonfinite:
            out["diverged"] = nonfinite
        return out


def sample(
    G: Module,
    n: int,
    latent_dim: int,
    rng: B.Generator,
    labels: Any = None,
    batch_size: int = 500,
) -> Any:
    """``n`` samples of a generator in eval mode as a host array (for ``minigan sample``).

    The noise is drawn at once (so the samples do not depend on ``batch_size``) and goes through
    G ``batch_size`` rows at a time, which bounds the memory of 10,000 samples.
    """
    z = rng.normal((n, latent_dim))
    y = None if labels is None else B.asarray(labels)
    G.eval()
    parts = []
    with no_grad():
        for i in range(0, n, batch_size):
            # The array API wants in-bounds slices and every axis named (hence `min` and `...`).
            j = min(i + batch_size, n)
            zi = Tensor(z[i:j, ...])  # (n, latent) -> (j - i, latent)
            parts.append(B.to_numpy(G(zi) if y is None else G(zi, Tensor(y[i:j, ...]))))
    return np.concatenate(parts)
