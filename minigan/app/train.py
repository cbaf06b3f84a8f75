"""`minigan train`, top to bottom: from the options to the files in ``--out``.

:func:`run_train` is the outline; each step is a function below it, in the order it runs:

1. **Checks before any work**: the backend, the flags that do not fit the model, an ``--out``
   that cannot be written (a mistake found after minutes of training would cost them).
2. **The config**: a new :class:`~minigan.gan.run.TrainConfig` from the options, or on ``--resume``
   the checkpoint's own (a resumed run keeps its settings; a flag that contradicts it is refused).
3. **The data**: a built-in data set (MNIST, Fashion-MNIST, the glyph digits), your own
   (``folder:`` / ``npy:`` / ``npz:`` / ``csv:``, read by :mod:`minigan.data.sources`) in a
   :class:`~minigan.data.DataLoader`, or a 2-D toy mixture. It also sizes the models.
4. **The run**: :class:`~minigan.gan.run.TrainingRun` builds the models, optimizers and trainer
   and trains, with a checkpoint every ``--checkpoint-every`` steps, at the end and on Ctrl-C
   or SIGTERM (its module docstring says how resuming stays exact).
5. **The session**: :class:`TrainingSession` holds what the per-step callback needs (the
   progress bar, the sample grids, the evaluations of ``--eval-every``) as attributes, and
   turns the way the run ends (done, interrupted, diverged) into files, a message and an exit status.
6. **The outputs**: ``history.csv``, the curves, ``progress.gif``, ``metrics.json``.
7. **The 1-D experiments** (``gaussian-1d``, ``mixture-1d``): a path of their own, through
   :func:`minigan.gan.experiments.run_gaussian_1d`.

Two rules keep a GPU busy: the per-step records stay on the device and are read back only
every ``--log-every`` steps (the progress bar) or every ``--sample-every`` steps (a log line);
and the NaN check is ``"deferred"`` there, done when the numbers come back anyway.

Read next: ``minigan/app/sample.py``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan import backend as B
from minigan import checkpoint, metrics
from minigan.app.common import UsageError, check_writable, one_line, read_run_checkpoint, say, shape_text, write_json

# loader.load_dataset is looked up at each call, so that a test (or a notebook) can replace it.
from minigan.data import loader, mnist, sources, toy
from minigan.gan import experiments
from minigan.gan import run as R
from minigan.gan.trainer import TrainingDiverged
from minigan.viz import plot_history, save_gif, save_image_grid
from minigan.viz import toy as vtoy

__all__ = [
    "DATASET_HELP",
    "DESCRIPTION",
    "EPILOG",
    "EVAL_KEYS",
    "HELP",
    "Evaluator",
    "TrainOptions",
    "TrainingSession",
    "run_train",
]

HELP = "train a GAN and write samples, curves, metrics and a resumable checkpoint"
DESCRIPTION = """\
Train a GAN. Defaults follow the DCGAN paper (Radford et al., 2015): Adam with learning
rate 2e-4 and beta1 0.5, batch size 128, weights drawn from N(0, 0.02), LeakyReLU(0.2) in the
architectures. With no arguments it trains the MLP GAN on MNIST (or, offline, on the built-in
glyph digits) for a few minutes on a laptop CPU. Ctrl-C stops after the current step and saves
a checkpoint; --resume continues it exactly."""
EPILOG = """\
files written into --out:
  samples_XXXX.png   the generator on a fixed noise batch at step XXXX (2-D toys: scatter_XXXX.png)
  progress.gif       those grids as an animation
  losses.png, d_outputs.png, grad_norms.png   curves over training
  history.csv        one row per step: losses, mean D(x) and D(G(z)), D accuracy, gradient norms
  checkpoint.npz     everything needed to continue bit for bit (--resume), also the generator
                     for `minigan sample`; written every --checkpoint-every steps, at the end
                     and on Ctrl-C
  config.json        the settings;  metrics.json  final D(x), D(G(z)), losses, time, data set used

examples:
  minigan train --out runs/quickstart               # MLP GAN on MNIST (or the glyph digits offline)
  minigan train --model dcgan --dataset mnist --epochs 5 --out runs/dcgan
  minigan train --model cgan --out runs/cgan && minigan sample --checkpoint runs/cgan/checkpoint.npz --label 7
  minigan train --model dcgan --dataset folder:my_pictures --image-size 32 --channels 3 --out runs/mine
  minigan train --model ring-2d --dataset csv:points.csv --out runs/points   # 1-D or 2-D points
  minigan train --out runs/quickstart --resume --steps 3000   # continue to step 3000
  minigan train --model gaussian-1d --steps 3000 --out runs/gauss --mu 4 --sigma 1.25
