"""GANs: the losses and the alternating training loop.

- ``losses``: minimax, non-saturating, Wasserstein (+ weight clipping, gradient penalty),
  R1, least squares, hinge, relativistic average; label smoothing and instance noise;
- ``trainer``: :class:`GANTrainer`, one discriminator phase on ``G(z).detach()`` then one
  generator phase through a frozen D, with a history of every step;
- ``translation``: :class:`PairedTrainer`, pix2pix's training of image-to-image GANs on pairs
  (D judges (input, output) pairs; G adds an L1 term), and :class:`CycleTrainer` (CycleGAN:
  unpaired, two generators that undo each other, an :class:`ImagePool` for the Ds);
- ``ema``: :class:`EMA`, an exponential moving average of G's weights to sample from;
- ``augment``: :class:`DiffAugment`, differentiable augmentation of D's inputs;
- ``run``: :class:`~minigan.gan.run.TrainingRun`, the resumable training runs behind
  ``minigan train`` (checkpoints that resume bit for bit, Ctrl-C safe);
- ``experiments``: the 1-D Gaussian-fitting reproductions and the vanishing-gradient
  demonstration (imported on demand: ``from minigan.gan import experiments``; it sits on top
  of ``minigan.data.toy`` and ``minigan.viz.toy``).

Read next: ``minigan/gan/losses.py``.
"""

from minigan.gan.augment import DiffAugment
from minigan.gan.ema import EMA
from minigan.gan.losses import LOSSES, GANLoss, get_loss, gradient_penalty, instance_noise, r1_penalty
from minigan.gan.trainer import (
    Callback,
    CosineLR,
    GANTrainer,
    ParameterAverage,
    TrainingDiverged,
    every,
    frozen,
    grad_norm,
    one_hot,
)
from minigan.gan.translation import CycleTrainer, ImagePool, PairedTrainer

__all__ = [
    "LOSSES",
    "Callback",
    "EMA",
    "CosineLR",
    "DiffAugment",
    "GANLoss",
    "CycleTrainer",
    "GANTrainer",
    "ImagePool",
    "PairedTrainer",
    "ParameterAverage",
    "TrainingDiverged",
    "every",
    "frozen",
    "get_loss",
    "grad_norm",
    "gradient_penalty",
    "instance_noise",
    "one_hot",
    "r1_penalty",
]
