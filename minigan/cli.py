"""The ``minigan`` command line (also ``python -m minigan``).

One ``argparse`` parser with a sub-command per task. Each sub-command lives
in a pair of functions, so adding one (``train``, ``sample``) touches nothing
else:

- ``add_<name>_command(subparsers)`` declares its arguments and sets
  ``func=<handler>`` as the parser's default;
- ``<handler>(args) -> int`` does the work and returns the exit status.

Errors a user can cause (an unknown model name, a bad option, a missing file,
a data set that cannot be found) print a single ``minigan: error: ...`` line
and exit with status 2, without a traceback.

Sub-commands:

- ``minigan summary NAME``: the Keras-style table of a seed architecture, or both
  tables of a GAN named as ``train --model`` names it (``mlp-gan``);
  ``minigan summary --list`` lists the names.
- ``minigan train``: train a GAN (``--model``, ``--dataset``, ``--loss``, ...) and
  write sample grids, a GIF, curves, ``history.csv``, ``metrics.json`` and a
  resumable ``checkpoint.npz`` into ``--out``. The run itself (models,
  optimizers, exact resuming, Ctrl-C) is :mod:`minigan.gan.run`; this module
  adds the data sets, the progress bar and the pictures.
- ``minigan sample``: rebuild the generator of a checkpoint and draw a grid.
- ``minigan evaluate``: score the generator of a checkpoint with the classifier-based
  metrics of :mod:`minigan.metrics` (IS, FID, KID, precision/recall, class coverage,
  Parzen log-likelihood) and write them to ``eval.json`` beside it. ``minigan train --eval-every N``
  computes the same metrics (Parzen aside) during training, into the history.

Read next: ``minigan/__main__.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------
# minigan summary
# ----------------------------------------------------------------------------
def add_summary_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "summary",
        help="print a model's layers, output shapes and parameter counts (Keras-style)",
        description="Print the Keras-style summary table of a registered model: each layer's name and type, "
        "output shape and parameter count, then Total / Trainable / Non-trainable params. "
        "BatchNorm running statistics count as non-trainable, as in Keras.",
    )
    p.add_argument(
        "name", nargs="?", help="a GAN as `train --model` names it (mlp-gan: both tables), or one network "
        "(mlp-discriminator); see --list"
    )  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the available model names and exit")
    p.add_argument("--latent-dim", type=int, default=None, help="noise size of a generator (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (does not change the counts)")
    p.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from minigan import models  # imported here so `minigan --help` stays fast
    from minigan.gan import run as R

    pairs = list(R.MODEL_NAMES)  # what `minigan train --model` takes: a generator and a discriminator
    if args.list:
        width = max(len(n) for n in [*models.names(), *pairs])
        for name in models.names():
            meta = models.info(name)
            print(f"{name.ljust(width)}  {meta.role:<13}  {meta.description}")
        for name in pairs:
            spec = R.GAN_MODELS.get(name)
            nets = f"{spec.generator} + {spec.discriminator}" if spec else "the 1-D Gaussian-fitting experiment's pair"
            print(f"{name.ljust(width)}  {'GAN pair':<13}  `train --model {name}`: {nets}")
        return 0
    if args.name is None:
        raise UsageError("summary needs a model NAME (or --list to see them)")
    if args.name not in models.names() and args.name not in pairs:
        import difflib

        close = difflib.get_close_matches(args.name, [*pairs, *models.names()], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"unknown model {args.name!r}{hint}; GAN pairs (as in train --model): {', '.join(pairs)}; "
            f"single networks: {', '.join(models.names())}"
        )
    if args.latent_dim is not None:
        role = "GAN pair" if args.name in pairs else models.info(args.name).role
        if role not in ("generator", "GAN pair"):
            raise UsageError(f"--latent-dim applies to generators; {args.name} is a {role}")
        if args.latent_dim < 1:
            raise UsageError(f"--latent-dim must be >= 1, got {args.latent_dim}")
    if args.name in pairs:
        generator, discriminator = _pair_summaries(args.name, args.seed, args.latent_dim)
        print(f"{generator}\n\n{discriminator}")
        return 0
    kwargs = {} if args.latent_dim is None else {"latent_dim": args.latent_dim}
    print(models.summarize(args.name, rng=args.seed, **kwargs))
    return 0


def _pair_summaries(model: str, seed: int, latent_dim: int | None) -> tuple[Any, Any]:
    """The Keras-style tables of the generator and discriminator `minigan train --model MODEL` builds."""
    from minigan import backend as B
    from minigan import models
    from minigan.gan import run as R

    logits = "Output: logits (no final sigmoid; the GAN losses apply it, numerically stable)."
    if model in R.TOY_1D_MODELS:  # what _train_toy_1d runs: minigan.gan.experiments.run_gaussian_1d
        from minigan.gan.experiments import build_1d_generator

        kind = "mlp" if model == "mixture-1d" else "linear"
        latent = latent_dim or (4 if kind == "mlp" else 1)  # run_gaussian_1d's defaults
        root = B.Generator(seed)
        G = build_1d_generator(kind, root.spawn(), latent_dim=latent)
        D = models.build("gaussian-1d-discriminator", rng=root.spawn())
        names, d_shape = (f"{kind} 1-D generator", "gaussian-1d-discriminator"), (1,)
    else:
        config = R.TrainConfig.for_model(model, latent_dim=latent_dim, seed=seed)
        G, D = R.build_models(config)
        latent = config.resolved_latent_dim()
        names = (config.spec.generator, config.spec.discriminator)
        spec = config.spec
        d_shape = (2,) if spec.data != "images" else (784,) if spec.flat else (1, 28, 28)
    return (
        G.summarize((latent,), name=f"{model} generator ({names[0]})"),
        D.summarize(d_shape, name=f"{model} discriminator ({names[1]})", note=logits),
    )


# ----------------------------------------------------------------------------
# minigan train
# ----------------------------------------------------------------------------
TRAIN_EPILOG = """\
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
  minigan train --out runs/quickstart --resume --steps 3000   # continue to step 3000
  minigan train --model gaussian-1d --steps 3000 --out runs/gauss --mu 4 --sigma 1.25
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    from minigan.gan.run import MODEL_NAMES

    p = subparsers.add_parser(
        "train",
        help="train a GAN and write samples, curves, metrics and a resumable checkpoint",
        description="Train a GAN. Defaults follow the DCGAN paper (Radford et al., 2015): Adam with learning\n"
        "rate 2e-4 and beta1 0.5, batch size 128, weights drawn from N(0, 0.02), LeakyReLU(0.2) in the\n"
        "architectures. With no arguments it trains the MLP GAN on MNIST (or, offline, on the built-in\n"
        "glyph digits) for a few minutes on a laptop CPU. Ctrl-C stops after the current step and saves\n"
        "a checkpoint; --resume continues it exactly.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("what to train")
    what.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help="mlp-gan (default), conv-gan, dcgan, dcgan-fast (the fast recipe: spectral norm, EMA of G), cgan "
        "(class-conditional MLP GAN); toys: ring-2d, grid-2d "
        "(2-D mixtures), gaussian-1d, mixture-1d (the Gaussian-fitting experiment)",
    )
    what.add_argument(
        "--dataset",
        choices=("auto", "mnist", "fashion-mnist", "glyphs"),
        default=None,
        help="image data (default auto: MNIST if on disk or downloadable, else the offline glyph digits)",
    )
    what.add_argument("--data-dir", default=None, help="folder to look for the MNIST files in first")
    what.add_argument("--no-download", action="store_true", help="never download MNIST; use only local files")
    what.add_argument(
        "--limit", type=_int_at_least(1), default=None, help="use only the first N training images (quick runs)"
    )
    what.add_argument(
        "--loss",
        choices=("minimax", "non-saturating", "wasserstein", "wgan-gp", "lsgan", "hinge"),
        default=None,
        help="GAN objective (default non-saturating)",
    )
    what.add_argument("--mu", type=float, default=None, help="gaussian-1d / mixture-1d: centre of the data (4)")
    what.add_argument(
        "--sigma", type=_positive_float, default=None, help="gaussian-1d / mixture-1d: standard deviation (1.25 / 0.5)"
    )

    how = p.add_argument_group("how long and how")
    length = how.add_mutually_exclusive_group()
    length.add_argument(
        "--steps",
        type=_int_at_least(1),
        default=None,
        help="total training steps, one D phase + one G phase each (default: 4000 for mlp-gan, 8000 for "
        "dcgan-fast, 1000 for the other image models, 5000 for ring-2d/grid-2d, 3000 for the 1-D toys); "
        "with --resume, the step to continue up to",
    )
    length.add_argument("--epochs", type=_int_at_least(1), default=None, help="train for N passes over the data")
    how.add_argument(
        "--max-minutes", type=_positive_float, default=None, help="stop at the first step boundary after M minutes "
        "of training, as if --steps were reached (checkpoint, samples, metrics); --resume continues the run"
    )  # fmt: skip
    how.add_argument(
        "--batch-size",
        type=_int_at_least(1),
        default=None,
        help="samples per batch (default 128; dcgan-fast 32; toys 256/512)",
    )
    how.add_argument(
        "--lr", type=_positive_float, default=None, help="Adam learning rate (default 2e-4; dcgan-fast 5e-4; toys 1e-3)"
    )
    how.add_argument("--beta1", type=float, default=None, help="Adam beta1 (default 0.5)")
    how.add_argument("--beta2", type=float, default=None, help="Adam beta2 (default 0.999)")
    how.add_argument(
        "--g-lr", type=_positive_float, default=None, help="G's learning rate when it differs from --lr (two "
        "time-scale updates, TTUR)"
    )  # fmt: skip
    how.add_argument("--d-lr", type=_positive_float, default=None, help="D's learning rate when it differs from --lr")
    how.add_argument(
        "--r1-gamma", type=float, default=None, help="weight of the R1 penalty on D's gradient at real data "
        "(default 0: off; 1-10 are usual)"
    )  # fmt: skip
    how.add_argument(
        "--ema", type=float, default=None, help="decay of a moving average of G's weights that samples and "
        "evaluations use, e.g. 0.999 (default 0: off; dcgan-fast 0.999)"
    )  # fmt: skip
    how.add_argument(
        "--augment", default=None, help="DiffAugment policy for D's inputs: comma-separated color, translation, "
        "cutout, e.g. translation,cutout; 'none' turns it off (default off)"
    )  # fmt: skip
    how.add_argument(
        "--d-steps", type=_int_at_least(1), default=None, help="D updates per step (default: 5 for WGAN, else 1)"
    )
    how.add_argument("--g-steps", type=_int_at_least(1), default=None, help="G updates per step (default 1)")
    how.add_argument("--latent-dim", type=_int_at_least(1), default=None, help="size of z (default: the model's)")
    how.add_argument(
        "--init",
        choices=("dcgan_normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"),
        default=None,
        help="weight initialisation (default dcgan_normal, N(0, 0.02); conv-gan and the 2-D toys glorot_uniform)",
    )
    how.add_argument("--seed", type=int, default=None, help="seed of the weights, noise and data order (default 0)")
    how.add_argument(
        "--backend",
        choices=("numpy", "cupy", "strict"),
        default=None,
        help="array backend (default: $MINIGAN_BACKEND or numpy)",
    )

    out = p.add_argument_group("output")
    out.add_argument("--out", default=None, help="output folder (default runs/MODEL)")
    out.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint.npz")
    out.add_argument("--overwrite", action="store_true", help="start afresh even if --out already holds a checkpoint")
    out.add_argument(
        "--checkpoint-every", type=_int_at_least(0), default=500, help="save a checkpoint every N steps (0: only at "
        "the end and on Ctrl-C; default 500)"
    )  # fmt: skip
    out.add_argument(
        "--sample-every", type=_int_at_least(0), default=None, help="save a sample grid every N steps "
        "(default: 10 grids per run; 0: only before and after training)"
    )  # fmt: skip
    out.add_argument(
        "--log-every", type=_int_at_least(1), default=25, help="show the losses on the progress bar every N "
        "steps (default: 25); the numbers stay on the device in between, so on a GPU no step waits for them"
    )  # fmt: skip
    out.add_argument(
        "--stop-on-nan", action=argparse.BooleanOptionalAction, default=True, help="stop at the first NaN/Inf "
        "loss or gradient, keeping the last good checkpoint (default: on; on a GPU checked when the numbers are "
        "read back, every --log-every steps and before each checkpoint, so that no step waits for them)"
    )  # fmt: skip
    out.add_argument(
        "--eval-every", type=_int_at_least(0), default=0, help="image models: score the generator every N steps "
        "and at the end with minigan.metrics (IS, FID, KID, precision, recall, classes covered) into history.csv "
        "and metrics.json (default 0: never)"
    )  # fmt: skip
    out.add_argument(
        "--eval-n", type=_int_at_least(10), default=2000, help="samples (and real test images) per evaluation of "
        "--eval-every (default 2000; FID is biased at small N: compare values at the same N only)"
    )  # fmt: skip
    out.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no log lines")
    p.set_defaults(func=run_train)


