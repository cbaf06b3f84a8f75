"""Layers and models (``import minigan.nn as nn``).

Everything a learner assembles a GAN from::

    import minigan.nn as nn

    D = nn.Sequential(
        nn.Conv2D(1, 64, 3, stride=2, padding="same", rng=0), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Dense(64 * 14 * 14, 1, rng=1),
    )
    D.summary((1, 28, 28))

One file per layer family:

- ``module.py``: :class:`Module` (parameters, buffers, train/eval, state dicts), :class:`Sequential`;
- ``linear.py``: :class:`Dense`;
- ``activation.py``: :class:`ReLU`, :class:`LeakyReLU`, :class:`Tanh`, :class:`Sigmoid`;
- ``normalization.py``: :class:`BatchNorm` (vectors and images), :class:`InstanceNorm` (images);
- ``dropout.py``: :class:`Dropout`;
- ``conv.py``: :class:`Conv2D`, :class:`Conv2DTranspose`;
- ``sampling.py``: :class:`UpSampling2D`, :class:`MaxPool2D`, :class:`AvgPool2D`;
- ``shape.py``: :class:`Flatten`, :class:`Reshape`, :class:`ReflectionPad2D`;
- ``embedding.py``: :class:`Embedding` (class-conditional models);
- ``minibatch_std.py``: :class:`MinibatchStdDev` (ProGAN's defence against mode collapse);
- ``spectral_norm.py``: :class:`SpectralNorm` / :func:`spectral_norm` (a layer with its weight divided by its
  largest singular value: a 1-Lipschitz discriminator without a gradient penalty);
- ``translation.py``: :class:`UNet` and :func:`patch_discriminator` (pix2pix's generator and
  discriminator: image-to-image GANs);
- ``init.py``: initialisers (Glorot, He, DCGAN's N(0, 0.02)), each drawing from an explicit Generator;
- ``summary.py``: Keras-style ``model.summary(input_shape)`` tables.

Layer names follow Keras (Dense, Conv2D, UpSampling2D, ...) because the seed
architectures were written in Keras; sizes are always explicit
(``Dense(in_features, out_features)``) because minigan builds its parameters
eagerly instead of inferring them from the first input.

Why channels-first (NCHW)? Images are ``(N, C, H, W)`` everywhere, as in
PyTorch and in CuPy's deep-learning conventions, and not ``(N, H, W, C)`` as in
the Keras seeds:

- one layout for the whole library, the one the GPU backend (CuPy) and the
  reference implementation (PyTorch) use;
- every layer, weight and gradient can be compared with PyTorch *directly*,
  without transposes (the test suite does exactly that), and a minigan state
  dict holds the same arrays as the corresponding PyTorch one;
- the parameter counts do not depend on the layout, so ``summary()`` still
  reproduces the Keras tables' numbers exactly (only the printed output shapes
  read (None, 128, 7, 7) instead of (None, 7, 7, 128)).

Read next: ``minigan/nn/module.py``.
"""

from minigan.nn import init
from minigan.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from minigan.nn.conv import Conv2D, Conv2DTranspose
from minigan.nn.dropout import Dropout
from minigan.nn.embedding import Embedding
from minigan.nn.linear import Dense
from minigan.nn.minibatch_std import MinibatchStdDev
from minigan.nn.module import Module, Parameter, Sequential
from minigan.nn.normalization import BatchNorm, InstanceNorm
from minigan.nn.sampling import AvgPool2D, MaxPool2D, UpSampling2D
from minigan.nn.shape import Flatten, ReflectionPad2D, Reshape
from minigan.nn.spectral_norm import SpectralNorm, spectral_norm
from minigan.nn.summary import Summary, SummaryRow, count_params, summarize
from minigan.nn.translation import UNet, patch_discriminator

__all__ = [
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "InstanceNorm",
    "LeakyReLU",
    "MaxPool2D",
    "MinibatchStdDev",
    "Module",
    "Parameter",
    "ReLU",
    "ReflectionPad2D",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "SpectralNorm",
    "Summary",
    "SummaryRow",
    "Tanh",
    "UNet",
    "UpSampling2D",
    "count_params",
    "init",
    "patch_discriminator",
    "spectral_norm",
    "summarize",
]
