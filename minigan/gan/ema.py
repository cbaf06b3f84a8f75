"""An exponential moving average (EMA) of a generator's weights, for sampling.

Alternating gradient steps make a GAN's generator circle around a good solution rather than
settle on it: the samples of the *current* G jitter from step to step, a little blurry or a
little off. Averaging G's weights over the recent past cancels most of that oscillation
(Yazici et al., 2019; Karras et al., ProGAN 2018, StyleGAN and almost every GAN since sample
from such an average). Each step::

    beta_t = min(beta, (1 + t) / (10 + t))      # warm-up: early weights are forgotten fast
    W_ema <- beta_t * W_ema + (1 - beta_t) * W

The average is a full copy of the module (``EMA.average``), so it is used exactly as the
generator itself: ``ema.average(z)``. Buffers (BatchNorm's running statistics) are copied
from the live module at each update, as StyleGAN2 does. Everything stays on the device: an
update is a few array operations per parameter and reads nothing back.

Unlike :class:`~minigan.gan.trainer.ParameterAverage` (the arithmetic mean from a start
step, for the 1-D experiments), the EMA needs no decision on when to start and always
reflects the last ~1 / (1 - beta) steps.

Read next: ``minigan/gan/augment.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from minigan import backend as B
from minigan.gan.trainer import Callback, GANTrainer
from minigan.nn.module import Module

__all__ = ["EMA"]


class EMA(Callback):
    """Exponential moving average of ``module``'s parameters, kept in a copy of the module.

    Args:
        module: the network whose weights are averaged (the generator).
        beta: the decay; the average reflects roughly the last ``1 / (1 - beta)`` updates.
        warmup: use ``min(beta, (1 + t) / (10 + t))`` at update t, so that the random initial
            weights do not linger in the average of a short run.

    As a :class:`Callback` it updates after every training step (``trainer.train(steps,
    callbacks=[ema])``); :meth:`update` does the same by hand. ``ema.average`` is the averaged
    module; its ``state_dict()`` is what checkpoints store, and :meth:`load_state_dict`
    restores it together with the update count.
    """

    def __init__(self, module: Module, beta: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EMA beta must be in [0, 1), got {beta}")
        self.module, self.beta, self.warmup = module, float(beta), warmup
        self.average = copy.deepcopy(module)
        self.average.requires_grad_(False)  # never trained, only assigned
        self.average.eval()
        self.updates = 0

    def decay(self) -> float:
        """The beta of the next update (with the warm-up)."""
        if not self.warmup:
            return self.beta
        t = self.updates
        return min(self.beta, (1.0 + t) / (10.0 + t))

    def update(self) -> None:
        """One averaging step: on the device, nothing read back."""
        beta = self.decay()
        for avg, live in zip(self.average.parameters(), self.module.parameters()):
            # New arrays rather than in-place updates: some backends' arrays are immutable.
            avg.data = avg.data * beta + live.data * (1.0 - beta)
        for (_, avg_b), (_, live_b) in zip(self.average.named_buffers(), self.module.named_buffers()):
            avg_b.data = B.copy(live_b.data)
        self.updates += 1

    def on_step_end(self, trainer: GANTrainer, record: dict[str, Any]) -> None:
        self.update()

    def state_dict(self) -> dict[str, Any]:
        """The averaged module's state (host arrays), as ``Module.state_dict``."""
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, Any], updates: int) -> None:
        """Restore the average (and the update count that drives the warm-up)."""
        self.average.load_state_dict(state)
        self.updates = int(updates)