"""
DATASET_HELP = (
    "the data: auto (default: MNIST if on disk or downloadable, else the offline glyph digits), mnist, "
    "fashion-mnist, glyphs; or your own: folder:PATH (PNG/JPEG/BMP files, class subfolders become labels), "
    "npy:PATH ((N, H, W), (N, C, H, W) or (N, H, W, C) images), npz:PATH (x and optional labels y), "
    "csv:PATH (1-D or 2-D points, for ring-2d / grid-2d)"
)


@dataclass
class TrainOptions:
    """What `minigan train` takes: one field per flag, of the same name (``--batch-size``: ``batch_size``).

    None means "the model's default" (:meth:`minigan.gan.run.TrainConfig.for_model`), or on
    ``--resume`` "the checkpoint's value"; `minigan train --help` describes each flag.
    """

    # what to train
    model: str | None = None
    dataset: str | None = None  # a built-in name, or KIND:PATH (absolute, so that --resume finds it anywhere)
    image_size: int | None = None
    channels: int | None = None
    strict_data: bool = False
    data_dir: str | None = None
    no_download: bool = False
    limit: int | None = None
    loss: str | None = None
    mu: float | None = None
    sigma: float | None = None
    # how long and how
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    g_lr: float | None = None
    d_lr: float | None = None
    r1_gamma: float | None = None
    ema: float | None = None
    augment: str | None = None
    max_minutes: float | None = None
    d_steps: int | None = None
    g_steps: int | None = None
    latent_dim: int | None = None
    init: str | None = None
    seed: int | None = None
    backend: str | None = None
    # output
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: int = 500
    sample_every: int | None = None
    log_every: int = 25
    stop_on_nan: bool = True
    eval_every: int = 0
    eval_n: int = 2000
    quiet: bool = False


# ----------------------------------------------------------------------------
# The outline
# ----------------------------------------------------------------------------
def run_train(options: TrainOptions) -> int:
    """Train as ``options`` say; returns the exit status (0, 130 if interrupted, 3 if diverged)."""
    model = check_options(options)  # 1. checks before any work
    out = Path(options.out or os.path.join("runs", model))
    check_writable(out, "--out", folder=True)
    if model in R.TOY_1D_MODELS:
        return train_toy_1d(options, model, out)  # 7. a path of its own
    check_flags_fit_model(options, model)
    ckpt_path = out / "checkpoint.npz"
    if options.resume:  # 2. the config
        saved, config = checkpoint_to_resume(options, ckpt_path)
    else:
        saved, config = None, new_config(options, model, out)
    data, dataset_info = training_data(options, config, saved)  # 3. the data
    check_same_data(saved, config, dataset_info)
    if options.epochs is not None and not hasattr(data, "__len__"):
        raise UsageError(f"--epochs needs a finite data set; {config.model} samples its data: use --steps")
    run = build_run(options, config, data, dataset_info, saved)  # 4. the run
    out.mkdir(parents=True, exist_ok=True)
    if saved is not None:
        try:
            run.restore(ckpt_path)
        except Exception as e:  # CheckpointError: the file does not fit this model
            raise UsageError(f"--resume: {one_line(e)}") from None
    elif options.overwrite:
        for old in [*out.glob("samples_*.png"), *out.glob("scatter_*.png")]:
            old.unlink()
    evaluator = Evaluator(run, options.eval_n, options.data_dir) if options.eval_every else None
    backend = B.get_backend().name
    write_json(out / "config.json", {**config.to_dict(), "dataset_used": dataset_info, "backend": backend})
    return TrainingSession(options, run, out, evaluator).train()  # 5. and 6.


# ----------------------------------------------------------------------------
# 1. Checks before any work
# ----------------------------------------------------------------------------
def check_options(options: TrainOptions) -> str:
    """Switch to ``--backend``, check what the parser cannot; returns the model's name."""
    if options.backend is not None:
        try:
            B.set_backend(options.backend)
        except B.BackendError as e:
            raise UsageError(one_line(e)) from None
    for flag, value in (("--beta1", options.beta1), ("--beta2", options.beta2), ("--ema", options.ema)):
        if value is not None and not 0.0 <= value < 1.0:
            raise UsageError(f"{flag} must be in [0, 1), got {value}")
    if options.r1_gamma is not None and options.r1_gamma < 0.0:
        raise UsageError(f"--r1-gamma must be >= 0, got {options.r1_gamma}")
    if options.augment is not None:
        options.augment = "" if options.augment.strip().lower() == "none" else options.augment
        from minigan.gan.augment import DiffAugment

        try:
            DiffAugment(options.augment or "color")
        except ValueError as e:
            raise UsageError(f"--augment: {one_line(e)}") from None
    model = options.model or "mlp-gan"
    if model not in R.GAN_MODELS and model not in R.TOY_1D_MODELS:  # argparse checks it for the command line
        raise UsageError(f"unknown model {model!r}; choose one of: {', '.join(R.MODEL_NAMES)}")
    return model


