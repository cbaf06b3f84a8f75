"""The seed architectures, by name: ``minigan.models.build("mlp-generator", rng=0)``.

Each entry reproduces a network from the material minigan grew from, with its
parameter counts exact (``minigan summary NAME`` prints the Keras-style table):

=========================  ===================================================  ===========  ==========  =============
name                       layers                                               total        trainable   non-trainable
=========================  ===================================================  ===========  ==========  =============
mlp-discriminator          784-512-256-128-1, LeakyReLU(0.2)                    566,273      566,273     0
mlp-generator              32-128-256-512-784, BatchNorm + LeakyReLU, tanh      574,608      572,816     1,792
conv-discriminator         Conv 32/64/128 (3x3, s2), Flatten, Dropout, Dense    93,825       93,825      0
conv-generator             Dense(1152), 3x3 -> 7x7 -> 14x14 -> 28x28, tanh      260,737      260,353     384
dcgan-discriminator        Conv 64/64 (3x3, s2, same), Flatten, Dense           40,705       40,705      0
dcgan-generator            Dense(128*7*7), ConvT 128/128 (4x4, s2), Conv, sig   1,159,169    1,159,169   0
gaussian-1d-generator      a * z + b (Dense(1, 1))                              2            2           0
gaussian-1d-discriminator  1-32-32-1, LeakyReLU(0.2)                            1,153        1,153       0
dcgan-fast-discriminator   SpectralNorm Conv 32/64 (4x4, s2), Flatten, Dense    40,274       36,513      3,761
dcgan-fast-generator       Dense(64*7*7), BN, ConvT 32/1 (4x4, s2), tanh        237,537      237,345     192
=========================  ===================================================  ===========  ==========  =============

Conventions:

- Images are channels-first (N, 1, 28, 28); the MLP models work on flat
  (N, 784) vectors.
- **Discriminators output logits** (no final sigmoid): the GAN losses take
  logits because ``log(sigmoid(x))`` computed from logits is finite for any x.
  Where a seed ends its discriminator with ``Dense(1, activation='sigmoid')``
  the sigmoid moved into the loss; the parameter count is unchanged.
- Generators end with tanh (data scaled to [-1, 1]) except the beginner-guide
  DCGAN generator, which ends with sigmoid (data in [0, 1]) as in the guide.
- BatchNorm uses Keras' defaults expressed in PyTorch's convention
  (``momentum=0.01`` = Keras 0.99, ``eps=1e-3``), since the seeds are Keras models.
- Weights are initialised with Keras' default (Glorot uniform, zero biases),
  except the DCGAN pair, which uses the DCGAN paper's N(0, 0.02); every
  builder takes ``init=`` to choose another scheme (see ``minigan/nn/init.py``).

Choices where a seed left something open (each a keyword argument):

- conv-discriminator: LeakyReLU(0.2) after each convolution, ``dropout=0.4``;
  paddings 'same', 'same', 'valid' give 28 -> 14 -> 7 -> 3, so Flatten gives
  128 * 3 * 3 = 1152.
- conv-generator: LeakyReLU(0.2) after the Dense layer; the first transposed
  convolution is 'valid' (3 -> 7), the other two 'same' (7 -> 14 -> 28).
  Its latent size, 32, is the one that makes the seed's total 260,737.
- dcgan-*: the beginner guide's networks (latent size 100, LeakyReLU(0.2),
  Dropout(0.4) in the discriminator). The guide seeds a 6x6 grid (``Dense(128*6*6)``)
  and reaches 28x28 through its 'valid' paddings; minigan pads 'same' throughout, so
  the grid is image_size / 4: a 7x7 grid (``Dense(128*7*7)``) for MNIST's 28x28, which
  changes the parameter count (``image_size=24`` gives the guide's 6x6 grid).
- Image size and colour: the conv and DCGAN builders take ``image_size`` and ``channels``
  (1 grey, 3 RGB). The conv pair keeps the seed at 28 and, for 16, 32, 64 and 128, runs
  'same' stride-2 blocks between a 4x4 grid and the image (one block per doubling); the
  DCGAN pair keeps the guide's two blocks up to 32 (an S/4 grid) and adds one per doubling
  beyond (64: an 8x8 grid and three blocks). The MLP and cgan pairs take any flattened size
  (``in_features`` / ``out_features``). :func:`check_image_shape` says, in one line, whether
  a data set fits a model before anything is built.
- gaussian-1d-discriminator: the Gaussian-fitting post's "3-layer MLP" as
  1-32-32-1 with LeakyReLU(0.2) (``hidden=32``).

- cgan-*: a class-conditional MLP pair (Mirza & Osindero, 2014, on the MLP
  GAN's layer sizes): each takes ``(x, labels)`` and appends a learned
  embedding of the label to its input (:class:`LabelConcat`), so both players
  know which digit is meant. Called without labels (as ``minigan summary``
  does) they condition on class 0.

- dcgan-fast-*: not a seed but minigan's fast MNIST recipe (``minigan train
  --model dcgan-fast``): DCGAN's shapes at a size a 2-core CPU trains in
  minutes, spectral normalisation on every discriminator layer (its u and v
  vectors are the non-trainable numbers), ``channels=64`` and
  ``spectral_norm=True`` as options.

To add a model call :func:`register`.

Read next: ``minigan/app/summary.py`` (``minigan summary NAME``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.backend import Generator
from minigan.nn import (
    BatchNorm,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    Module,
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
    Summary,
    Tanh,
    init,
)
from minigan.nn import spectral_norm as _spectral_norm  # (the builder's option is called spectral_norm)

__all__ = [
    "CONV_IMAGE_SIZES",
    "ConditionalSequential",
    "LabelConcat",
    "ModelInfo",
    "build",
    "check_image_shape",
    "info",
    "names",
    "register",
    "summarize",
]

# Keras' BatchNormalization defaults (momentum 0.99 on the *old* value, eps 1e-3) in PyTorch's convention.
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


@dataclass(frozen=True)
class ModelInfo:
    """What a trainer needs to know about a registered model.

    Attributes:
        name: registry name, e.g. ``"conv-generator"``.
        role: ``"generator"`` or ``"discriminator"``.
        description: one line.
        input_shape: one sample's input shape (no batch axis); ``(latent_dim,)`` for generators.
        output_shape: one sample's output shape.
        output: what the output means: ``"logits"``, ``"tanh"`` ([-1, 1]), ``"sigmoid"`` ([0, 1]) or ``"linear"``.
        latent_dim: size of the noise vector z (generators), else None.
        pair: the name of the matching generator/discriminator.
        source: where the architecture comes from.
        defaults: the builder's keyword arguments and their default values.
    """

    name: str
    role: str
    description: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    output: str
    latent_dim: int | None = None
    pair: str | None = None
    source: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    builder: Callable[..., Module]
    meta: Callable[..., ModelInfo]


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, builder: Callable[..., Module], meta: Callable[..., ModelInfo]) -> None:
    """Add a model: ``builder(rng: Generator, **kwargs) -> Module`` and ``meta(**kwargs) -> ModelInfo``."""
    if name in _REGISTRY:
        raise ValueError(f"a model named {name!r} is already registered")
    _REGISTRY[name] = _Entry(builder, meta)


def names() -> list[str]:
    """Registered model names, in registration order."""
    return list(_REGISTRY)


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def info(name: str, **kwargs: Any) -> ModelInfo:
    """The :class:`ModelInfo` of ``name`` (built with ``kwargs``, e.g. ``latent_dim=64``)."""
    return _entry(name).meta(**kwargs)


def build(name: str, rng: Generator | int = 0, **kwargs: Any) -> Module:
    """Build model ``name`` with initial weights drawn from ``rng`` (a Generator or an int seed).

    The same seed gives bit-identical parameters. ``kwargs`` are the model's
    options (see :func:`info` ``(name).defaults``), e.g. ``latent_dim=64``.
    """
    entry = _entry(name)
    entry.meta(**kwargs)  # validates the keyword arguments
    return entry.builder(init.as_generator(rng), **kwargs)


def summarize(name: str, rng: Generator | int = 0, **kwargs: Any) -> Summary:
    """Build ``name`` and return its Keras-style :class:`~minigan.nn.Summary` (``print()`` it)."""
    meta = info(name, **kwargs)
    note = None
    if meta.output == "logits":
        note = "Output: logits (no final sigmoid; the GAN losses apply it, numerically stable)."
    return build(name, rng, **kwargs).summarize(meta.input_shape, name=name, note=note)


def _meta(
    name: str, role: str, description: str, input_shape, output_shape, output, pair, source, defaults, kwargs
) -> ModelInfo:
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise TypeError(f"model {name!r} got unknown option(s) {unknown}; it takes {sorted(defaults)}")
    opts = {**defaults, **kwargs}
    latent = opts.get("latent_dim") if role == "generator" else None
    return ModelInfo(
        name, role, description, tuple(input_shape(opts)), tuple(output_shape(opts)), output, latent, pair, source, opts
    )


def _spec(name: str, role: str, description: str, output: str, pair: str, source: str, defaults: dict[str, Any]):
    """Decorator registering a builder ``f(rng, **options)`` together with its metadata."""

    def wrap(builder: Callable[..., Module]) -> Callable[..., Module]:
        in_shape = builder.input_shape  # type: ignore[attr-defined]
        out_shape = builder.output_shape  # type: ignore[attr-defined]

        def meta(**kwargs: Any) -> ModelInfo:
            return _meta(name, role, description, in_shape, out_shape, output, pair, source, defaults, kwargs)

        def build_with_defaults(rng: Generator, **kwargs: Any) -> Module:
            return builder(rng, **{**defaults, **kwargs})

        register(name, build_with_defaults, meta)
        return builder

    return wrap


def _shapes(input_shape: Callable[[dict], tuple], output_shape: Callable[[dict], tuple]):
    def wrap(f):
        f.input_shape, f.output_shape = input_shape, output_shape
        return f

    return wrap


SEED_LECTURE = "lecture seed (Keras MNIST GAN)"
SEED_GUIDE = "beginner guide to DCGAN on MNIST"
SEED_POST = "Gaussian-fitting blog post"


# ----------------------------------------------------------------------------
# MLP GAN (lecture seed)
# ----------------------------------------------------------------------------
@_spec(
    "mlp-discriminator",
    "discriminator",
    "784-512-256-128-1 MLP with LeakyReLU(0.2)",
    "logits",
    "mlp-generator",
    SEED_LECTURE,
    {"in_features": 784, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["in_features"],), lambda o: (1,))
def mlp_discriminator(rng: Generator, in_features: int, slope: float, init: str) -> Module:
    sizes = [in_features, 512, 256, 128]
    layers: list[Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [Dense(a, b, rng=rng, weight_init=init), LeakyReLU(slope)]
    layers.append(Dense(128, 1, rng=rng, weight_init=init))  # logits
    return Sequential(*layers)


@_spec(
    "mlp-generator",
    "generator",
    "32-128-256-512-784 MLP with BatchNorm + LeakyReLU(0.2), tanh output",
    "tanh",
    "mlp-discriminator",
    SEED_LECTURE,
    {"latent_dim": 32, "out_features": 784, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["latent_dim"],), lambda o: (o["out_features"],))
def mlp_generator(rng: Generator, latent_dim: int, out_features: int, slope: float, init: str) -> Module:
    sizes = [latent_dim, 128, 256, 512]
    layers: list[Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [Dense(a, b, rng=rng, weight_init=init), BatchNorm(b, **KERAS_BN), LeakyReLU(slope)]
    layers += [Dense(512, out_features, rng=rng, weight_init=init), Tanh()]
    return Sequential(*layers)


# ----------------------------------------------------------------------------
# Image sizes: how many up/down-sampling blocks a conv model needs
# ----------------------------------------------------------------------------
#: The image sizes the conv GAN's builders take: 28 (the seed, MNIST) and powers of two.
CONV_IMAGE_SIZES = (16, 28, 32, 64, 128)


def _check_channels(channels: int) -> int:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    return channels


def _conv_blocks(image_size: int) -> int:
    """Stride-2 blocks between a 4x4 grid and ``image_size`` (a power of two): 16 -> 2, 128 -> 5."""
    if image_size not in CONV_IMAGE_SIZES:
        sizes = ", ".join(str(s) for s in CONV_IMAGE_SIZES)
        raise ValueError(f"image_size must be one of {sizes} for the conv GAN, got {image_size}")
    return image_size.bit_length() - 3  # log2(S / 4)


def _dcgan_grid(image_size: int) -> tuple[int, int]:
    """``(g, k)``: the generator's seed grid g x g and its k stride-2 blocks, ``g * 2**k == image_size``.

    Two blocks as in the guide (28 -> a 7x7 grid, 24 -> 6x6, 32 -> 8x8); larger sizes add blocks
    until the grid is at most 8x8 (64 -> 8x8 and 3 blocks, 128 -> 8x8 and 4), so the Dense layer
    stays small.
    """
    if image_size < 4 or image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 layers), got {image_size}")
    g, k = image_size // 4, 2
    while g > 8 and g % 2 == 0:
        g, k = g // 2, k + 1
    return g, k


def check_image_shape(name: str, shape: tuple[int, ...], **options: Any) -> None:
    """Raise a one-line ValueError unless model ``name`` can be sized for data of one-sample ``shape``.

    ``shape`` is ``(C, H, W)`` for images (``(D,)`` flat vectors fit the MLP models). The message
    names both the data's shape and what the model takes, so the mismatch is found before training.
    """
    shape = tuple(int(s) for s in shape)
    shown = "(" + ", ".join(str(s) for s in shape) + ")"
    _entry(name)  # an unknown name raises here
    family = name.rsplit("-", 1)[0]
    if family in ("mlp", "cgan"):
        return  # any flattened size: in_features / out_features follow the data
    if len(shape) != 3 or shape[0] not in (1, 3) or shape[1] != shape[2]:
        raise ValueError(
            f"the data's images are {shown} but {name} takes square (C, S, S) images with C = 1 or 3"
            + (" (resize with --image-size S)" if len(shape) == 3 and shape[1] != shape[2] else "")
        )
    size = shape[1]
    if family == "conv" and size not in CONV_IMAGE_SIZES:
        sizes = ", ".join(str(s) for s in CONV_IMAGE_SIZES)
        raise ValueError(
            f"the data's images are {shown} but {name} takes sizes {sizes} only (resize with --image-size 32)"
        )
    if family == "dcgan" and (size < 4 or size % 4):
        raise ValueError(
            f"the data's images are {shown} but {name} takes sizes that are multiples of 4 "
            "(resize with --image-size 32)"
        )


# ----------------------------------------------------------------------------
# Convolutional GAN (lecture seed)
# ----------------------------------------------------------------------------
@_spec(
    "conv-discriminator",
    "discriminator",
    "Conv2D 32/64/128 (3x3, stride 2) with LeakyReLU(0.2), Flatten(1152), Dropout, Dense(1)",
    "logits",
    "conv-generator",
    SEED_LECTURE,
    {"image_size": 28, "channels": 1, "dropout": 0.4, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["channels"], o["image_size"], o["image_size"]), lambda o: (1,))
def conv_discriminator(
    rng: Generator, image_size: int, channels: int, dropout: float, slope: float, init: str
) -> Module:
    _check_channels(channels)
    if image_size != 28:
        return _conv_discriminator_pow2(rng, image_size, channels, dropout, slope, init)
    return Sequential(
        Conv2D(channels, 32, 3, stride=2, padding="same", rng=rng, weight_init=init),  # 28 -> 14
        LeakyReLU(slope),
        Conv2D(32, 64, 3, stride=2, padding="same", rng=rng, weight_init=init),  # 14 -> 7
        LeakyReLU(slope),
        Conv2D(64, 128, 3, stride=2, padding="valid", rng=rng, weight_init=init),  # 7 -> 3
        LeakyReLU(slope),
        Flatten(),  # (N, 128, 3, 3) -> (N, 1152)
        Dropout(dropout, rng=rng.spawn()),
        Dense(1152, 1, rng=rng, weight_init=init),  # logits
    )


def _conv_discriminator_pow2(
    rng: Generator, image_size: int, channels: int, dropout: float, slope: float, init: str
) -> Module:
    """The seed's pattern for S = 2**k: 'same' stride-2 convolutions (32, 64, 128, 256, ...) down to 4x4."""
    widths = [min(256, 32 * 2**i) for i in range(_conv_blocks(image_size))]
    layers: list[Module] = []
    prev = channels
    for w in widths:
        layers += [
            Conv2D(prev, w, 3, stride=2, padding="same", rng=rng, weight_init=init),
            LeakyReLU(slope),
        ]  # S -> S/2
        prev = w
    layers += [
        Flatten(),  # (N, w, 4, 4) -> (N, 16 w)
        Dropout(dropout, rng=rng.spawn()),
        Dense(prev * 4 * 4, 1, rng=rng, weight_init=init),  # logits
    ]
    return Sequential(*layers)


