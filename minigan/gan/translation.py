"""Image-to-image GANs: pix2pix's training for paired tasks, CycleGAN's for unpaired ones.

A translation GAN learns a map from an input image x to an output image, from pairs (x, y) of an
input and its true answer (Isola et al., 2017). Two things change from the GANs of
``trainer.py``:

- **D judges pairs.** It sees the input and an image joined along the channels, ``(x, y)``
  or ``(x, G(x))``, and says whether the image is a plausible answer *to that input*. A D that saw
  the image alone would let G ignore its input and draw any digit.
- **A reconstruction term.** G's loss adds ``l1_weight * |G(x) - y|`` (the mean absolute error,
  inside ``mask`` only when one is given, e.g. an inpainting hole). L1 alone learns the blurry
  average of the plausible answers; the adversarial term pushes the output back onto the
  manifold of sharp images. ``adversarial=False`` trains G on L1 alone: the baseline that shows
  what D adds.

The two passes of a step, as in :class:`~minigan.gan.GANTrainer`::

    D step: D(x ++ y) against D(x ++ G(x).detach())      only D's optimizer steps
    G step: D(x ++ G(x)) through a frozen D, + l1_weight * L1(G(x), y)   only G's optimizer steps

Without pairs (handwritten digits <-> typeset ones, say), :class:`CycleTrainer` trains two
generators that must undo each other (CycleGAN, below).

Read next: ``minigan/nn/translation.py`` (the U-Net generator and the PatchGAN discriminator).
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.backend import host_np as np
from minigan.gan.losses import GANLoss, get_loss
from minigan.gan.trainer import frozen
from minigan.nn.module import Module

__all__ = ["CycleTrainer", "ImagePool", "PairedTrainer"]


class PairedTrainer:
    """Train G: x -> y adversarially on pairs, with an L1 reconstruction term (pix2pix).

    Args:
        G: the generator, ``(N, Cx, H, W) -> (N, Cy, H, W)`` (e.g. :class:`minigan.nn.UNet`).
        D: the discriminator of ``(N, Cx + Cy, H, W)`` pairs, a logit (or a grid of them, one per
            patch: :func:`minigan.nn.patch_discriminator`) per pair.
        g_optimizer, d_optimizer: over G's and D's parameters.
        inputs, targets: host arrays ``(N, Cx, H, W)`` and ``(N, Cy, H, W)``, the pairs.
        masks: optional ``(N, 1, H, W)`` booleans: the L1 term counts only these pixels.
        composite: with masks (inpainting), use G's output only inside the mask: the image D
            judges and L1 compares is ``mask * G(x) + (1 - mask) * x``, so the known pixels stay as
            they are and G only fills the hole (a context encoder). Needs as many channels in x as
            in y.
        loss: a GAN loss name of :func:`minigan.gan.get_loss` ("ns", "lsgan", "hinge", ...).
        l1_weight: weight of the L1 term (pix2pix: 100).
        adversarial: False trains G on the L1 term alone (D is left untouched): the baseline.
        batch_size: pairs per step, drawn without replacement, reshuffled every epoch.
        seed: the order of the pairs.
    """

    def __init__(
        self,
        G: Module,
        D: Module,
        g_optimizer: Any,
        d_optimizer: Any,
        inputs: Any,
        targets: Any,
        *,
        masks: Any = None,
        composite: bool = False,
        loss: str | GANLoss = "ns",
        l1_weight: float = 100.0,
        adversarial: bool = True,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        if inputs.ndim != 4 or targets.ndim != 4 or inputs.shape[0] != targets.shape[0]:
            raise ValueError(
                f"inputs and targets must be (N, C, H, W) with the same N, got {inputs.shape} and {targets.shape}"
            )
        if inputs.shape[2:] != targets.shape[2:]:
            raise ValueError(f"inputs and targets differ in size: {inputs.shape[2:]} and {targets.shape[2:]}")
        if not 1 <= batch_size <= inputs.shape[0]:
            raise ValueError(f"batch_size must be from 1 to the number of pairs ({inputs.shape[0]}), got {batch_size}")
        if l1_weight < 0 or (not adversarial and l1_weight == 0):
            raise ValueError(f"l1_weight must be >= 0, and > 0 without the adversarial term; got {l1_weight}")
        if composite and (masks is None or inputs.shape[1] != targets.shape[1]):
            raise ValueError("composite needs masks and as many channels in the inputs as in the targets")
        self.G, self.D, self.g_opt, self.d_opt = G, D, g_optimizer, d_optimizer
        self.composite = composite
        self.loss = get_loss(loss)
        self.l1_weight, self.adversarial, self.batch_size = float(l1_weight), adversarial, batch_size
        dtype = B.float_dtype()
        self.inputs, self.targets = (
            B.asarray(inputs, dtype=dtype),
            B.asarray(targets, dtype=dtype),
        )  # to the device, once
        self.masks = None
        if masks is not None:
            masks = np.asarray(masks, dtype=bool)
            if masks.shape != (inputs.shape[0], 1, *inputs.shape[2:]):
                raise ValueError(
                    f"masks must be (N, 1, H, W) = {(inputs.shape[0], 1, *inputs.shape[2:])}, got {masks.shape}"
                )
            self.masks = B.asarray(masks, dtype=dtype)  # 1 in the region, 0 elsewhere
        self._rng = np.random.default_rng(seed)
        self._order, self._pos = self._rng.permutation(inputs.shape[0]), 0
        self.step = 0

    def next_batch(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """The next ``batch_size`` pairs (and masks) of the shuffled order, as Tensors on the device."""
        if self._pos + self.batch_size > len(self._order):  # a new epoch: a new order
            self._order, self._pos = self._rng.permutation(len(self._order)), 0
        idx = B.asarray(self._order[self._pos : self._pos + self.batch_size])
        self._pos += self.batch_size
        xp = B.xp()
        pick = [xp.take(a, idx, axis=0) for a in (self.inputs, self.targets)]
        mask = None if self.masks is None else Tensor(xp.take(self.masks, idx, axis=0))
        return Tensor(pick[0]), Tensor(pick[1]), mask

    def complete(self, x: Tensor, out: Tensor, mask: Tensor | None) -> Tensor:
        """G's output as the image to judge: inside the mask only when ``composite``, else all of it."""
        if not self.composite or mask is None:
            return out
        return out * mask + x * (1.0 - mask)  # (N, 1, H, W) masks broadcast over the channels

    def reconstruction(self, fake: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        """Mean |fake - target|, over the masked pixels (every channel) when a mask is given."""
        err = F.abs(fake - target)
        if mask is None:
            return F.mean(err)
        return F.sum(err * mask) / (F.sum(mask) * fake.shape[1])  # (N, 1, H, W) broadcast over the C channels

    def discriminator_step(self, x: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        """One update of D on real pairs (x, y) and fake pairs (x, G(x)), G held constant."""
        fake = self.complete(x, self.G(x), mask)
        d_real = self.D(F.concat([x, y], axis=1))  # (N, Cx, H, W) ++ (N, Cy, H, W) along the channels
        d_fake = self.D(F.concat([x, fake.detach()], axis=1))  # detach: G is held constant in the D step
        loss = self.loss.d_loss(d_real, d_fake)
        self.d_opt.zero_grad()
        loss.backward()
        self.d_opt.step()  # only D's optimizer steps
        return {"d_loss": loss.item(), "d_real": F.mean(d_real).item(), "d_fake": F.mean(d_fake).item()}

    def generator_step(self, x: Tensor, y: Tensor, mask: Tensor | None) -> dict[str, float]:
        """One update of G: fool D about (x, G(x)) through the frozen D, and be close to y."""
        with frozen(self.D):  # D passes gradients through but gets none
            fake = self.complete(x, self.G(x), mask)
            l1 = self.reconstruction(fake, y, mask)
            loss = self.l1_weight * l1
            stats = {"l1": l1.item()}
            if self.adversarial:
                adv = self.loss.g_loss(self.D(F.concat([x, fake], axis=1)), None)  # no detach: through D into G
                loss = loss + adv
                stats["g_adv"] = adv.item()
            self.g_opt.zero_grad()
            loss.backward()
            self.g_opt.step()  # only G's optimizer steps
        stats["g_loss"] = loss.item()
        return stats

    def train_step(self) -> dict[str, float]:
        """One D step (unless ``adversarial=False``) then one G step on the next batch.

        Its statistics are read back as floats at once (on a GPU, a wait per step; the image GANs'
        :class:`~minigan.gan.GANTrainer` defers that, this small trainer does not yet).
        """
        x, y, mask = self.next_batch()
        stats = self.discriminator_step(x, y, mask) if self.adversarial else {}
        stats.update(self.generator_step(x, y, mask))
        self.step += 1
        stats["step"] = self.step
        return stats

    def train(self, steps: int) -> list[dict[str, float]]:
        """``steps`` training steps; the statistics of each."""
        return [self.train_step() for _ in range(steps)]

    def translate(self, inputs: Any, masks: Any = None, batch_size: int = 256) -> Any:
        """G's outputs for host ``inputs`` (N, Cx, H, W), in eval mode, as a host array
        (with ``composite``, only inside the host ``masks`` (N, 1, H, W); the rest is the input)."""
        inputs = np.asarray(inputs)
        was_training = self.G.training
        self.G.eval()
        try:
            with no_grad():
                parts = []
                for i in range(0, inputs.shape[0], batch_size):
                    x = Tensor(B.asarray(inputs[i : i + batch_size], dtype=B.float_dtype()))
                    m = None
                    if masks is not None:
                        m = Tensor(B.asarray(np.asarray(masks[i : i + batch_size]), dtype=B.float_dtype()))
                    parts.append(B.to_host(self.complete(x, self.G(x), m).data))
        finally:
            self.G.train(was_training)
        return np.concatenate(parts, axis=0)


# ----------------------------------------------------------------------------
# Unpaired translation: CycleGAN
# ----------------------------------------------------------------------------
class ImagePool:
    """A history of generated images for D (Shrivastava et al., 2017; CycleGAN keeps 50).

    Each new fake, once the pool is full, is swapped with a random stored one half of the time:
    D then sees the new fake or an older one, so it cannot overfit to the generator's latest
    output, and the two networks do not chase each other in circles.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"ImagePool size must be >= 0, got {size}")
        self.size, self.images = size, []
        self._rng = np.random.default_rng(seed)

    def query(self, fakes: Tensor) -> Tensor:
        """The batch D should see for ``fakes`` (N, C, H, W): each image new or swapped for an old one."""
        if self.size == 0:
            return fakes
        xp, out = B.xp(), []
        for i in range(fakes.shape[0]):
            image = fakes.data[i : i + 1, ...]  # (1, C, H, W), no graph: D's step sees detached fakes
            if len(self.images) < self.size:  # filling up: store it and use it
                self.images.append(image)
                out.append(image)
            elif self._rng.random() < 0.5:  # use an old one, keep the new one in its place
                k = int(self._rng.integers(self.size))
                out.append(self.images[k])
                self.images[k] = image
            else:
                out.append(image)
        return Tensor(xp.concat(out, axis=0))


class CycleTrainer:
    """CycleGAN (Zhu et al., 2017): translate between two sets of images without pairs.

    Two generators, ``G_ab: A -> B`` and ``G_ba: B -> A``, and two discriminators, ``D_a`` (is this
    a real A?) and ``D_b``. Without pairs nothing says which B an A should become, so besides
    fooling the discriminators each translation must come back: ``G_ba(G_ab(a)) ~ a`` and
    ``G_ab(G_ba(b)) ~ b`` (the *cycle* L1 term, weight ``cycle_weight``), and a generator given an
    image already of its output kind should leave it alone (the *identity* term, weight
    ``identity_weight``; it needs as many channels in A as in B, 0 turns it off). The least-squares
    loss is the paper's. As in its code, a step updates the generators first, then each
    discriminator on real images and a detached fake from the pool::

        G step: D_b(G_ab(a)), D_a(G_ba(b)) through frozen Ds, + cycle + identity   only the Gs step
        D steps: D_a(a) against D_a(pool(G_ba(b).detach())), the same for D_b       only the Ds step

    Args:
        G_ab, G_ba, D_a, D_b: the four networks.
        g_optimizer: over the parameters of both generators; d_a_optimizer, d_b_optimizer: one per D.
        images_a, images_b: host arrays (N_a, C, H, W) and (N_b, C', H, W): two unpaired sets.
        loss, cycle_weight, identity_weight, pool_size, batch_size, seed: as named above.
    """

    def __init__(
        self,
        G_ab: Module,
        G_ba: Module,
        D_a: Module,
        D_b: Module,
        g_optimizer: Any,
        d_a_optimizer: Any,
        d_b_optimizer: Any,
        images_a: Any,
        images_b: Any,
        *,
        loss: str | GANLoss = "lsgan",
        cycle_weight: float = 10.0,
        identity_weight: float = 5.0,
        pool_size: int = 50,
        batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        a, b = np.asarray(images_a), np.asarray(images_b)
        if a.ndim != 4 or b.ndim != 4 or a.shape[2:] != b.shape[2:]:
            raise ValueError(f"images_a and images_b must be (N, C, H, W) of one size, got {a.shape} and {b.shape}")
        if identity_weight and a.shape[1] != b.shape[1]:
            raise ValueError(
                f"the identity term needs as many channels in A as in B ({a.shape[1]} and {b.shape[1]}): "
                "pass identity_weight=0"
            )
        if not 1 <= batch_size <= min(len(a), len(b)):
            raise ValueError(f"batch_size must be from 1 to the smaller set's size ({min(len(a), len(b))})")
        if cycle_weight < 0 or identity_weight < 0:
            raise ValueError("cycle_weight and identity_weight must be >= 0")
        self.G_ab, self.G_ba, self.D_a, self.D_b = G_ab, G_ba, D_a, D_b
        self.g_opt, self.d_a_opt, self.d_b_opt = g_optimizer, d_a_optimizer, d_b_optimizer
        self.loss = get_loss(loss)
        self.cycle_weight, self.identity_weight, self.batch_size = (
            float(cycle_weight),
            float(identity_weight),
            batch_size,
        )
        dtype = B.float_dtype()
        self.images_a, self.images_b = B.asarray(a, dtype=dtype), B.asarray(b, dtype=dtype)  # to the device, once
        self.pool_a, self.pool_b = ImagePool(pool_size, seed + 1), ImagePool(pool_size, seed + 2)
        self._rng = np.random.default_rng(seed)
        self.step = 0

    def next_batch(self) -> tuple[Tensor, Tensor]:
        """A batch of each set, drawn independently (the sets are unpaired)."""
        xp, out = B.xp(), []
        for images in (self.images_a, self.images_b):
            idx = B.asarray(self._rng.choice(images.shape[0], self.batch_size, replace=False))
            out.append(Tensor(xp.take(images, idx, axis=0)))
        return out[0], out[1]

    def generator_step(self, a: Tensor, b: Tensor) -> tuple[dict[str, float], Tensor, Tensor]:
        """One update of both generators through the frozen discriminators; returns the fakes too."""
        with frozen(self.D_a), frozen(self.D_b):
            fake_b, fake_a = self.G_ab(a), self.G_ba(b)
            adv = self.loss.g_loss(self.D_b(fake_b), None) + self.loss.g_loss(self.D_a(fake_a), None)
            cycle = F.mean(F.abs(self.G_ba(fake_b) - a)) + F.mean(F.abs(self.G_ab(fake_a) - b))
            loss = adv + self.cycle_weight * cycle
            stats = {"g_adv": adv.item(), "cycle": cycle.item()}
            if self.identity_weight:
                identity = F.mean(F.abs(self.G_ab(b) - b)) + F.mean(F.abs(self.G_ba(a) - a))
                loss = loss + self.identity_weight * identity
                stats["identity"] = identity.item()
            self.g_opt.zero_grad()
            loss.backward()
            self.g_opt.step()  # only the generators' optimizer steps
        stats["g_loss"] = loss.item()
        return stats, fake_a, fake_b

    def discriminator_step(self, D: Module, opt: Any, real: Tensor, fake: Tensor, pool: ImagePool) -> float:
        """One update of ``D`` on real images and pooled fakes (detached: the generators are held constant)."""
        loss = self.loss.d_loss(D(real), D(pool.query(fake.detach())))
        opt.zero_grad()
        loss.backward()
        opt.step()  # only this D's optimizer steps
        return loss.item()

    def train_step(self) -> dict[str, float]:
        """The generators' step, then each discriminator's (statistics read back as floats)."""
        a, b = self.next_batch()
        stats, fake_a, fake_b = self.generator_step(a, b)
        stats["d_a_loss"] = self.discriminator_step(self.D_a, self.d_a_opt, a, fake_a, self.pool_a)
        stats["d_b_loss"] = self.discriminator_step(self.D_b, self.d_b_opt, b, fake_b, self.pool_b)
        self.step += 1
        stats["step"] = self.step
        return stats

    def train(self, steps: int) -> list[dict[str, float]]:
        """``steps`` training steps; the statistics of each."""
        return [self.train_step() for _ in range(steps)]

    def translate(self, images: Any, direction: str = "ab", batch_size: int = 256) -> Any:
        """``G_ab`` (direction "ab") or ``G_ba`` ("ba") applied to host ``images``, in eval mode."""
        if direction not in ("ab", "ba"):
            raise ValueError(f"direction must be 'ab' or 'ba', got {direction!r}")
        G = self.G_ab if direction == "ab" else self.G_ba
        images, was_training = np.asarray(images), G.training
        G.eval()
        try:
            with no_grad():
                parts = [
                    B.to_host(G(Tensor(B.asarray(images[i : i + batch_size], dtype=B.float_dtype()))).data)
                    for i in range(0, images.shape[0], batch_size)
                ]
        finally:
            G.train(was_training)
        return np.concatenate(parts, axis=0)