def check_flags_fit_model(options: TrainOptions, model: str) -> None:
    """A UsageError for a flag of the 1-D experiments, or of images, given to a model that has no use for it."""
    for flag, value in (("--mu", options.mu), ("--sigma", options.sigma)):
        if value is not None:
            raise UsageError(f"{flag} applies to gaussian-1d and mixture-1d, not {model}")
    points = (options.dataset or "").startswith("csv:")
    if R.GAN_MODELS[model].data == "images":
        if points:
            raise UsageError(f"--dataset {options.dataset} holds points; train it with --model ring-2d or grid-2d")
        return
    image_flags = {
        "--dataset": None if points else options.dataset,
        "--data-dir": options.data_dir,
        "--limit": None if points else options.limit,
        "--image-size": options.image_size,
        "--channels": options.channels,
        "--strict-data": options.strict_data or None,
        "--eval-every": options.eval_every or None,
        "--augment": options.augment or None,
    }
    for flag, value in image_flags.items():
        if value is not None:
            raise UsageError(
                f"{flag} applies to the image models, not {model} (its data is a 2-D mixture or csv: points)"
            )


# ----------------------------------------------------------------------------
# 2. The config: a new one, or the checkpoint's
# ----------------------------------------------------------------------------
#: Flags that define a run (TrainConfig fields); checked against the checkpoint on --resume.
DEFINING_FLAGS = {
    "model": "--model",
    "loss": "--loss",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "beta1": "--beta1",
    "beta2": "--beta2",
    "g_lr": "--g-lr",
    "d_lr": "--d-lr",
    "r1_gamma": "--r1-gamma",
    "ema": "--ema",
    "augment": "--augment",
    "d_steps": "--d-steps",
    "g_steps": "--g-steps",
    "seed": "--seed",
    "init": "--init",
    "latent_dim": "--latent-dim",
    "dataset": "--dataset",
    "limit": "--limit",
    "image_size": "--image-size",
    "channels": "--channels",
}


def checkpoint_to_resume(options: TrainOptions, ckpt_path: Path) -> tuple[checkpoint.Checkpoint, R.TrainConfig]:
    """``--resume``: the checkpoint in ``--out`` and its config.

    Refused if a flag contradicts the checkpoint, or asks for a step it has already reached.
    """
    saved = read_run_checkpoint(ckpt_path, what="--resume")
    config = R.TrainConfig.from_dict(saved.extra["config"])
    for key, flag in DEFINING_FLAGS.items():
        given = getattr(options, key)
        if given is not None and given != getattr(config, key):
            raise UsageError(
                f"--resume: {flag} {given} differs from the checkpoint's {getattr(config, key)!r} "
                "(a resumed run keeps its settings; leave the flag out or use another --out)"
            )
    if options.steps is not None and options.steps <= saved.step:  # before the data is even loaded
        raise already_reached(saved.step, options.steps, options, 0)
    return saved, config


def new_config(options: TrainOptions, model: str, out: Path) -> R.TrainConfig:
    """A fresh run's config: the model's defaults, overridden by the flags given."""
    if (out / "checkpoint.npz").exists() and not options.overwrite:
        raise UsageError(f"{out} already holds a checkpoint: add --resume to continue it, --overwrite to start again")
    try:
        # The defining flags are TrainConfig's fields (None: the model's default).
        return R.TrainConfig.for_model(
            model,
            **{key: getattr(options, key) for key in DEFINING_FLAGS if key != "model"},
            data_dir=options.data_dir,
        )
    except ValueError as e:
        raise UsageError(one_line(e)) from None