@_spec(
    "conv-generator",
    "generator",
    "Dense(1152) -> (128, 3, 3) -> ConvT 7x7 -> BN -> ConvT 14x14 -> BN -> ConvT 28x28, tanh",
    "tanh",
    "conv-discriminator",
    SEED_LECTURE,
    {"latent_dim": 32, "image_size": 28, "channels": 1, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["latent_dim"],), lambda o: (o["channels"], o["image_size"], o["image_size"]))
def conv_generator(rng: Generator, latent_dim: int, image_size: int, channels: int, slope: float, init: str) -> Module:
    _check_channels(channels)
    if image_size != 28:
        return _conv_generator_pow2(rng, latent_dim, image_size, channels, slope, init)
    return Sequential(
        Dense(latent_dim, 128 * 3 * 3, rng=rng, weight_init=init),
        LeakyReLU(slope),
        Reshape((128, 3, 3)),  # (N, 1152) -> (N, 128, 3, 3)
        Conv2DTranspose(128, 128, 3, stride=2, padding="valid", rng=rng, weight_init=init),  # 3 -> 7
        BatchNorm(128, **KERAS_BN),
        LeakyReLU(slope),
        Conv2DTranspose(128, 64, 3, stride=2, padding="same", rng=rng, weight_init=init),  # 7 -> 14
        BatchNorm(64, **KERAS_BN),
        LeakyReLU(slope),
        Conv2DTranspose(64, channels, 3, stride=2, padding="same", rng=rng, weight_init=init),  # 14 -> 28
        Tanh(),
    )


