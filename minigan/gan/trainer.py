"""The alternating GAN training loop.

One training *step* (one entry of the history) has two phases, exactly as in
Goodfellow et al. (2014), Algorithm 1:

1. **Discriminator phase** (``d_steps`` updates; ``n_critic`` for WGAN). For each update,
   a real batch x and a fake batch G(z) are scored by D and D's loss is minimised. The fake
   batch is *detached* from the generator's graph::

       d_fake = D(fake.detach())

   so the backward pass stops at the generated samples: the generator is held constant and
   only D's optimizer steps.

2. **Generator phase** (``g_steps`` updates). A fresh fake batch is scored by D, *without*
   detaching::

       g_fake = D(fake)

   so the gradient of G's loss flows from D's output back *through D's weights and
   activations* into the samples and on into G's weights. D is frozen meanwhile
   (``D.requires_grad_(False)``): its parameters still pass gradients through to their
   inputs but receive none, and only G's optimizer steps.

Mode policy. Both networks stay in training mode in both phases, so D computes the same
function when it is trained and when it trains G (BatchNorm uses batch statistics in both).
Training-mode BatchNorm also updates its running statistics on every forward pass; in the
generator phase D's buffers are therefore saved before and restored after, so a generator
phase leaves D bit-for-bit unchanged (parameters *and* running statistics). The test-suite
checks this.

The data source is anything that gives real batches: an iterable (re-iterated when it is
exhausted, e.g. an epoch-based loader) or a callable ``data(batch_size, rng)`` (e.g. a
:class:`minigan.data.toy.Mixture`). A batch is a Tensor or array ``x``, or a pair
``(x, labels)`` for conditional training. With ``num_classes`` set, the trainer draws a
label for every fake sample and calls ``G(z, labels)`` and ``D(x, labels)``: the same loop
trains conditional and unconditional GANs (see :func:`one_hot` for a simple way to feed
labels into a model).

Nothing in a step waits for the device. Losses, mean D outputs, D's accuracy and gradient
norms are computed where the arrays live and stay there: each step's history record is a
:class:`StepRecord` whose numbers are read back, for all steps waiting, in one transfer the
first time anyone looks at one of them (a progress bar every k steps, the history at the end).
On a GPU, reading a loss after every step would stop the Python thread until the GPU is done,
and the GPU would then idle while Python prepares the next step. (``stop_on_nan=True`` reads
its numbers back every step: it must see them before the update.)

Read next: ``minigan/gan/experiments.py`` (the 1-D and 2-D experiments built on this).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.gan.losses import GANLoss, get_loss, gradient_penalty, instance_noise, r1_penalty
from minigan.nn.module import Module
from minigan.optim import clip_weights_

__all__ = [
    "Callback",
    "CosineLR",
    "GANTrainer",
    "ParameterAverage",
    "StepRecord",
    "TrainingDiverged",
    "every",
    "frozen",
    "grad_norm",
    "grad_norm_array",
    "one_hot",
]

#: Keys present in every history record.
HISTORY_KEYS = ("step", "d_loss", "g_loss", "d_real", "d_fake", "d_acc", "d_grad_norm", "g_grad_norm")


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------
def grad_norm_array(params: Iterable[Tensor]) -> Any:
    """Global L2 norm of the gradients of ``params``, sqrt(sum over params of sum(grad^2)), as a
    0-d float64 array on the device (nothing is read back)."""
    xp = B.xp()
    total = None
    for p in params:
        if p.grad is not None:
            g = xp.reshape(p.grad.data, (-1,))  # (any shape) -> (size,)
            # A dot product: one pass in BLAS, no squared temporary (5x faster than sum(g * g)).
            sq = xp.astype(g @ g, xp.float64)
            total = sq if total is None else total + sq
    return xp.sqrt(total) if total is not None else xp.zeros((), dtype=xp.float64)


def grad_norm(params: Iterable[Tensor]) -> float:
    """Global L2 norm of the gradients of ``params`` as a Python float (a read-back: a sync on a GPU)."""
    return float(B.to_host(grad_norm_array(params)))


@contextlib.contextmanager
def frozen(module: Module) -> Iterator[Module]:
    """Freeze ``module`` for the duration of a ``with`` block, then restore it exactly.

    - ``requires_grad`` is switched off on every parameter (so backward computes no
      gradients for them, but still passes gradients *through* the module), and each
      parameter's previous flag is restored afterwards;
    - every buffer (BatchNorm running statistics) is copied before and put back after, so
      forward passes in training mode leave no trace.
    """
    params = module.parameters()
    flags = [p.requires_grad for p in params]
    # Copies on the device, robust even to in-place updates of the buffers.
    saved = [(b, B.copy(b.data)) for _, b in module.named_buffers()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad = flag
        for b, data in saved:
            b.data = data


def one_hot(labels: Any, num_classes: int, dtype: Any = None) -> Tensor:
    """Integer labels (N,) -> one-hot float Tensor (N, num_classes), a constant.

    Conditional models can concatenate it to their input: ``F.concat([z, one_hot(y, 10)], axis=1)``.
    """
    xp = B.xp()
    y = labels.data if isinstance(labels, Tensor) else labels
    y = xp.reshape(y, (-1, 1))  # (N,) -> (N, 1), compared with (num_classes,) -> (N, num_classes)
    return Tensor(xp.astype(y == xp.arange(num_classes, dtype=y.dtype), dtype or B.float_dtype()))


class Callback:
    """Base class for training callbacks; override the hooks you need.

    ``on_step_end(trainer, record)`` runs after every training step with that step's
    history record; ``on_train_end(trainer)`` once when :meth:`GANTrainer.train` returns.
    A plain function ``fn(trainer, record)`` may be passed instead of a Callback.
    """

    def on_step_end(self, trainer: GANTrainer, record: dict[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: GANTrainer) -> None:
        pass


class _Every(Callback):
    def __init__(self, k: int, fn: Callable[[GANTrainer, dict[str, Any]], None]) -> None:
        if k < 1:
            raise ValueError(f"every(k, ...) needs k >= 1, got {k}")
        self.k, self.fn = k, fn

    def on_step_end(self, trainer: GANTrainer, record: dict[str, Any]) -> None:
        if record["step"] % self.k == 0:
            self.fn(trainer, record)


def every(k: int, fn: Callable[[GANTrainer, dict[str, Any]], None]) -> Callback:
    """A callback that calls ``fn(trainer, record)`` after every ``k``-th step (steps count from 1)."""
    return _Every(k, fn)


class CosineLR(Callback):
    """Cosine learning-rate decay: after step t of T, ``lr = lr0 * (1 + cos(pi t / T)) / 2``.

    A GAN's parameters keep circling the equilibrium at a constant learning rate; shrinking
    the steps to 0 at the end lets them settle. ``optimizers`` need an ``lr`` attribute.
    """

    def __init__(self, optimizers: Sequence[Any], total_steps: int, final_fraction: float = 0.0) -> None:
        self.optimizers = list(optimizers)
        self.base = [opt.lr for opt in self.optimizers]
        self.total, self.final = total_steps, final_fraction

    def on_step_end(self, trainer: GANTrainer, record: dict[str, Any]) -> None:
        t = min(trainer.step, self.total) / self.total
        scale = self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * t))
        for opt, lr in zip(self.optimizers, self.base):
            opt.lr = lr * scale


class ParameterAverage(Callback):
    """Running (arithmetic) mean of a module's parameters from step ``start`` on.

    Averaging the generator's weights over the end of training (Polyak averaging; Yazici et
    al., 2019, "The unusual effectiveness of averaging in GAN training") cancels most of the
    oscillation around the equilibrium that alternating gradient steps produce. The module
    itself is not changed: read :meth:`state_dict` or :meth:`copy_to` another module.
    """

    def __init__(self, module: Module, start: int = 0) -> None:
        self.module, self.start = module, start
        self.count = 0
        self._sum: list[Any] | None = None

    def on_step_end(self, trainer: GANTrainer, record: dict[str, Any]) -> None:
        if trainer.step < self.start:
            return
        xp = B.xp()
        params = [xp.astype(p.data, xp.float64) for p in self.module.parameters()]  # sums in float64
        self._sum = params if self._sum is None else [s + p for s, p in zip(self._sum, params)]
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        """The averaged parameters (host arrays, parameter dtype), buffers as they are now."""
        state = self.module.state_dict()
        if self._sum is None:
            return state
        for (name, p), s in zip(self.module.named_parameters(), self._sum):
            state[name] = B.to_host(B.xp().astype(s / self.count, p.data.dtype))
        return state

    def copy_to(self, module: Module) -> Module:
        """Load the averaged parameters into ``module`` (same architecture) and return it."""
        module.load_state_dict(self.state_dict())
        return module


# ----------------------------------------------------------------------------
# Step records: numbers that stay on the device until someone reads them
# ----------------------------------------------------------------------------
class _WaitingRecords:
    """The records whose numbers are still on the device; :meth:`read_back` fetches them all at once,
    then hands them to ``check`` (if given)."""

    def __init__(self, check: Callable[[list[StepRecord]], None] | None = None) -> None:
        self.records: list[StepRecord] = []
        self.check = check

    def read_back(self) -> None:
        """One transfer for every number of every waiting record (a 1-D float64 array of them)."""
        records, self.records = self.records, []
        slots = [(r, k) for r in records for k in r._on_device]
        if slots:
            xp = B.xp()
            stacked = xp.stack([xp.astype(xp.reshape(r._values[k], ()), xp.float64) for r, k in slots])
            for (r, k), v in zip(slots, B.to_host(stacked).tolist()):
                r._values[k] = v
        for r in records:
            r._on_device = []
        if self.check is not None and records:
            self.check(records)


class StepRecord(MutableMapping):
    """One training step's statistics (``{"step": 7, "d_loss": 0.69, ...}``), read back lazily.

    Behaves as a dict of Python numbers. The numbers computed on the device stay there until
    one of them is first read; then the numbers of *every* record still waiting come back in
    a single transfer. So a loop that looks at its losses every 100 steps waits for the GPU
    once per 100 steps, not after every step. Keys are known at once (no transfer to list
    them); ``dict(record)`` gives a plain dict.
    """

    def __init__(self, values: dict[str, Any], waiting: _WaitingRecords) -> None:
        self._values = values
        self._on_device = [k for k, v in values.items() if B.is_array(v)]
        self._waiting = waiting
        if self._on_device:
            waiting.records.append(self)

    def _settle(self) -> None:
        if self._on_device:
            self._waiting.read_back()

    def __getitem__(self, key: str) -> Any:
        self._settle()
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._settle()
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        self._settle()
        del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        self._settle()
        return f"StepRecord({self._values!r})"


# ----------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------
class TrainingDiverged(FloatingPointError):
    """A loss or gradient norm became NaN/Inf (raised with ``stop_on_nan=True``, before the bad update).

    Attributes:
        step: the training step (1-based, as in the history) that diverged.
        network: ``"D"`` or ``"G"``, the network whose loss or gradient went non-finite.
        what: which quantity (``"d_loss"``, ``"g_grad_norm"``, ``"real batch"``, ...).
    """

    def __init__(self, message: str, step: int, network: str, what: str) -> None:
        super().__init__(message)
        self.step, self.network, self.what = step, network, what


class GANTrainer:
    """Alternating GAN training with a history of every step.

    Args:
        generator, discriminator: Modules; ``G(z)`` -> samples, ``D(x)`` -> (N, 1) outputs
            (logits or critic scores, per the loss). Conditional: ``G(z, y)``, ``D(x, y)``.
        g_optimizer, d_optimizer: optimizers over G's and D's parameters (``zero_grad()``,
            ``step()``).
        data: real batches, see the module docstring.
        loss: a registry name (``"minimax"``, ``"ns"``, ``"wgan"``, ``"wgan-gp"``, ``"lsgan"``,
            ``"hinge"``, ``"ragan"``) or a :class:`~minigan.gan.losses.GANLoss`.
        latent_dim: size of z (an int), or the full shape of one z (e.g. ``(100, 1, 1)``).
        batch_size: samples per batch (callable data sources are asked for this many).
        d_steps: discriminator updates per step (default: the loss's ``n_critic``: 5 for
            WGAN, 1 otherwise). ``g_steps``: generator updates per step.
        gp_weight: WGAN-GP penalty weight (default: the loss's, 10 for ``"wgan-gp"``).
        r1_gamma: weight of the R1 penalty on real data (0: off).
        clip_value: clip D's weights to [-c, c] after each update (default: the loss's,
            0.01 for ``"wgan"``).
        label_smoothing: one-sided label smoothing for the cross-entropy losses.
        instance_noise: std of Gaussian noise added to every input of D, annealed linearly
            to 0 over ``instance_noise_steps`` steps (0: constant).
        num_classes: number of classes for conditional training (None: unconditional).
        noise: ``"normal"`` (z ~ N(0, I)) or ``"uniform"`` (z ~ U[-1, 1]).
        seed: seeds the trainer's own random streams (noise, data, labels, penalties),
            which makes training deterministic given the models' initial weights.
        n_fixed: size of the fixed noise batch used for progress images.
        stop_on_nan: ``True``: check every real batch, loss and gradient norm; at the first
            NaN/Inf raise :class:`TrainingDiverged` (naming the step and the network) *before*
            the optimizer applies the bad update. That reads numbers back after every update,
            which on a GPU makes each step wait. ``"deferred"``: check the losses and gradient
            norms when the records come back from the device (whenever one is read, e.g. by a
            progress bar or a checkpoint save, and every ``read_back_every`` steps); the run
            then stops a few steps late, with the bad updates applied in memory but never
            saved (a checkpoint reads the history back, and so checks it, before writing).
        augment: a differentiable augmentation ``augment(x, rng) -> x`` (e.g.
            :class:`minigan.gan.augment.DiffAugment`) applied to every input of D, real and
            fake, in both phases, drawing from a random stream of its own (None: off).
        check_models: at construction, run one batch through G and D (eval mode, no graph,
            no random stream touched) so that a generator/discriminator pair whose shapes do
            not fit is reported now, with both shapes, rather than at the first step.
    """

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        g_optimizer: Any,
        d_optimizer: Any,
        data: Iterable[Any] | Callable[[int, B.Generator], Any],
        *,
        loss: str | GANLoss = "ns",
        latent_dim: int | Sequence[int] = 100,
        batch_size: int = 64,
        d_steps: int | None = None,
        g_steps: int = 1,
        gp_weight: float | None = None,
        r1_gamma: float = 0.0,
        clip_value: float | None = None,
        label_smoothing: float = 0.0,
        instance_noise: float = 0.0,
        instance_noise_steps: int = 0,
        num_classes: int | None = None,
        noise: str = "normal",
        seed: int = 0,
        n_fixed: int = 64,
        stop_on_nan: bool | str = False,
        augment: Callable[[Tensor, B.Generator], Tensor] | None = None,
        check_models: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(n_fixed, bool) or not isinstance(n_fixed, int) or n_fixed < 1:
            raise ValueError(f"n_fixed must be a positive integer, got {n_fixed!r}")
        if stop_on_nan not in (True, False, "deferred"):
            raise ValueError(f"stop_on_nan must be True, False or 'deferred', got {stop_on_nan!r}")
        self.stop_on_nan = stop_on_nan is True  # the checks inside a step
        self.G, self.D = generator, discriminator
        self.g_opt, self.d_opt = g_optimizer, d_optimizer
        self.loss = get_loss(loss, label_smoothing=label_smoothing)
        self.latent_shape = (latent_dim,) if isinstance(latent_dim, int) else tuple(latent_dim)
        bad_dim = [d for d in self.latent_shape if isinstance(d, bool) or not isinstance(d, int) or d < 1]
        if not self.latent_shape or bad_dim:
            raise ValueError(f"latent_dim must be a positive int or a shape of them, got {latent_dim!r}")
        self.batch_size = batch_size
        self.d_steps = self.loss.n_critic if d_steps is None else d_steps
        self.g_steps = g_steps
        if self.d_steps < 1 or self.g_steps < 1:
            raise ValueError(f"d_steps and g_steps must be >= 1, got {self.d_steps} and {self.g_steps}")
        self.gp_weight = self.loss.gp_weight if gp_weight is None else gp_weight
        self.r1_gamma = r1_gamma
        self.clip_value = self.loss.clip_value if clip_value is None else clip_value
        self.instance_noise, self.instance_noise_steps = instance_noise, instance_noise_steps
        self.num_classes = num_classes
        if noise not in ("normal", "uniform"):
            raise ValueError(f"noise must be 'normal' or 'uniform', got {noise!r}")
        self.noise = noise

        # Independent random streams, so that e.g. turning on instance noise does not
        # change which real batches or which z are drawn.
        root = B.Generator(seed)
        self.noise_rng, self.data_rng, self.label_rng, self.aux_rng = (root.spawn() for _ in range(4))
        self.fixed_noise = self.sample_noise(n_fixed, root.spawn())
        self.fixed_labels = (
            None
            if num_classes is None
            else Tensor(B.asarray(B.host_np.arange(n_fixed, dtype="int64") % num_classes))  # 0, 1, ..., K-1, 0, ...
        )
        # Spawned after the fixed noise, so that turning augmentation on changes no other stream.
        self.augment = augment
        self.augment_rng = root.spawn()

        self.data = data
        self._iterator: Iterator[Any] | None = None
        self.step = 0  # training steps done (one D phase + one G phase each)
        self.d_updates = 0  # discriminator optimizer steps done
        self.g_updates = 0  # generator optimizer steps done
        self.history: list[MutableMapping[str, Any]] = []
        # Records whose numbers are still on the device; with stop_on_nan="deferred" every
        # read-back checks them.
        self._waiting = _WaitingRecords(self._check_read_back if stop_on_nan == "deferred" else None)
        #: At most this many records wait on the device before being read back unasked.
        self.read_back_every = 1000
        if check_models:
            self.check_models()

    # -- checks -----------------------------------------------------------------
    def check_models(self) -> None:
        """Run one batch of zeros through G and D and check that the shapes fit.

        Runs in eval mode without recording a graph and without drawing from any of the
        trainer's random streams, and restores every layer's mode: training afterwards is
        exactly as if it had not run. Raises ValueError naming both shapes.
        """
        n = self.batch_size
        xp = B.xp()
        z = Tensor(xp.zeros((n, *self.latent_shape), dtype=B.float_dtype()))
        labels = None
        if self.num_classes is not None:
            labels = Tensor(B.asarray(B.host_np.zeros(n, dtype="int64")))
        modes = [(m, m.training) for _, m in self.G.named_modules()] + [
            (m, m.training) for _, m in self.D.named_modules()
        ]
        self.G.eval()
        self.D.eval()
        try:
            with no_grad():
                try:
                    fake = self.generate(z, labels)
                except (ValueError, TypeError) as e:
                    raise ValueError(
                        f"GANTrainer: the generator does not accept noise z of shape {tuple(z.shape)} "
                        f"(latent_dim={self.latent_shape}): {e}. Set latent_dim to the generator's input size."
                    ) from e
                real_shape = self._peek_real_shape()
                if real_shape is not None and real_shape != tuple(fake.shape[1:]):
                    raise ValueError(
                        f"GANTrainer: the generator makes samples of shape {tuple(fake.shape[1:])} but the real "
                        f"data has shape {real_shape} per example; reshape the data or change the generator"
                    )
                try:
                    out = self.D(fake) if labels is None else self.D(fake, labels)
                except (ValueError, TypeError) as e:
                    raise ValueError(
                        f"GANTrainer: the generator's output of shape {tuple(fake.shape)} does not fit the "
                        f"discriminator: {e}. Make G's output shape match D's input shape."
                    ) from e
        finally:
            for m, mode in modes:
                object.__setattr__(m, "training", mode)
        if out.ndim == 0 or out.shape[0] != n or out.size != n:
            raise ValueError(
                f"GANTrainer: the discriminator must give one score per sample, shape ({n}, 1), but for generator "
                f"output of shape {tuple(fake.shape)} it gave shape {tuple(out.shape)}"
            )

    def _peek_real_shape(self) -> tuple[int, ...] | None:
        """The shape of one real example, where it can be known without consuming the data."""
        arrays = getattr(self.data, "arrays", None)  # minigan.data.DataLoader
        if isinstance(arrays, list) and arrays and hasattr(arrays[0], "shape"):
            return tuple(arrays[0].shape[1:])
        return None

    def _diverged(self, network: str, what: str, value: Any) -> TrainingDiverged:
        step = self.step + 1
        hint = (
            "lower the learning rate, add gradient clipping or a gradient penalty, or debug the first "
            "non-finite operation with `with minigan.detect_anomaly(): trainer.train_step()`"
        )
        name = {"D": "discriminator", "G": "generator"}[network]
        return TrainingDiverged(
            f"training diverged at step {step}: the {name} ({network}) {what} is {value}; the update was not "
            f"applied. To continue, {hint}.",
            step,
            network,
            what,
        )

    def _check_finite_batch(self, x: Tensor) -> None:
        xp = B.xp()
        if xp.isdtype(x.data.dtype, "real floating") and not bool(B.to_host(xp.all(xp.isfinite(x.data)))):
            raise TrainingDiverged(
                f"the real batch of step {self.step + 1} contains NaN or Inf values: the data is bad, not the "
                "training; clean it first (e.g. numpy.nan_to_num, or drop those examples)",
                self.step + 1,
                "D",
                "real batch",
            )

    # -- sampling ---------------------------------------------------------------
    def sample_noise(self, n: int, rng: B.Generator | None = None) -> Tensor:
        """z of shape (n, *latent_shape) from the noise stream (or ``rng``)."""
        rng = rng or self.noise_rng
        shape = (n, *self.latent_shape)
        if self.noise == "normal":
            return Tensor(rng.normal(shape))
        return Tensor(rng.uniform(shape, -1.0, 1.0))

    def sample_labels(self, n: int) -> Tensor | None:
        """Uniform random class labels (n,) for fake samples (None when unconditional)."""
        if self.num_classes is None:
            return None
        return Tensor(self.label_rng.integers(0, self.num_classes, (n,)))

    def next_real(self) -> tuple[Tensor, Tensor | None]:
        """The next real batch ``(x, labels)`` (labels None when the source has none)."""
        if callable(self.data) and not hasattr(self.data, "__iter__"):
            batch = self.data(self.batch_size, self.data_rng)
        else:
            if self._iterator is None:
                self._iterator = iter(self.data)
            try:
                batch = next(self._iterator)
            except StopIteration:  # an epoch ended: start the next one
                self._iterator = iter(self.data)
                batch = next(self._iterator)
        x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
        x = _as_tensor(x, float_data=True)
        y = None if y is None else _as_tensor(y, float_data=False)
        if self.num_classes is not None and y is None:
            raise ValueError("conditional training (num_classes set) needs a data source yielding (x, labels)")
        if self.stop_on_nan:
            self._check_finite_batch(x)
        return x, y

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G(z) or G(z, labels)."""
        return self.G(z) if labels is None else self.G(z, labels)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D(x) or D(x, labels), with the augmentation and instance noise on x when they are enabled."""
        if self.augment is not None:
            x = self.augment(x, self.augment_rng)  # differentiable: in the G phase the gradient flows through it
        x = instance_noise(x, self.current_instance_noise(), self.aux_rng)
        return self.D(x) if labels is None else self.D(x, labels)

    def current_instance_noise(self) -> float:
        """The instance-noise std at the current step (linear annealing to 0)."""
        if self.instance_noise <= 0.0:
            return 0.0
        if self.instance_noise_steps <= 0:
            return self.instance_noise
        return self.instance_noise * max(0.0, 1.0 - self.step / self.instance_noise_steps)

    def sample_fixed(self, eval_mode: bool = True) -> Tensor:
        """G applied to the fixed noise batch (progress images), without recording a graph.

        With ``eval_mode`` G runs in eval mode (BatchNorm uses running statistics, dropout
        off) and its previous mode is restored afterwards.
        """
        was_training = self.G.training
        if eval_mode:
            self.G.eval()
        try:
            with no_grad():
                return self.generate(self.fixed_noise, self.fixed_labels)
        finally:
            self.G.train(was_training)

    # -- the two phases ----------------------------------------------------------
    def discriminator_step(self) -> dict[str, Any]:
        """One update of D on a real batch and a detached fake batch. Returns its statistics."""
        real, real_labels = self.next_real()
        n = real.shape[0]
        fake_labels = self.sample_labels(n)
        fake = self.generate(self.sample_noise(n), fake_labels)

        d_real = self.discriminate(real, real_labels)
        d_fake = self.discriminate(fake.detach(), fake_labels)  # detach: G is held constant in the D step
        loss = self.loss.d_loss(d_real, d_fake)
        stats: dict[str, Any] = {"d_loss": loss.data}  # arrays on the device: nothing is read back here
        if self.gp_weight > 0.0:
            gp = gradient_penalty(self.D, real, fake, self.aux_rng, weight=self.gp_weight, labels=real_labels)
            stats["gp"] = gp.data
            loss = loss + gp
        if self.r1_gamma > 0.0:
            r1 = r1_penalty(self.D, real, gamma=self.r1_gamma, labels=real_labels)
            stats["r1"] = r1.data
            loss = loss + r1

        self.d_opt.zero_grad()
        loss.backward()
        stats["d_grad_norm"] = grad_norm_array(self.D.parameters())
        if self.stop_on_nan:
            self._stop_if_not_finite("D", stats)
        self.d_opt.step()
        if self.clip_value is not None:
            clip_weights_(self.D.parameters(), self.clip_value)  # WGAN: keep the critic (roughly) Lipschitz
        self.d_updates += 1
        stats.update(self._output_stats(d_real, d_fake))
        return stats

    def generator_loss(
        self, z: Tensor, labels: Tensor | None = None, real: Tensor | None = None, real_labels: Tensor | None = None
    ) -> Tensor:
        """G's loss on noise ``z``: G(z) is scored by D and the gradient will flow through D.

        ``real`` is needed only by losses that compare with real data (relativistic).
        """
        fake = self.generate(z, labels)
        g_fake = self.discriminate(fake, labels)  # no detach: the gradient flows back through D into G
        g_real = None
        if self.loss.needs_real_in_g:
            g_real = self.discriminate(real, real_labels)
        return self.loss.g_loss(g_fake, g_real)

    def generator_step(self) -> dict[str, Any]:
        """One update of G through a frozen D. Returns its statistics."""
        real = real_labels = None
        if self.loss.needs_real_in_g:
            real, real_labels = self.next_real()
        n = self.batch_size if real is None else real.shape[0]
        with frozen(self.D):  # D passes gradients through but gets none; its buffers are restored
            labels = self.sample_labels(n)
            loss = self.generator_loss(self.sample_noise(n), labels, real, real_labels)
            self.g_opt.zero_grad()
            loss.backward()
            stats = {"g_loss": loss.data, "g_grad_norm": grad_norm_array(self.G.parameters())}
            if self.stop_on_nan:
                self._stop_if_not_finite("G", stats)
            self.g_opt.step()  # only G's optimizer steps
        self.g_updates += 1
        return stats

    def _stop_if_not_finite(self, network: str, stats: dict[str, Any]) -> None:
        """``stop_on_nan``: read this update's numbers back (a sync) and raise before a bad update."""
        xp = B.xp()
        keys = list(stats)
        values = B.to_host(xp.stack([xp.astype(xp.reshape(stats[k], ()), xp.float64) for k in keys])).tolist()
        for key, value in zip(keys, values):
            if not math.isfinite(value):
                raise self._diverged(network, key.removeprefix(network.lower() + "_"), value)

    def _check_read_back(self, records: list[StepRecord]) -> None:
        """``stop_on_nan="deferred"``: the first non-finite loss or gradient norm among records just read back."""
        for r in records:
            for network, key in (("D", "d_loss"), ("D", "gp"), ("D", "r1"), ("D", "d_grad_norm"), ("G", "g_loss")):
                self._raise_if_bad(r, network, key)
            self._raise_if_bad(r, "G", "g_grad_norm")

    def _raise_if_bad(self, record: StepRecord, network: str, key: str) -> None:
        value = record._values.get(key)
        if value is None or math.isfinite(value):
            return
        step = record._values["step"]
        name = {"D": "discriminator", "G": "generator"}[network]
        raise TrainingDiverged(
            f"training diverged at step {step}: the {name} ({network}) {key.removeprefix(network.lower() + '_')} "
            f"is {value} (found when the numbers came back from the device at step {self.step}; the updates since "
            "were applied in memory but not saved). To continue, lower the learning rate, add gradient clipping "
            "or a gradient penalty, or resume from the last checkpoint",
            step,
            network,
            key.removeprefix(network.lower() + "_"),
        )

    def _output_stats(self, d_real: Tensor, d_fake: Tensor) -> dict[str, Any]:
        """Mean D(x), mean D(G(z)) (sigmoid of logits, or raw critic scores) and D's accuracy,
        as 0-d float64 arrays on the device."""
        xp = B.xp()
        r, f = d_real.data, d_fake.data
        if self.loss.output == "logit":
            r_out, f_out = F.sigmoid(r).data, F.sigmoid(f).data
        else:
            r_out, f_out = r, f
        mean_real = xp.astype(xp.mean(r_out), xp.float64)
        mean_fake = xp.astype(xp.mean(f_out), xp.float64)
        t = self.loss.threshold
        if t is None:  # critics have no fixed scale: split halfway between the two means
            t = xp.astype(0.5 * (mean_real + mean_fake), r.dtype)
        correct = xp.sum(xp.astype(r > t, xp.float64)) + xp.sum(xp.astype(f <= t, xp.float64))
        return {"d_real": mean_real, "d_fake": mean_fake, "d_acc": correct / (r.size + f.size)}

    # -- the loop ----------------------------------------------------------------
    def train_step(self) -> dict[str, Any]:
        """One step: ``d_steps`` discriminator updates, then ``g_steps`` generator updates.

        Returns the step's history record (D statistics averaged over the D phase, G
        statistics over the G phase), a :class:`StepRecord` whose numbers are read back from
        the device when first looked at: the step itself never waits for the device.
        """
        self.G.train()
        self.D.train()
        d_stats = [self.discriminator_step() for _ in range(self.d_steps)]
        g_stats = [self.generator_step() for _ in range(self.g_steps)]
        self.step += 1
        values: dict[str, Any] = {"step": self.step}
        values.update(_average(d_stats))
        values.update(_average(g_stats))
        if self.instance_noise > 0.0:
            values["instance_noise"] = self.current_instance_noise()
        record = StepRecord(values, self._waiting)
        self.history.append(record)
        if len(self._waiting.records) >= self.read_back_every:
            self._waiting.read_back()  # bounds what waits on the device when nobody reads the numbers
        return record

    def train(self, steps: int, callbacks: Sequence[Callback | Callable[..., None]] = ()) -> list[dict[str, Any]]:
        """Run ``steps`` training steps, calling the callbacks after each; returns the history."""
        for _ in range(steps):
            record = self.train_step()
            for cb in callbacks:
                if isinstance(cb, Callback):
                    cb.on_step_end(self, record)
                else:
                    cb(self, record)
        for cb in callbacks:
            if isinstance(cb, Callback):
                cb.on_train_end(self)
        return self.history

    def history_columns(self) -> dict[str, list[Any]]:
        """The history as columns: ``{"d_loss": [...], "g_loss": [...], ...}`` (for plotting)."""
        keys: list[str] = []
        for rec in self.history:
            keys.extend(k for k in rec if k not in keys)
        return {k: [rec.get(k) for rec in self.history] for k in keys}


def _average(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-key means over the updates of one phase, computed where the values live (0-d arrays)."""
    xp = B.xp()
    if len(stats) == 1:
        return {k: xp.asarray(v) for k, v in stats[0].items()}  # (NumPy reductions give scalars)
    return {k: xp.asarray(sum(s[k] for s in stats) / len(stats)) for k in stats[0]}


def _as_tensor(x: Any, float_data: bool) -> Tensor:
    """Batches from any source -> Tensor on the active backend.

    Float data is cast to the default float dtype (the models' dtype): a loader yielding
    float64 NumPy arrays then trains a float32 model without mixing precisions.
    """
    xp = B.xp()
    if isinstance(x, Tensor):
        x = x.data
    if not B.is_array(x):
        # Host data (or another backend's array), moved explicitly. A DataLoader made with
        # on_device=True hands out device arrays, so a training step then moves nothing.
        x = B.to_device(B.to_numpy(x))
    if float_data and xp.isdtype(x.dtype, "real floating") and x.dtype != B.float_dtype():
        x = xp.astype(x, B.float_dtype())
    return Tensor(x)