def already_reached(step: int, total: int, options: TrainOptions, steps_per_epoch: int) -> UsageError:
    """``--resume`` to a total the checkpoint has already reached: say what to pass instead.

    ``--steps`` and ``--epochs`` count from the start of the run, not from the checkpoint;
    reading them as "this many more" is the natural mistake, so the message gives the total
    that would mean that.
    """
    if options.epochs is not None:
        done = math.ceil(step / max(1, steps_per_epoch))
        return UsageError(
            f"the checkpoint is already at step {step} (epoch {step / max(1, steps_per_epoch):.3g}) and --epochs "
            f"{options.epochs} ends at step {total}; --epochs is the total number of passes, "
            f"pass --epochs {done + options.epochs} to train {options.epochs} more"
        )
    if options.steps is not None:
        return UsageError(
            f"the checkpoint is already at step {step}; --steps is the total step count, "
            f"pass --steps {step + options.steps} to train {options.steps} more"
        )
    return UsageError(
        f"the checkpoint is already at step {step}, the run's target; "
        f"pass --steps N (the total, above {step}) to train further"
    )


# ----------------------------------------------------------------------------
# 3. The data
# ----------------------------------------------------------------------------
def training_data(options: TrainOptions, config: R.TrainConfig, saved: Any) -> tuple[Any, dict[str, Any]]:
    """The trainer's data source and a description of it (for config.json / metrics.json).

    Also sizes ``config`` for the data (:meth:`TrainConfig.fit_data`) before any model is built,
    and, on ``--resume``, checks that the data still fits the checkpoint's models.
    """
    spec = config.spec
    if spec.data != "images" and not config.dataset.startswith("csv:"):
        mixture = toy.ring_2d() if spec.data == "ring" else toy.grid_2d()
        return mixture, {"name": spec.data, "source": repr(mixture), "n_modes": mixture.n_modes}
    name = config.dataset
    if saved is not None and saved.extra.get("dataset", {}).get("name") and sources.parse_source(name) is None:
        name = saved.extra["dataset"]["name"]  # what the run really used: "auto" may resolve differently now
    ds = load_examples(options, config, name)
    fit_data(config, ds, saved)
    say(options.quiet, f"data: {ds.source}")
    images = ds.images.reshape(len(ds), -1) if spec.flat else ds.images  # (N, C, H, W) -> (N, C*H*W)
    arrays = (images, ds.labels) if config.resolved_num_classes is not None else (images,)
    try:
        # On a GPU the data set goes there once; the steps then copy nothing from the host.
        device = not B.get_backend().on_host
        batches = loader.DataLoader(
            *arrays, batch_size=config.batch_size, seed=config.seed, drop_last=True, on_device=device
        )
    except ValueError as e:
        raise UsageError(f"--batch-size: {one_line(e)}") from None
    info = {"name": ds.name, "split": ds.split, "source": ds.source, "n_images": len(ds)}
    if sources.parse_source(name) is not None:
        # So that --resume can tell whether the files changed under the run.
        info["fingerprint"] = sources.fingerprint(ds)
        info["class_names"] = list(ds.class_names)
    return batches, info


def load_examples(options: TrainOptions, config: R.TrainConfig, name: str) -> Any:
    """The examples of data set ``name``: your own (``KIND:PATH``) or a built-in one, resized if asked."""
    spec = config.spec
    data_dir = options.data_dir if options.data_dir is not None else config.data_dir
    try:
        if sources.parse_source(name) is not None:
            return sources.load_source(
                name,
                image_size=config.image_size,
                channels=config.channels,
                strict=options.strict_data,
                value_range=spec.value_range,
                limit=config.limit,
            )
        ds = loader.load_dataset(
            name,
            data_dir=data_dir,
            download=not options.no_download,
            value_range=spec.value_range,
            seed=config.seed,
            n=config.limit,
        )
        if config.image_size is not None or config.channels is not None:
            ds.images = sources.convert_images(ds.images, config.image_size, config.channels)
        return ds
    except (mnist.DatasetUnavailable, mnist.IDXError, OSError, ValueError) as e:
        summary = e.summary() if isinstance(e, mnist.MNISTNotFound) else one_line(e)
        raise UsageError(summary if isinstance(e, sources.DataError) else f"--dataset {name}: {summary}") from None