def _conv_generator_pow2(
    rng: Generator, latent_dim: int, image_size: int, channels: int, slope: float, init: str
) -> Module:
    """The seed's pattern for S = 2**k: a 4x4 grid of 128, then 'same' stride-2 ConvT blocks
    (128, ..., 128, 64, channels), one per doubling."""
    blocks = _conv_blocks(image_size)
    widths = [128] * (blocks - 2) + [64]  # the blocks before the last; it makes `channels`
    layers: list[Module] = [
        Dense(latent_dim, 128 * 4 * 4, rng=rng, weight_init=init),
        LeakyReLU(slope),
        Reshape((128, 4, 4)),  # (N, 2048) -> (N, 128, 4, 4)
    ]
    prev = 128
    for w in widths:
        layers += [
            Conv2DTranspose(prev, w, 3, stride=2, padding="same", rng=rng, weight_init=init),  # s -> 2s
            BatchNorm(w, **KERAS_BN),
            LeakyReLU(slope),
        ]
        prev = w
    layers += [Conv2DTranspose(prev, channels, 3, stride=2, padding="same", rng=rng, weight_init=init), Tanh()]
    return Sequential(*layers)


# ----------------------------------------------------------------------------
# DCGAN of the beginner guide
# ----------------------------------------------------------------------------
def _check_image_size(size: int) -> int:
    _dcgan_grid(size)
    return size