# Flags that define a run (TrainConfig fields); checked against the checkpoint on --resume.
_DEFINING_FLAGS = {
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
}


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, flush=True)


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = text.splitlines()
    return lines[0] + (" (...)" if len(lines) > 1 else "")


def run_train(args: argparse.Namespace) -> int:
    from minigan import backend as B
    from minigan.gan import run as R

    if args.backend is not None:
        try:
            B.set_backend(args.backend)
        except B.BackendError as e:
            raise UsageError(_one_line(e)) from None
    for flag, value in (("--beta1", args.beta1), ("--beta2", args.beta2), ("--ema", args.ema)):
        if value is not None and not 0.0 <= value < 1.0:
            raise UsageError(f"{flag} must be in [0, 1), got {value}")
    if args.r1_gamma is not None and args.r1_gamma < 0.0:
        raise UsageError(f"--r1-gamma must be >= 0, got {args.r1_gamma}")
    if args.augment is not None:
        args.augment = "" if args.augment.strip().lower() == "none" else args.augment
        from minigan.gan.augment import DiffAugment

        try:
            DiffAugment(args.augment or "color")
        except ValueError as e:
            raise UsageError(f"--augment: {_one_line(e)}") from None
    model = args.model or "mlp-gan"
    if model not in R.GAN_MODELS and model not in R.TOY_1D_MODELS:  # pragma: no cover - argparse checks
        raise UsageError(f"unknown model {model!r}; choose one of: {', '.join(R.MODEL_NAMES)}")
    out = Path(args.out or os.path.join("runs", model))
    _check_writable(out, "--out", folder=True)
    if model in R.TOY_1D_MODELS:
        return _train_toy_1d(args, model, out)
    for flag, value in (("--mu", args.mu), ("--sigma", args.sigma)):
        if value is not None:
            raise UsageError(f"{flag} applies to gaussian-1d and mixture-1d, not {model}")
    if R.GAN_MODELS[model].data != "images":
        image_flags = (
            ("--dataset", args.dataset),
            ("--data-dir", args.data_dir),
            ("--limit", args.limit),
            ("--augment", args.augment or None),
        )
        for flag, value in (*image_flags, ("--eval-every", args.eval_every or None)):
            if value is not None:
                raise UsageError(f"{flag} applies to the image models, not {model} (its data is a 2-D mixture)")

    ckpt_path = out / "checkpoint.npz"
    saved = None
    if args.resume:
        saved = _read_run_checkpoint(ckpt_path, what="--resume")
        config = R.TrainConfig.from_dict(saved.extra["config"])
        for key, flag in _DEFINING_FLAGS.items():
            given = getattr(args, key, None)
            if key == "model":
                given = args.model
            if given is not None and given != getattr(config, key):
                raise UsageError(
                    f"--resume: {flag} {given} differs from the checkpoint's {getattr(config, key)!r} "
                    "(a resumed run keeps its settings; leave the flag out or use another --out)"
                )
        if args.steps is not None and args.steps <= saved.step:  # before the data is even loaded
            raise _already_reached(saved.step, args.steps, args, 0)
    else:
        if ckpt_path.exists() and not args.overwrite:
            raise UsageError(
                f"{out} already holds a checkpoint: add --resume to continue it, --overwrite to start again"
            )
        try:
            config = R.TrainConfig.for_model(
                model,
                loss=args.loss,
                batch_size=args.batch_size,
                lr=args.lr,
                beta1=args.beta1,
                beta2=args.beta2,
                g_lr=args.g_lr,
                d_lr=args.d_lr,
                r1_gamma=args.r1_gamma,
                ema=args.ema,
                augment=args.augment,
                d_steps=args.d_steps,
                g_steps=args.g_steps,
                seed=args.seed,
                init=args.init,
                latent_dim=args.latent_dim,
                dataset=args.dataset,
                data_dir=args.data_dir,
                limit=args.limit,
            )
        except ValueError as e:
            raise UsageError(_one_line(e)) from None

    data, dataset_info = _training_data(args, config, saved)
    if args.epochs is not None and not hasattr(data, "__len__"):
        raise UsageError(f"--epochs needs a finite data set; {config.model} samples its data: use --steps")
    try:
        # On a GPU the checks wait for the numbers' read-back (every --log-every steps and before each
        # checkpoint) instead of making every step wait for them.
        stop = ("deferred" if not B.get_backend().on_host else True) if args.stop_on_nan else False
        run = R.TrainingRun(config, data, dataset_info, stop_on_nan=stop)
    except ValueError as e:
        raise UsageError(_one_line(e)) from None
    if args.epochs is not None:  # each step takes d_steps real batches
        config.steps = max(1, args.epochs * len(data) // run.trainer.d_steps)
    elif args.steps is not None:
        config.steps = args.steps
    elif saved is None:
        config.steps = R.TrainConfig.for_model(config.model).steps
    # (resumed without --steps/--epochs: the checkpoint's target)
    if saved is not None and config.steps <= saved.step:  # nothing to train: write nothing either
        steps_per_epoch = len(data) // run.trainer.d_steps if hasattr(data, "__len__") else 0
        raise _already_reached(saved.step, config.steps, args, steps_per_epoch)
    out.mkdir(parents=True, exist_ok=True)
    if saved is not None:
        try:
            run.restore(ckpt_path)
        except Exception as e:  # CheckpointError: the file does not fit this model
            raise UsageError(f"--resume: {_one_line(e)}") from None
    elif args.overwrite:
        for old in [*out.glob("samples_*.png"), *out.glob("scatter_*.png")]:
            old.unlink()
    evaluate = _evaluator(args, run) if args.eval_every else None
    _write_json(
        out / "config.json", {**config.to_dict(), "dataset_used": dataset_info, "backend": B.get_backend().name}
    )
    return _train_loop(args, run, out, ckpt_path, evaluate)


#: The metrics ``--eval-every`` adds to a history record (as ``eval_<name>``) and to metrics.json.
EVAL_KEYS = ("is", "fid", "kid", "precision", "recall", "classes_covered", "kl_to_uniform")


def _evaluator(args: argparse.Namespace, run: Any) -> Callable[[], dict[str, float]]:
    """``--eval-every``: a function scoring ``run.sampler`` (G, or its EMA) now against a reference computed once.

    The reference is the first ``--eval-n`` test images of the data set the run trains on
    (MNIST, or the glyph digits, both judged by the shipped MNIST classifier). No Parzen
    estimate here: at ~10 s per evaluation it would dominate short runs; `minigan evaluate`
    computes it for a finished run. The samples come from a fixed seed of their own, so
    evaluating does not change the training (a run with and without it ends bit for bit equal).
    """
    from minigan import metrics
    from minigan.data import mnist

    name = run.dataset_info.get("name")
    if name not in ("mnist", "glyphs"):
        raise UsageError(f"--eval-every: no classifier for {name!r} yet (the metrics judge MNIST and glyph digits)")
    try:
        data_dir = args.data_dir if args.data_dir is not None else run.config.data_dir
        ref = metrics.mnist_reference(name, args.eval_n, data_dir=data_dir, parzen=False)
    except (mnist.DatasetUnavailable, mnist.IDXError, OSError, ValueError) as e:
        raise UsageError(f"--eval-every: {_one_line(e)}") from None
    config = run.config

    def evaluate() -> dict[str, float]:
        return metrics.evaluate_generator(
            run.sampler,  # the EMA of G when the run keeps one
            args.eval_n,
            real_images=ref,
            latent_dim=config.resolved_latent_dim(),
            value_range=config.spec.value_range,
            num_classes=config.spec.num_classes,
            seed=config.seed,
        )

    return evaluate


def _kept_checkpoint(path: Path) -> str:
    """What is left on disk after a diverged run (which writes no checkpoint of its own)."""
    from minigan import checkpoint

    try:
        step = checkpoint.read(path).step
    except (checkpoint.CheckpointError, OSError):
        return "no checkpoint had been written yet"
    return f"the last good checkpoint (step {step}, {path}) is kept, not overwritten with the diverged state"


def _read_run_checkpoint(path: Path, what: str) -> Any:
    """A checkpoint written by `minigan train`, or a one-line UsageError."""
    from minigan import checkpoint

    if not path.exists():
        hint = " (train first, without --resume)" if what == "--resume" else ""
        raise UsageError(f"{what}: no checkpoint at {path}{hint}")
    try:
        ckpt = checkpoint.read(path)
    except (checkpoint.CheckpointError, OSError) as e:
        raise UsageError(f"{what}: {_one_line(e)}") from None
    if "config" not in ckpt.extra or "generator" not in ckpt.extra["config"]:
        raise UsageError(f"{what}: {path} is a minigan checkpoint but not one written by `minigan train`")
    return ckpt


def _check_writable(path: Path, flag: str, *, folder: bool) -> None:
    """A one-line UsageError unless ``path`` (a folder, or a file) can be written.

    Checked before any work, so that an unwritable ``--out`` fails at once rather than
    after minutes of training or scoring. Nothing is created: the nearest folder that
    exists is probed with a temporary file, removed again; an existing file is opened
    for appending, which changes nothing. (``os.access`` would not do: it says yes to
    root whatever the permissions.)
    """
    try:
        if path.is_dir() != folder and path.exists():
            kind = "a folder" if path.is_dir() else "a file"
            raise UsageError(f"{flag} {path}: that is {kind}; give {'a folder' if folder else 'a file name'}")
        existing = path if folder else path.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"{flag} {path}: cannot write there, {existing} is a file, not a folder")
        fd, probe = tempfile.mkstemp(prefix=".minigan-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
        if not folder and path.exists():
            with open(path, "ab"):
                pass
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write there ({e.strerror or type(e).__name__})") from None


#: What `minigan train` writes into its --out folder; `sample` and `evaluate` never write over them.
RUN_FILES = ("checkpoint.npz", "config.json", "metrics.json", "history.csv", "progress.gif", "losses.png",
             "d_outputs.png", "grad_norms.png", "scatter.png")  # fmt: skip
RUN_FILE_PATTERNS = ("samples_*.png", "scatter_*.png")


def _refuse_run_file(path: Path, flag: str) -> None:
    """A UsageError if ``path`` is one of the files of a training run's folder."""
    run_folder = any((path.parent / name).exists() for name in ("checkpoint.npz", "config.json"))
    if run_folder and (path.name in RUN_FILES or any(path.match(p) for p in RUN_FILE_PATTERNS)):
        raise UsageError(f"{flag} {path}: that is a file of the training run in {path.parent}; choose another name")


def _already_reached(step: int, total: int, args: argparse.Namespace, steps_per_epoch: int) -> UsageError:
    """``--resume`` to a total the checkpoint has already reached: say what to pass instead.

    ``--steps`` and ``--epochs`` count from the start of the run, not from the checkpoint;
    reading them as "this many more" is the natural mistake, so the message gives the total
    that would mean that.
    """
    if args.epochs is not None:
        done = math.ceil(step / max(1, steps_per_epoch))
        return UsageError(
            f"the checkpoint is already at step {step} (epoch {step / max(1, steps_per_epoch):.3g}) and --epochs "
            f"{args.epochs} ends at step {total}; --epochs is the total number of passes, "
            f"pass --epochs {done + args.epochs} to train {args.epochs} more"
        )
    if args.steps is not None:
        return UsageError(
            f"the checkpoint is already at step {step}; --steps is the total step count, "
            f"pass --steps {step + args.steps} to train {args.steps} more"
        )
    return UsageError(
        f"the checkpoint is already at step {step}, the run's target; "
        f"pass --steps N (the total, above {step}) to train further"
    )


def _training_data(args: argparse.Namespace, config: Any, saved: Any) -> tuple[Any, dict[str, Any]]:
    """The trainer's data source and a description of it (for config.json / metrics.json)."""
    spec = config.spec
    if spec.data != "images":
        from minigan.data import toy

        mixture = toy.ring_2d() if spec.data == "ring" else toy.grid_2d()
        return mixture, {"name": spec.data, "source": repr(mixture), "n_modes": mixture.n_modes}

    from minigan import backend as B
    from minigan.data import DataLoader, load_dataset, mnist

    name = config.dataset
    if saved is not None and saved.extra.get("dataset", {}).get("name"):
        name = saved.extra["dataset"]["name"]  # what the run really used: "auto" may resolve differently now
    data_dir = args.data_dir if args.data_dir is not None else config.data_dir
    try:
        ds = load_dataset(
            name,
            data_dir=data_dir,
            download=not args.no_download,
            value_range=spec.value_range,
            seed=config.seed,
            n=config.limit,
        )
    except (mnist.DatasetUnavailable, mnist.IDXError, OSError, ValueError) as e:
        summary = e.summary() if isinstance(e, mnist.MNISTNotFound) else _one_line(e)
        raise UsageError(f"--dataset {name}: {summary}") from None
    images = ds.images.reshape(len(ds), -1) if spec.flat else ds.images
    arrays = (images, ds.labels) if spec.num_classes is not None else (images,)
    try:
        # On a GPU the data set goes there once; the steps then copy nothing from the host.
        device = not B.get_backend().on_host
        loader = DataLoader(*arrays, batch_size=config.batch_size, seed=config.seed, drop_last=True, on_device=device)
    except ValueError as e:
        raise UsageError(f"--batch-size: {_one_line(e)}") from None
    info = {"name": ds.name, "split": ds.split, "source": ds.source, "n_images": len(ds)}
    return loader, info


def _train_loop(
    args: argparse.Namespace,
    run: Any,
    out: Path,
    ckpt_path: Path,
    evaluate: Callable[[], dict[str, float]] | None = None,
) -> int:
    from minigan.gan import run as R
    from minigan.gan.trainer import TrainingDiverged

    config = run.config
    toy2d = config.spec.data != "images"
    total = config.steps
    every = args.sample_every if args.sample_every is not None else max(1, total // 10)
    started = time.perf_counter()

    def save_samples() -> None:
        x = run.sample_fixed()
        if toy2d:
            from minigan.viz import toy as vtoy

            vtoy.scatter_2d(
                out / f"scatter_{run.step:04d}.png", x, run.data.means, sigma=run.data.sigma,
                title=f"{config.model}, step {run.step}",
            )  # fmt: skip
        else:
            from minigan.viz import save_image_grid

            nrow = config.spec.num_classes  # conditional: one column per class
            save_image_grid(x, out / f"samples_{run.step:04d}.png", nrow=nrow, value_range=config.spec.value_range)

    dataset = run.dataset_info.get("name", "?")
    # Printed (and flushed) before the bar exists: printed after, it lands on the bar's line.
    _say(args, f"training {config.model} ({config.loss}) on {dataset} from step {run.step} to {total}; writing {out}")
    show_bar = not args.quiet and sys.stdout.isatty()
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=min(run.step, total), unit="step", dynamic_ncols=True, desc=config.model)
    if run.step == 0 or not any(out.glob("samples_*.png")) and not any(out.glob("scatter_*.png")):
        save_samples()

    last_eval: dict[str, Any] = {}

    def run_eval(record: dict[str, Any]) -> None:
        assert evaluate is not None
        values = evaluate()
        # The record is the trainer's history entry of this step: the scores land in history.csv
        # and in the checkpoint's history (so they survive --resume).
        record.update({f"eval_{k}": values[k] for k in EVAL_KEYS})
        last_eval.clear()
        last_eval.update({"step": run.step, "n": values["n_fake"], **values})
        message = (
            f"eval step {run.step}: IS {values['is']:.2f}  FID {values['fid']:.2f}  KID {values['kid']:.4f}  "
            f"precision {values['precision']:.2f}  recall {values['recall']:.2f}  "
            f"classes {values['classes_covered']}/10"
        )
        if bar is not None:
            bar.write(message)
        else:
            _say(args, message)

    def on_step(r: Any, record: dict[str, Any]) -> None:
        if evaluate is not None and r.step % args.eval_every == 0:
            run_eval(record)
        if bar is not None:
            bar.update(1)
            if r.step % args.log_every == 0 or r.step == total:  # reading the record brings it to the host
                bar.set_postfix_str(
                    f"d_loss {record['d_loss']:.3f} g_loss {record['g_loss']:.3f} "
                    f"D(x) {record['d_real']:.3f} D(G(z)) {record['d_fake']:.3f}",
                    refresh=False,
                )
        if every and r.step % every == 0:
            save_samples()
            if bar is None:
                _say(
                    args,
                    f"step {r.step}/{total}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
                    f"D(x) {record['d_real']:.3f}  D(G(z)) {record['d_fake']:.3f}  "
                    f"[{time.perf_counter() - started:.0f} s]",
                )

    interrupted = False
    try:
        deadline = started + 60.0 * args.max_minutes if args.max_minutes is not None else None
        run.train(
            total, on_step=on_step, checkpoint_path=ckpt_path, checkpoint_every=args.checkpoint_every, deadline=deadline
        )
    except KeyboardInterrupt:
        interrupted = True
    except TrainingDiverged as e:
        if bar is not None:
            bar.close()
            bar = None
        print(f"minigan train: {e} Stopped; {_kept_checkpoint(ckpt_path)}.", file=sys.stderr)
        return 3
    finally:
        if bar is not None:
            bar.close()
    if evaluate is not None and not interrupted and run.trainer.history and run.step % args.eval_every != 0:
        run_eval(run.trainer.history[-1])  # the final generator is always scored
        run.save(ckpt_path)  # so the checkpoint's history holds that last evaluation too
    wall = time.perf_counter() - started
    if not interrupted and not (every and run.step % every == 0):
        save_samples()
    _write_outputs(run, out, wall, interrupted, toy2d, last_eval or None)
    if interrupted:
        print(
            f"interrupted at step {run.step}: checkpoint saved to {ckpt_path}; continue with "
            f"`minigan train --out {out} --resume --steps {total}`",
            file=sys.stderr,
        )
        return 130
    m = R.summarize_history(run.trainer.history)
    if run.time_limited:
        _say(
            args,
            f"--max-minutes {args.max_minutes:g} reached at step {run.step} of {total}; continue with "
            f"`minigan train --out {out} --resume --steps {total}`",
        )
    _say(
        args,
        f"done: {run.step} steps in {wall:.1f} s; D(x) {m.get('d_real', float('nan')):.3f}, "
        f"D(G(z)) {m.get('d_fake', float('nan')):.3f} (means of the last {m.get('averaged_over_steps', 0)} steps); "
        f"see {out}/metrics.json and {out}/progress.gif",
    )
    return 0


def _step_of(path: Path) -> int:
    return int(path.stem.rsplit("_", 1)[1])


def _write_outputs(
    run: Any, out: Path, wall: float, interrupted: bool, toy2d: bool, evaluation: dict[str, Any] | None = None
) -> None:
    from minigan import backend as B
    from minigan.gan import run as R
    from minigan.viz import plot_history, save_gif

    history = run.trainer.history
    R.write_history_csv(history, out / "history.csv")
    if history:
        plot_history(run.trainer.history_columns(), out)
    frames = sorted(out.glob("scatter_*.png" if toy2d else "samples_*.png"), key=_step_of)
    if frames:
        save_gif(frames, out / "progress.gif", fps=4.0, captions=[f"step {_step_of(f)}" for f in frames])
    metrics = {
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
        metrics["eval"] = evaluation  # the last --eval-every scores (every one is in history.csv)
    if toy2d:
        from minigan.data import toy
        from minigan.viz import toy as vtoy

        samples = run.trainer.sample_fixed()  # a Tensor on the active backend
        scores = toy.mode_metrics(samples, run.data)
        metrics.update(scores)
        vtoy.scatter_2d(
            out / "scatter.png", samples, run.data.means, sigma=run.data.sigma,
            title=f"{run.config.model}: {scores['modes']}/{scores['n_modes']} modes, "
            f"{scores['high_quality']:.1f}% high quality",
        )  # fmt: skip
    _write_json(out / "metrics.json", metrics)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _train_toy_1d(args: argparse.Namespace, model: str, out: Path) -> int:
    """gaussian-1d / mixture-1d: the Gaussian-fitting experiment, minigan.gan.experiments.run_gaussian_1d."""
    from minigan.gan import experiments

    unsupported = {
        "--resume": args.resume,
        "--dataset": args.dataset,
        "--data-dir": args.data_dir,
        "--limit": args.limit,
        "--epochs": args.epochs,
        "--d-steps": args.d_steps,
        "--g-steps": args.g_steps,
        "--init": args.init,
        "--latent-dim": args.latent_dim,
        "--eval-every": args.eval_every or None,
        "--beta2": args.beta2,
        "--g-lr": args.g_lr,
        "--d-lr": args.d_lr,
        "--r1-gamma": args.r1_gamma,
        "--ema": args.ema,
        "--augment": args.augment,
        "--max-minutes": args.max_minutes,
    }
    for flag, value in unsupported.items():
        if value not in (None, False):
            raise UsageError(f"{flag} does not apply to {model} (the 1-D Gaussian-fitting experiment)")
    mixture = model == "mixture-1d"
    kwargs: dict[str, Any] = {"seed": args.seed or 0, "generator": "mlp" if mixture else "linear"}
    if mixture:
        kwargs["mixture"] = "far"
    if args.loss is not None:
        kwargs["loss"] = args.loss
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    if args.lr is not None:
        kwargs["lr"] = args.lr
    if args.beta1 is not None:
        kwargs["betas"] = (args.beta1, 0.999)
    mu = 4.0 if args.mu is None else args.mu
    sigma = args.sigma if args.sigma is not None else (0.5 if mixture else 1.25)
    steps = args.steps or 3000
    _say(args, f"training {model} on N({mu:g}, {sigma:g}{', two modes' if mixture else ''}) for {steps} steps")
    started = time.perf_counter()
    try:
        metrics = experiments.run_gaussian_1d(mu, sigma, steps, out, **kwargs)
    except ValueError as e:
        raise UsageError(_one_line(e)) from None
    _say(
        args,
        f"done in {time.perf_counter() - started:.1f} s: generated mean {metrics['gen_mean']:.3f}, "
        f"std {metrics['gen_std']:.3f}, D(x) {metrics['d_real']:.3f}; see {out}/metrics.json",
    )
    return 0


# ----------------------------------------------------------------------------
# minigan sample
# ----------------------------------------------------------------------------
def add_sample_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sample",
        help="draw samples from the generator of a `minigan train` checkpoint",
        description="Rebuild the generator stored in a checkpoint written by `minigan train` and save a grid "
        "of its samples as a PNG (a scatter plot for the 2-D toy models).",
    )
    p.add_argument("--checkpoint", required=True, help="the checkpoint.npz of a training run")
    p.add_argument("-n", type=_int_at_least(1), default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="the PNG to write (default samples.png)")
    p.add_argument("--label", type=int, default=None, help="conditional models: the class to draw (0-9)")
    p.add_argument("--nrow", type=_int_at_least(1), default=None, help="images per row (default: square)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from minigan import backend as B
    from minigan.backend import host_np as np
    from minigan.gan import run as R

    out = Path(args.out)
    _refuse_run_file(out, "--out")
    _check_writable(out, "--out", folder=False)
    ckpt = _read_run_checkpoint(Path(args.checkpoint), what="--checkpoint")
    config = ckpt.extra["config"]
    classes = config.get("num_classes")
    if args.label is not None:
        if classes is None:
            raise UsageError(f"--label needs a conditional model; this checkpoint is {config['model']!r}")
        if not 0 <= args.label < classes:
            raise UsageError(f"--label must be in 0..{classes - 1}, got {args.label}")
    G = R.build_generator(config)
    try:
        G.load_state_dict(R.sampling_state(ckpt))  # the EMA of G when the run kept one
    except Exception as e:
        raise UsageError(f"--checkpoint: {_one_line(e)}") from None
    labels = None
    nrow = args.nrow
    if classes is not None:
        if args.label is not None:
            labels = np.full((args.n,), args.label, dtype=np.int64)
        else:
            labels = np.arange(args.n, dtype=np.int64) % classes  # one column per class
            nrow = nrow or classes
    x = R.sample(G, args.n, config["latent_dim_resolved"], B.Generator(args.seed), labels)
    if config.get("image_shape"):
        from minigan.viz import save_image_grid

        x = x.reshape(args.n, *config["image_shape"])
        save_image_grid(x, out, nrow=nrow, value_range=tuple(config["value_range"]))
    else:
        from minigan.data import toy
        from minigan.viz import toy as vtoy

        mixture = toy.ring_2d() if config["model"] == "ring-2d" else toy.grid_2d()
        vtoy.scatter_2d(out, x, mixture.means, sigma=mixture.sigma, title=f"{config['model']}: {args.n} samples")
    print(f"wrote {out}")
    return 0


# ----------------------------------------------------------------------------
# minigan evaluate
# ----------------------------------------------------------------------------
EVALUATE_EPILOG = """\
what is measured (image models; see minigan/metrics/scores.py for the definitions):
  is, is_std           Inception Score of the samples under the shipped MNIST classifier (1..10)
  fid                  Frechet distance of the classifier's 128 features, samples vs test images
  kid, kid_std         kernel (MMD^2) distance of the same features, unbiased
  precision, recall    k-NN manifold precision and recall (k = 3) of the features
  classes_covered, kl_to_uniform   mode coverage of the ten digits
  parzen_ll, parzen_sem, parzen_sigma   Parzen-window log-likelihood of the test images (nats,
                       pixels in [0, 1], sigma chosen on the last N training images), as in the
                       GAN paper (225 +- 2 there); --no-parzen skips it
2-D toy models (ring-2d, grid-2d): modes, high_quality, reverse_kl of N samples instead.

FID is biased at small N: compare values measured with the same --n only.

examples:
  minigan evaluate --checkpoint runs/quickstart/checkpoint.npz      # writes runs/quickstart/eval.json
  minigan evaluate --checkpoint runs/dcgan/checkpoint.npz --n 2000 --no-parzen --data-dir /data
"""


def add_evaluate_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint's generator: IS, FID, KID, precision/recall, coverage, Parzen LL",
        description="Draw --n samples from the generator of a `minigan train` checkpoint and score them with the "
        "classifier-based metrics of minigan.metrics against the first --n test images of the data set the run "
        "trained on (MNIST, or the glyph digits; both judged by the MNIST classifier shipped with minigan).",
        epilog=EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="the checkpoint.npz of a training run")
    p.add_argument(
        "--n", type=_int_at_least(10), default=10000, help="samples, test images and Parzen validation images "
        "(default 10000, the GAN paper's protocol)"
    )  # fmt: skip
    p.add_argument(
        "--dataset", choices=("mnist", "glyphs"), default=None, help="the real images to compare with (default: "
        "the run's data set)"
    )  # fmt: skip
    p.add_argument("--data-dir", default=None, help="folder to look for the MNIST files in first")
    p.add_argument("--no-parzen", action="store_true", help="skip the Parzen-window log-likelihood (the slow part)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument(
        "--out", default=None, help="the JSON file to write (default: eval.json beside the checkpoint; never "
        "one of the training run's own files, such as its metrics.json)"
    )  # fmt: skip
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from minigan import metrics
    from minigan.data import mnist

    path = Path(args.checkpoint)
    # Checked first: scoring takes a while (~35 s at the default --n), and would be lost.
    out = Path(args.out) if args.out is not None else path.parent / "eval.json"
    _refuse_run_file(out, "--out")
    _check_writable(out, "--out", folder=False)
    ckpt = _read_run_checkpoint(path, what="--checkpoint")
    trained_on = (ckpt.extra.get("dataset") or {}).get("name")
    image_model = bool(ckpt.extra["config"].get("image_shape"))
    if image_model and args.dataset is None and trained_on not in (None, "mnist", "glyphs"):
        raise UsageError(f"--checkpoint: no classifier for {trained_on!r} yet; pass --dataset mnist or glyphs")
    started = time.perf_counter()
    try:
        values = metrics.evaluate_checkpoint(
            path, args.n, data_dir=args.data_dir, dataset=args.dataset, parzen=not args.no_parzen, seed=args.seed
        )
    except mnist.MNISTNotFound as e:
        raise UsageError(f"--dataset mnist: {e.summary()}") from None
    except (mnist.DatasetUnavailable, mnist.IDXError, OSError) as e:
        raise UsageError(f"--dataset: {_one_line(e)}") from None
    except ValueError as e:  # a checkpoint that does not fit its own config, too few images, ...
        raise UsageError(f"--checkpoint: {_one_line(e)}") from None
    values["checkpoint"] = str(path)
    values["seconds"] = round(time.perf_counter() - started, 2)
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    _write_json(out, values)
    if "fid" in values:
        line = (
            f"IS {values['is']:.2f} +- {values['is_std']:.2f}  FID {values['fid']:.2f}  KID {values['kid']:.4f}  "
            f"precision {values['precision']:.3f}  recall {values['recall']:.3f}  "
            f"classes {values['classes_covered']}/10"
        )
        if "parzen_ll" in values:
            line += f"  Parzen LL {values['parzen_ll']:.1f} +- {values['parzen_sem']:.1f}"
    else:
        line = f"modes {values['modes']}/{values['n_modes']}  high quality {values['high_quality']:.1f}%"
    print(f"{values['model']} step {values['step']}, {args.n} samples vs {values['dataset']}: {line}")
    print(f"wrote {out}")
    return 0


# ----------------------------------------------------------------------------
# The parser
# ----------------------------------------------------------------------------
#: Sub-command registrars, in the order ``--help`` lists them. Append to add a command.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_summary_command,
    add_train_command,
    add_sample_command,
    add_evaluate_command,
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, status 2
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


@contextlib.contextmanager
def _quiet_downloads(quiet: bool) -> Iterator[None]:
    """``--quiet``: no "downloading URL" / "failed" lines from minigan.data, for this command only.

    The level is put back afterwards, so that ``main`` called again in the same process
    (the tests, a notebook) logs as before.
    """
    log = logging.getLogger("minigan.data.download")
    before = log.level
    if quiet:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(before)


def build_parser() -> argparse.ArgumentParser:
    """The ``minigan`` parser with every registered sub-command."""
    from minigan import __version__

    parser = _Parser(prog="minigan", description="Generative Adversarial Networks from scratch.")
    parser.add_argument("--version", action="version", version=f"minigan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minigan`` console script; returns the exit status."""
    from minigan.backend import BackendError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a malformed command line (already reported)
        return e.code if isinstance(e.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        with _quiet_downloads(getattr(args, "quiet", False)):
            return args.func(args)
    except UsageError as e:
        print(f"minigan: error: {e}", file=sys.stderr)
        return 2
    except BackendError as e:  # $MINIGAN_BACKEND names a backend this machine cannot run (no GPU, ...)
        print(f"minigan: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a training loop (which saves and reports by itself)
        print("minigan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