def fit_data(config: R.TrainConfig, ds: Any, saved: Any) -> None:
    """Size a new run's models for the examples; a resumed run's models must already fit them."""
    shape = tuple(ds.images.shape[1:])
    classes = len(ds.class_names) or None
    if saved is None:
        try:
            config.fit_data(shape, classes)
        except ValueError as e:
            raise UsageError(f"--model {config.model}: {one_line(e)}") from None
        return
    made = config.resolved_image_shape or (config.point_dim or 2,)
    if shape != tuple(made) or (config.resolved_num_classes not in (None, classes)):
        theirs = f"{config.resolved_num_classes} classes" if config.resolved_num_classes else ""
        raise UsageError(
            f"--resume: the data's examples are {shape_text(shape)}{f' in {classes} classes' if theirs else ''} "
            f"but the checkpoint's models take {shape_text(made)}{f' in {theirs}' if theirs else ''}"
        )


def check_same_data(saved: Any, config: R.TrainConfig, dataset_info: dict[str, Any]) -> None:
    """``--resume`` on your own data: refused if the files changed (the batches would not be the same)."""
    if saved is None or saved.extra.get("dataset", {}).get("fingerprint") in (None, dataset_info.get("fingerprint")):
        return
    then, now = saved.extra["dataset"].get("n_images"), dataset_info.get("n_images")
    raise UsageError(
        f"--resume: the data of {config.dataset} changed since the checkpoint ({then} examples then, {now} now); "
        "the resumed run would not see the same batches: put the data back, or start a new run (--overwrite)"
    )