@_spec(
    "dcgan-discriminator",
    "discriminator",
    "Conv2D 64/64 (3x3, stride 2, same) with LeakyReLU(0.2) + Dropout(0.4), Flatten, Dense(1)",
    "logits",
    "dcgan-generator",
    SEED_GUIDE,
    {"image_size": 28, "channels": 1, "dropout": 0.4, "slope": 0.2, "init": "dcgan_normal"},
)
@_shapes(lambda o: (o["channels"], o["image_size"], o["image_size"]), lambda o: (1,))
def dcgan_discriminator(
    rng: Generator, image_size: int, channels: int, dropout: float, slope: float, init: str
) -> Module:
    _check_channels(channels)
    g, k = _dcgan_grid(image_size)
    widths = [64, 64] + [min(256, 64 * 2 ** (i + 1)) for i in range(k - 2)]  # the guide's two, then 128, 256
    layers: list[Module] = []
    prev = channels
    for w in widths:
        layers += [
            Conv2D(prev, w, 3, stride=2, padding="same", rng=rng, weight_init=init),  # S -> S/2
            LeakyReLU(slope),
            Dropout(dropout, rng=rng.spawn()),
        ]
        prev = w
    layers += [
        Flatten(),  # (N, w, g, g) -> (N, w * g * g)
        Dense(prev * g * g, 1, rng=rng, weight_init=init),  # logits (the guide's sigmoid is in the loss)
    ]
    return Sequential(*layers)