# ----------------------------------------------------------------------------
# 4. The run
# ----------------------------------------------------------------------------
def build_run(
    options: TrainOptions, config: R.TrainConfig, data: Any, dataset_info: dict[str, Any], saved: Any
) -> R.TrainingRun:
    """The models, optimizers and trainer, and the step to train up to (``config.steps``)."""
    try:
        # On a GPU the checks wait for the numbers' read-back (every --log-every steps and before each
        # checkpoint) instead of making every step wait for them.
        stop = ("deferred" if not B.get_backend().on_host else True) if options.stop_on_nan else False
        run = R.TrainingRun(config, data, dataset_info, stop_on_nan=stop)
    except ValueError as e:
        raise UsageError(one_line(e)) from None
    if options.epochs is not None:  # each step takes d_steps real batches
        config.steps = max(1, options.epochs * len(data) // run.trainer.d_steps)
    elif options.steps is not None:
        config.steps = options.steps
    elif saved is None:
        config.steps = R.TrainConfig.for_model(config.model).steps
    # (resumed without --steps/--epochs: the checkpoint's target)
    if saved is not None and config.steps <= saved.step:  # nothing to train: write nothing either
        steps_per_epoch = len(data) // run.trainer.d_steps if hasattr(data, "__len__") else 0
        raise already_reached(saved.step, config.steps, options, steps_per_epoch)
    return run


#: The metrics ``--eval-every`` adds to a history record (as ``eval_<name>``) and to metrics.json.
EVAL_KEYS = ("is", "fid", "kid", "precision", "recall", "classes_covered", "kl_to_uniform")


class Evaluator:
    """``--eval-every``: calling it scores ``run.G`` now against a reference computed once.

    The reference is the first ``n`` test images of the data set the run trains on
    (MNIST, or the glyph digits, both judged by the shipped MNIST classifier). No Parzen
    estimate here: at ~10 s per evaluation it would dominate short runs; `minigan evaluate`
    computes it for a finished run. The samples come from a fixed seed of their own, so
    evaluating does not change the training (a run with and without it ends bit for bit equal).
    """

    def __init__(self, run: R.TrainingRun, n: int, data_dir: str | None = None) -> None:
        name = run.dataset_info.get("name")
        if name not in ("mnist", "glyphs"):
            raise UsageError(f"--eval-every: no classifier for {name!r} yet (the metrics judge MNIST and glyph digits)")
        try:
            data_dir = data_dir if data_dir is not None else run.config.data_dir
            self.reference = metrics.mnist_reference(name, n, data_dir=data_dir, parzen=False)
        except (mnist.DatasetUnavailable, mnist.IDXError, OSError, ValueError) as e:
            raise UsageError(f"--eval-every: {one_line(e)}") from None
        self.run = run
        self.n = n

    def __call__(self) -> dict[str, Any]:
        config = self.run.config
        return metrics.evaluate_generator(
            self.run.sampler,  # the EMA of G when the run keeps one
            self.n,
            real_images=self.reference,
            latent_dim=config.resolved_latent_dim(),
            value_range=config.spec.value_range,
            num_classes=config.resolved_num_classes,
            seed=config.seed,
        )


# ----------------------------------------------------------------------------
# 5. The session: progress, samples, evaluations, and how the run ends
# ----------------------------------------------------------------------------
class TrainingSession:
    """One `minigan train` loop: :meth:`on_step` is the run's per-step callback.

    What the callback shares with the rest of the loop is here, as attributes:

    - ``run``, ``out``, ``ckpt_path``, ``total`` (the step to train up to);
    - ``sample_every``: a sample grid (and, without a bar, a log line) every this many steps;
    - ``bar``: the tqdm progress bar on a terminal, else None;
    - ``last_eval``: the latest scores of ``evaluator`` (``--eval-every``), for metrics.json;
    - ``started``: the wall-clock start, for the timings.
    """

    def __init__(self, options: TrainOptions, run: R.TrainingRun, out: Path, evaluator: Evaluator | None) -> None:
        self.options = options
        self.run = run
        self.out = out
        self.ckpt_path = out / "checkpoint.npz"
        self.evaluator = evaluator
        self.total = run.config.steps
        every = options.sample_every
        self.sample_every = every if every is not None else max(1, self.total // 10)
        self.toy2d = run.config.spec.data != "images"
        self.bar: Any = None
        self.last_eval: dict[str, Any] = {}
        self.started = time.perf_counter()

    def train(self) -> int:
        """Train to ``total``, then write the outputs; returns the exit status."""
        self.start()
        interrupted = False
        try:
            minutes = self.options.max_minutes
            self.run.train(
                self.total,
                on_step=self.on_step,
                checkpoint_path=self.ckpt_path,
                checkpoint_every=self.options.checkpoint_every,
                deadline=None if minutes is None else self.started + 60.0 * minutes,
            )
        except KeyboardInterrupt:  # TrainingRun.train has saved a checkpoint at a step boundary
            interrupted = True
        except TrainingDiverged as e:  # no checkpoint of the diverged state: the last good one stays
            self.close_bar()
            print(f"minigan train: {e} Stopped; {kept_checkpoint(self.ckpt_path)}.", file=sys.stderr)
            return 3
        finally:
            self.close_bar()
        return self.finish(interrupted)

    def start(self) -> None:
        """The header line, the progress bar, and the grid of the starting generator."""
        config, run = self.run.config, self.run
        dataset = run.dataset_info.get("name", "?")
        # Printed (and flushed) before the bar exists: printed after, it lands on the bar's line.
        say(
            self.options.quiet,
            f"training {config.model} ({config.loss}) on {dataset} from step {run.step} to {self.total}; "
            f"writing {self.out}",
        )
        if not self.options.quiet and sys.stdout.isatty():
            from tqdm import tqdm  # looked up now, not at import: `minigan --help` stays fast

            initial = min(run.step, self.total)
            self.bar = tqdm(total=self.total, initial=initial, unit="step", dynamic_ncols=True, desc=config.model)
        no_grids = not any(self.out.glob("samples_*.png")) and not any(self.out.glob("scatter_*.png"))
        if run.step == 0 or no_grids:
            self.save_samples()

    def on_step(self, run: R.TrainingRun, record: dict[str, Any]) -> None:
        """After each step: evaluate, advance the bar, save a grid, as their ``--*-every`` say.

        ``record`` is the trainer's history entry of the step; its numbers may still be on the
        device, and reading one waits for them, so it is read only every ``--log-every`` steps.
        """
        options = self.options
        if self.evaluator is not None and run.step % options.eval_every == 0:
            self.evaluate(record)
        if self.bar is not None:
            self.bar.update(1)
            if run.step % options.log_every == 0 or run.step == self.total:  # reading brings it to the host
                self.bar.set_postfix_str(
                    f"d_loss {record['d_loss']:.3f} g_loss {record['g_loss']:.3f} "
                    f"D(x) {record['d_real']:.3f} D(G(z)) {record['d_fake']:.3f}",
                    refresh=False,
                )
        if self.sample_every and run.step % self.sample_every == 0:
            self.save_samples()
            if self.bar is None:
                say(
                    options.quiet,
                    f"step {run.step}/{self.total}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
                    f"D(x) {record['d_real']:.3f}  D(G(z)) {record['d_fake']:.3f}  "
                    f"[{time.perf_counter() - self.started:.0f} s]",
                )

    def save_samples(self) -> None:
        """The generator on the fixed noise now: an image grid, or a scatter plot of points."""
        run, config = self.run, self.run.config
        x = run.sample_fixed()
        title = f"{config.model}, step {run.step}"
        if not self.toy2d:
            nrow = config.resolved_num_classes  # conditional: one column per class
            save_image_grid(x, self.out / f"samples_{run.step:04d}.png", nrow=nrow, value_range=config.spec.value_range)
        elif hasattr(run.data, "means"):  # a toy mixture: its modes are drawn too
            vtoy.scatter_2d(
                self.out / f"scatter_{run.step:04d}.png", x, run.data.means, sigma=run.data.sigma, title=title
            )
        else:  # csv: points
            vtoy.scatter_points(self.out / f"scatter_{run.step:04d}.png", x, run.data.arrays[0], title=title)

    def evaluate(self, record: dict[str, Any]) -> None:
        """Score the generator now into ``record`` and ``last_eval``, and show the scores."""
        assert self.evaluator is not None
        values = self.evaluator()
        # The record is the trainer's history entry of this step: the scores land in history.csv
        # and in the checkpoint's history (so they survive --resume).
        record.update({f"eval_{k}": values[k] for k in EVAL_KEYS})
        self.last_eval = {"step": self.run.step, "n": values["n_fake"], **values}
        message = (
            f"eval step {self.run.step}: IS {values['is']:.2f}  FID {values['fid']:.2f}  KID {values['kid']:.4f}  "
            f"precision {values['precision']:.2f}  recall {values['recall']:.2f}  "
            f"classes {values['classes_covered']}/10"
        )
        if self.bar is not None:
            self.bar.write(message)  # above the bar, which stays on the last line
        else:
            say(self.options.quiet, message)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self, interrupted: bool) -> int:
        """The last evaluation and grid, the outputs, and the closing message; returns the exit status."""
        run, every = self.run, self.options.eval_every
        if self.evaluator is not None and not interrupted and run.trainer.history and run.step % every != 0:
            self.evaluate(run.trainer.history[-1])  # the final generator is always scored
            run.save(self.ckpt_path)  # so the checkpoint's history holds that last evaluation too
        wall = time.perf_counter() - self.started
        if not interrupted and not (self.sample_every and run.step % self.sample_every == 0):
            self.save_samples()
        write_outputs(run, self.out, wall, interrupted, self.last_eval or None)
        if interrupted:
            print(
                f"interrupted at step {run.step}: checkpoint saved to {self.ckpt_path}; continue with "
                f"`minigan train --out {self.out} --resume --steps {self.total}`",
                file=sys.stderr,
            )
            return 130
        m = R.summarize_history(run.trainer.history)
        if run.time_limited:
            say(
                self.options.quiet,
                f"--max-minutes {self.options.max_minutes:g} reached at step {run.step} of {self.total}; continue "
                f"with `minigan train --out {self.out} --resume --steps {self.total}`",
            )
        say(
            self.options.quiet,
            f"done: {run.step} steps in {wall:.1f} s; D(x) {m.get('d_real', float('nan')):.3f}, "
            f"D(G(z)) {m.get('d_fake', float('nan')):.3f} (means of the last {m.get('averaged_over_steps', 0)} "
            f"steps); see {self.out}/metrics.json and {self.out}/progress.gif",
        )
        return 0


def kept_checkpoint(path: Path) -> str:
    """What is left on disk after a diverged run (which writes no checkpoint of its own)."""
    try:
        step = checkpoint.read(path).step
    except (checkpoint.CheckpointError, OSError):
        return "no checkpoint had been written yet"
    return f"the last good checkpoint (step {step}, {path}) is kept, not overwritten with the diverged state"


# ----------------------------------------------------------------------------
# 6. The outputs
# ----------------------------------------------------------------------------
def write_outputs(
    run: R.TrainingRun, out: Path, wall: float, interrupted: bool, evaluation: dict[str, Any] | None = None
) -> None:
    """history.csv, the curves, progress.gif and metrics.json (with the last scores, if any)."""
    toy2d = run.config.spec.data != "images"
    history = run.trainer.history
    R.write_history_csv(history, out / "history.csv")
    if history:
        plot_history(run.trainer.history_columns(), out)
    frames = sorted(out.glob("scatter_*.png" if toy2d else "samples_*.png"), key=_step_of)
    if frames:
        save_gif(frames, out / "progress.gif", fps=4.0, captions=[f"step {_step_of(f)}" for f in frames])
    final = {
        "model": run.config.model,
        "loss": run.config.loss,
        "dataset": run.dataset_info.get("name"),
        "dataset_used": run.dataset_info,
        **run.metrics(),
        "wall_seconds": round(wall, 2),
        "backend": B.get_backend().name,
        "interrupted": interrupted,
    }
    if evaluation:
        final["eval"] = evaluation  # the last --eval-every scores (every one is in history.csv)
    if toy2d:
        final.update(final_scatter(run, out))
    write_json(out / "metrics.json", final)


def _step_of(path: Path) -> int:
    return int(path.stem.rsplit("_", 1)[1])


def final_scatter(run: R.TrainingRun, out: Path) -> dict[str, Any]:
    """scatter.png of a 2-D run; for a toy mixture also its mode counts (returned, for metrics.json)."""
    model = run.config.model
    if not hasattr(run.data, "means"):  # csv: points: no modes to count
        vtoy.scatter_points(out / "scatter.png", run.sample_fixed(), run.data.arrays[0], title=model)
        return {}
    samples = run.trainer.sample_fixed()  # a Tensor on the active backend
    scores = toy.mode_metrics(samples, run.data)
    vtoy.scatter_2d(
        out / "scatter.png", samples, run.data.means, sigma=run.data.sigma,
        title=f"{model}: {scores['modes']}/{scores['n_modes']} modes, {scores['high_quality']:.1f}% high quality",
    )  # fmt: skip
    return scores


# ----------------------------------------------------------------------------
# 7. The 1-D experiments: gaussian-1d, mixture-1d
# ----------------------------------------------------------------------------
#: Flags of the image and 2-D runs that the 1-D experiment has no use for.
NOT_FOR_1D = {
    "--resume": "resume",
    "--dataset": "dataset",
    "--data-dir": "data_dir",
    "--limit": "limit",
    "--epochs": "epochs",
    "--d-steps": "d_steps",
    "--g-steps": "g_steps",
    "--init": "init",
    "--latent-dim": "latent_dim",
    "--eval-every": "eval_every",
    "--beta2": "beta2",
    "--g-lr": "g_lr",
    "--d-lr": "d_lr",
    "--r1-gamma": "r1_gamma",
    "--ema": "ema",
    "--augment": "augment",
    "--max-minutes": "max_minutes",
}


def train_toy_1d(options: TrainOptions, model: str, out: Path) -> int:
    """gaussian-1d / mixture-1d: the Gaussian-fitting experiment, minigan.gan.experiments.run_gaussian_1d."""
    for flag, key in NOT_FOR_1D.items():
        if getattr(options, key) not in (None, False):  # (0 == False: --eval-every 0 is "never")
            raise UsageError(f"{flag} does not apply to {model} (the 1-D Gaussian-fitting experiment)")
    mixture = model == "mixture-1d"
    kwargs: dict[str, Any] = {"seed": options.seed or 0, "generator": "mlp" if mixture else "linear"}
    if mixture:
        kwargs["mixture"] = "far"
    if options.loss is not None:
        kwargs["loss"] = options.loss
    if options.batch_size is not None:
        kwargs["batch_size"] = options.batch_size
    if options.lr is not None:
        kwargs["lr"] = options.lr
    if options.beta1 is not None:
        kwargs["betas"] = (options.beta1, 0.999)
    mu = 4.0 if options.mu is None else options.mu
    sigma = options.sigma if options.sigma is not None else (0.5 if mixture else 1.25)
    steps = options.steps or 3000
    say(options.quiet, f"training {model} on N({mu:g}, {sigma:g}{', two modes' if mixture else ''}) for {steps} steps")
    started = time.perf_counter()
    try:
        result = experiments.run_gaussian_1d(mu, sigma, steps, out, **kwargs)
    except ValueError as e:
        raise UsageError(one_line(e)) from None
    say(
        options.quiet,
        f"done in {time.perf_counter() - started:.1f} s: generated mean {result['gen_mean']:.3f}, "
        f"std {result['gen_std']:.3f}, D(x) {result['d_real']:.3f}; see {out}/metrics.json",
    )
    return 0