@_spec(
    "dcgan-generator",
    "generator",
    "Dense(128*7*7) -> ConvT 128 (4x4, s2, same) x2 -> Conv2D(1, 3x3, same), sigmoid",
    "sigmoid",
    "dcgan-discriminator",
    SEED_GUIDE,
    {"latent_dim": 100, "image_size": 28, "channels": 1, "slope": 0.2, "init": "dcgan_normal"},
)
@_shapes(lambda o: (o["latent_dim"],), lambda o: (o["channels"], o["image_size"], o["image_size"]))
def dcgan_generator(rng: Generator, latent_dim: int, image_size: int, channels: int, slope: float, init: str) -> Module:
    _check_channels(channels)
    g, k = _dcgan_grid(image_size)
    widths = [128, 128] + [max(32, 128 // 2 ** (i + 1)) for i in range(k - 2)]  # the guide's two, then 64, 32
    layers: list[Module] = [
        Dense(latent_dim, 128 * g * g, rng=rng, weight_init=init),
        LeakyReLU(slope),
        Reshape((128, g, g)),  # (N, 128*g*g) -> (N, 128, g, g)
    ]
    prev = 128
    for w in widths:
        layers += [
            Conv2DTranspose(prev, w, 4, stride=2, padding="same", rng=rng, weight_init=init),  # s -> 2s
            LeakyReLU(slope),
        ]
        prev = w
    layers += [
        Conv2D(prev, channels, 3, padding="same", rng=rng, weight_init=init),
        Sigmoid(),  # images in [0, 1], as the guide's data
    ]
    return Sequential(*layers)


# ----------------------------------------------------------------------------
# 1-D models of the Gaussian-fitting post
# ----------------------------------------------------------------------------
@_spec(
    "gaussian-1d-generator",
    "generator",
    "linear generator a * z + b (Dense(1, 1)): learns N(mu, sigma) as b -> mu, |a| -> sigma",
    "linear",
    "gaussian-1d-discriminator",
    SEED_POST,
    {"latent_dim": 1, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["latent_dim"],), lambda o: (1,))
def gaussian_1d_generator(rng: Generator, latent_dim: int, init: str) -> Module:
    return Sequential(Dense(latent_dim, 1, rng=rng, weight_init=init))


@_spec(
    "gaussian-1d-discriminator",
    "discriminator",
    "3-layer MLP 1-32-32-1 with LeakyReLU(0.2)",
    "logits",
    "gaussian-1d-generator",
    SEED_POST,
    {"hidden": 32, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (1,), lambda o: (1,))
def gaussian_1d_discriminator(rng: Generator, hidden: int, slope: float, init: str) -> Module:
    return Sequential(
        Dense(1, hidden, rng=rng, weight_init=init),
        LeakyReLU(slope),
        Dense(hidden, hidden, rng=rng, weight_init=init),
        LeakyReLU(slope),
        Dense(hidden, 1, rng=rng, weight_init=init),  # logits
    )


# ----------------------------------------------------------------------------
# Class-conditional MLP GAN (cgan)
# ----------------------------------------------------------------------------
class LabelConcat(Module):
    """Append a learned embedding of each sample's class label: ``(N, F), (N,) -> (N, F + E)``.

    Without labels (a shape probe such as ``minigan summary``) every sample gets class 0.
    """

    def __init__(self, num_classes: int, embedding_dim: int, rng: Generator) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embedding = Embedding(num_classes, embedding_dim, rng=rng)

    def forward(self, x: Tensor, labels: Any = None) -> Tensor:
        if labels is None:
            labels = Tensor(B.xp().zeros((x.shape[0],), dtype=B.xp().int64))
        return F.concat([x, self.embedding(labels)], axis=1)  # (N, F) ++ (N, E) -> (N, F + E)

    def extra_repr(self) -> str:
        return f"{self.num_classes}, {self.embedding.embedding_dim}"


class ConditionalSequential(Sequential):
    """A Sequential whose first layer also receives the labels: ``model(x, labels)``."""

    def forward(self, x: Tensor, labels: Any = None) -> Tensor:  # type: ignore[override]
        first, *rest = list(self)
        x = first(x, labels)
        for layer in rest:
            x = layer(x)
        return x


SEED_CGAN = "Mirza & Osindero (2014), conditional GAN, on the lecture MLP sizes"


@_spec(
    "cgan-generator",
    "generator",
    "z ++ label embedding(10) -> 128-256-512-784 MLP with BatchNorm + LeakyReLU(0.2), tanh",
    "tanh",
    "cgan-discriminator",
    SEED_CGAN,
    {"latent_dim": 32, "num_classes": 10, "embedding_dim": 10, "out_features": 784, "slope": 0.2,
     "init": "glorot_uniform"},
)  # fmt: skip
@_shapes(lambda o: (o["latent_dim"],), lambda o: (o["out_features"],))
def cgan_generator(
    rng: Generator, latent_dim: int, num_classes: int, embedding_dim: int, out_features: int, slope: float, init: str
) -> Module:
    sizes = [latent_dim + embedding_dim, 128, 256, 512]
    layers: list[Module] = [LabelConcat(num_classes, embedding_dim, rng=rng)]
    for a, b in zip(sizes, sizes[1:]):
        layers += [Dense(a, b, rng=rng, weight_init=init), BatchNorm(b, **KERAS_BN), LeakyReLU(slope)]
    layers += [Dense(512, out_features, rng=rng, weight_init=init), Tanh()]
    return ConditionalSequential(*layers)


@_spec(
    "cgan-discriminator",
    "discriminator",
    "x ++ label embedding(50) -> 512-256-128-1 MLP with LeakyReLU(0.2)",
    "logits",
    "cgan-generator",
    SEED_CGAN,
    {"in_features": 784, "num_classes": 10, "embedding_dim": 50, "slope": 0.2, "init": "glorot_uniform"},
)
@_shapes(lambda o: (o["in_features"],), lambda o: (1,))
def cgan_discriminator(
    rng: Generator, in_features: int, num_classes: int, embedding_dim: int, slope: float, init: str
) -> Module:
    sizes = [in_features + embedding_dim, 512, 256, 128]
    layers: list[Module] = [LabelConcat(num_classes, embedding_dim, rng=rng)]
    for a, b in zip(sizes, sizes[1:]):
        layers += [Dense(a, b, rng=rng, weight_init=init), LeakyReLU(slope)]
    layers.append(Dense(128, 1, rng=rng, weight_init=init))  # logits
    return ConditionalSequential(*layers)


# ----------------------------------------------------------------------------
# The fast MNIST recipe (dcgan-fast): small enough for a 2-core CPU
# ----------------------------------------------------------------------------
SEED_FAST = "minigan's fast MNIST recipe (DCGAN shapes, Radford et al. 2015; spectral norm, Miyato et al. 2018)"


@_spec(
    "dcgan-fast-generator",
    "generator",
    "Dense(c*7*7) -> (c, 7, 7), BN, ReLU -> ConvT c/2 (4x4, s2) -> BN, ReLU -> ConvT 1 (4x4, s2), tanh",
    "tanh",
    "dcgan-fast-discriminator",
    SEED_FAST,
    {"latent_dim": 64, "channels": 64, "init": "dcgan_normal"},
)
@_shapes(lambda o: (o["latent_dim"],), lambda o: (1, 28, 28))
def dcgan_fast_generator(rng: Generator, latent_dim: int, channels: int, init: str) -> Module:
    c = channels
    return Sequential(
        Dense(latent_dim, c * 7 * 7, rng=rng, weight_init=init),
        Reshape((c, 7, 7)),  # (N, c*7*7) -> (N, c, 7, 7)
        BatchNorm(c),  # per channel, as in DCGAN (statistics over the batch and the 7x7 pixels)
        ReLU(),
        Conv2DTranspose(c, c // 2, 4, stride=2, padding="same", rng=rng, weight_init=init),  # 7 -> 14
        BatchNorm(c // 2),
        ReLU(),
        Conv2DTranspose(c // 2, 1, 4, stride=2, padding="same", rng=rng, weight_init=init),  # 14 -> 28
        Tanh(),
    )


@_spec(
    "dcgan-fast-discriminator",
    "discriminator",
    "Conv2D c/2, c (4x4, s2, same) with LeakyReLU(0.2), Flatten, Dense(1); spectral norm on every layer",
    "logits",
    "dcgan-fast-generator",
    SEED_FAST,
    {"channels": 64, "slope": 0.2, "spectral_norm": True, "init": "dcgan_normal"},
)
@_shapes(lambda o: (1, 28, 28), lambda o: (1,))
def dcgan_fast_discriminator(rng: Generator, channels: int, slope: float, spectral_norm: bool, init: str) -> Module:
    c = channels

    def sn(layer: Module) -> Module:
        return _spectral_norm(layer, rng=rng.spawn()) if spectral_norm else layer

    return Sequential(
        sn(Conv2D(1, c // 2, 4, stride=2, padding="same", rng=rng, weight_init=init)),  # 28 -> 14
        LeakyReLU(slope),
        sn(Conv2D(c // 2, c, 4, stride=2, padding="same", rng=rng, weight_init=init)),  # 14 -> 7
        LeakyReLU(slope),
        Flatten(),  # (N, c, 7, 7) -> (N, c*7*7)
        sn(Dense(c * 7 * 7, 1, rng=rng, weight_init=init)),  # logits
    )
