"""The ``minigan`` command line (also ``python -m minigan``): the parser, and nothing else.

One ``argparse`` parser with a sub-command per task (``summary``, ``train``, ``sample``, ``evaluate``; ``export``,
``import`` and ``lab`` declare theirs in their app modules). Each is an ``add_<name>_command(subparsers)``
naming the function in :mod:`minigan.app` that does the work.
:func:`main` turns the parsed flags into the command's options dataclass (a field per flag, of the same name),
calls it, and reports a :class:`~minigan.app.common.UsageError` (a bad option, a missing file, a data set that
cannot be found) as one ``minigan: error: ...`` line with exit status 2, without a traceback.

Read next: ``minigan/__main__.py``, then ``minigan/app/__init__.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from minigan.app import evaluate, export, import_, lab, sample, summary, train
from minigan.app.common import UsageError, one_line, quiet_downloads

__all__ = ["COMMANDS", "build_parser", "main"]


# ----------------------------------------------------------------------------
# Argument types: a bad value is refused by argparse, in one line
# ----------------------------------------------------------------------------
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

    parse.__name__ = f"integer >= {low}"  # what argparse names in "invalid integer >= 1 value"
    return parse


def _image_size_arg(text: str) -> int:
    return _int_at_least(4)(text)


def _dataset_arg(text: str) -> str:
    """``--dataset``: a built-in name, or ``KIND:PATH`` with the path made absolute (so --resume finds it)."""
    from minigan.data.loader import DATASET_NAMES
    from minigan.data.sources import SOURCE_KINDS, DataError, parse_source

    if text in DATASET_NAMES:
        return text
    try:
        parsed = parse_source(text)
    except DataError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if parsed is None:
        kinds = ", ".join(f"{k}:PATH" for k in SOURCE_KINDS)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(DATASET_NAMES)}, {kinds})")
    return f"{parsed[0]}:{os.path.abspath(os.path.expanduser(parsed[1]))}"


# ----------------------------------------------------------------------------
# The commands: flags, and the application function with its options type
# ----------------------------------------------------------------------------
def add_summary_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("summary", help=summary.HELP, description=summary.DESCRIPTION)
    p.add_argument(
        "name", nargs="?", help="a GAN as `train --model` names it (mlp-gan: both tables), or one network "
        "(mlp-discriminator); see --list"
    )  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the available model names and exit")
    p.add_argument("--latent-dim", type=int, help="noise size of a generator (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (does not change the counts)")
    p.add_argument(
        "--image-size", type=_image_size_arg, metavar="S", help="image models: the networks for "
        "S x S images (the conv GAN: 16, 28, 32, 64, 128; DCGAN: multiples of 4)"
    )  # fmt: skip
    p.add_argument("--channels", type=int, choices=(1, 3), help="image models: 1 (grey) or 3 (RGB)")
    p.set_defaults(handler=summary.run_summary, options_type=summary.SummaryOptions)


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help=train.HELP, description=train.DESCRIPTION, epilog=train.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_what_to_train(p.add_argument_group("what to train"))
    _add_how_to_train(p.add_argument_group("how long and how"))
    _add_train_output(p.add_argument_group("output"))
    p.set_defaults(handler=train.run_train, options_type=train.TrainOptions)


def _add_what_to_train(what: argparse._ArgumentGroup) -> None:
    from minigan.gan.run import MODEL_NAMES

    what.add_argument(
        "--model", choices=MODEL_NAMES, help="mlp-gan (default), conv-gan, dcgan, dcgan-fast (spectral norm, "
        "EMA of G), cgan (conditional); toys: ring-2d, grid-2d (2-D mixtures), gaussian-1d, mixture-1d"
    )  # fmt: skip
    what.add_argument("--dataset", type=_dataset_arg, metavar="DATA", help=train.DATASET_HELP)
    what.add_argument(
        "--image-size", type=_image_size_arg, metavar="S", help="resize the images to S x S "
        "(aspect kept, centre-cropped, antialiased); the conv models take 16, 28, 32, 64 or 128"
    )  # fmt: skip
    what.add_argument(
        "--channels", type=int, choices=(1, 3), help="convert the images to grey (1) or colour (3); "
        "needed when a folder mixes both"
    )  # fmt: skip
    what.add_argument(
        "--strict-data", action="store_true", help="refuse a folder holding files that are not readable images "
        "(default: skip them and say which)"
    )  # fmt: skip
    what.add_argument("--data-dir", help="folder to look for the MNIST files in first")
    what.add_argument("--no-download", action="store_true", help="never download MNIST; use only local files")
    what.add_argument("--limit", type=_int_at_least(1), help="use only the first N training images (quick runs)")
    losses = ("minimax", "non-saturating", "wasserstein", "wgan-gp", "lsgan", "hinge")
    what.add_argument("--loss", choices=losses, help="GAN objective (default non-saturating)")
    what.add_argument("--mu", type=float, help="gaussian-1d / mixture-1d: centre of the data (4)")
    what.add_argument("--sigma", type=_positive_float, help="gaussian-1d / mixture-1d: standard deviation (1.25 / 0.5)")


def _add_how_to_train(how: argparse._ArgumentGroup) -> None:
    length = how.add_mutually_exclusive_group()
    length.add_argument(
        "--steps", type=_int_at_least(1), help="total training steps, one D phase + one G phase each "
        "(default: 4000 mlp-gan, 8000 dcgan-fast, 1000 other image models, 5000 toys 2-D, 3000 toys 1-D); "
        "with --resume, the step to continue up to"
    )  # fmt: skip
    length.add_argument("--epochs", type=_int_at_least(1), help="train for N passes over the data")
    how.add_argument("--batch-size", type=_int_at_least(1), help="per batch (default 128; dcgan-fast 32; toys 256/512)")
    how.add_argument("--lr", type=_positive_float, help="Adam learning rate (default 2e-4; dcgan-fast 5e-4; toys 1e-3)")
    how.add_argument("--beta1", type=float, help="Adam beta1 (default 0.5)")
    for flag, kind, text in (  # the fast recipe's parts (minigan/gan/ema.py, augment.py)
        ("--beta2", float, "Adam beta2 (default 0.999)"),
        ("--g-lr", _positive_float, "G's learning rate when it differs from --lr (TTUR)"),
        ("--d-lr", _positive_float, "D's learning rate when it differs from --lr"),
        ("--r1-gamma", float, "weight of the R1 penalty on D's gradient at real data (default 0: off)"),
        ("--ema", float, "decay of the moving average of G that samples and evaluations use (0.999; default off)"),
        ("--augment", str, "DiffAugment policy for D's inputs: color, translation, cutout, comma-separated"),
        ("--max-minutes", _positive_float, "stop at the first step after M minutes, as if --steps were reached"),
    ):
        how.add_argument(flag, type=kind, help=text)
    how.add_argument("--d-steps", type=_int_at_least(1), help="D updates per step (default: 5 for WGAN, else 1)")
    how.add_argument("--g-steps", type=_int_at_least(1), help="G updates per step (default 1)")
    how.add_argument("--latent-dim", type=_int_at_least(1), help="size of z (default: the model's)")
    how.add_argument(
        "--init", choices=("dcgan_normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"),
        help="weight initialisation (default dcgan_normal, N(0, 0.02); conv-gan and the 2-D toys glorot_uniform)",
    )  # fmt: skip
    how.add_argument("--seed", type=int, help="seed of the weights, noise and data order (default 0)")
    how.add_argument("--backend", choices=("numpy", "cupy", "strict"), help="array backend (default: "
                     "$MINIGAN_BACKEND or numpy)")  # fmt: skip


def _add_train_output(out: argparse._ArgumentGroup) -> None:
    out.add_argument("--out", help="output folder (default runs/MODEL)")
    out.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint.npz")
    out.add_argument("--overwrite", action="store_true", help="start afresh even if --out already holds a checkpoint")
    out.add_argument(
        "--checkpoint-every", type=_int_at_least(0), default=500, help="save a checkpoint every N steps (0: only at "
        "the end and on Ctrl-C; default 500)"
    )  # fmt: skip
    out.add_argument(
        "--sample-every", type=_int_at_least(0), help="save a sample grid every N steps "
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


def add_sample_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help=sample.HELP, description=sample.DESCRIPTION)
    p.add_argument("--checkpoint", help="the checkpoint.npz of a training run (or --pretrained)")
    p.add_argument("--pretrained", metavar="NAME", help="a generator shipped with minigan, e.g. dcgan-fast")
    p.add_argument("-n", type=_int_at_least(1), default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="a .png grid (default samples.png), or .npy: the raw samples")
    p.add_argument("--label", type=int, help="conditional models: the class to draw (0-9)")
    p.add_argument("--nrow", type=_int_at_least(1), help="images per row (default: square)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.set_defaults(handler=sample.run_sample, options_type=sample.SampleOptions)


def add_evaluate_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help=evaluate.HELP, description=evaluate.DESCRIPTION, epilog=evaluate.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--checkpoint", required=True, help="the checkpoint.npz of a training run")
    p.add_argument(
        "-n", "--n", type=_int_at_least(10), default=10000, help="samples, test images and Parzen validation images "
        "(default 10000, the GAN paper's protocol)"
    )  # fmt: skip
    p.add_argument(
        "--dataset", choices=("mnist", "glyphs"), help="the real images to compare with (default: "
        "the run's data set)"
    )  # fmt: skip
    p.add_argument("--data-dir", help="folder to look for the MNIST files in first")
    p.add_argument("--no-parzen", action="store_true", help="skip the Parzen-window log-likelihood (the slow part)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument(
        "--out", help="the JSON file to write (default: eval.json beside the checkpoint; never "
        "one of the training run's own files, such as its metrics.json)"
    )  # fmt: skip
    p.set_defaults(handler=evaluate.run_evaluate, options_type=evaluate.EvaluateOptions)


# ----------------------------------------------------------------------------
# The parser, and main
# ----------------------------------------------------------------------------
#: Sub-command registrars, in the order ``--help`` lists them. Append to add a command.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_summary_command,
    add_train_command,
    add_sample_command,
    add_evaluate_command,
    export.add_export_command,  # the PyTorch bridge: flags declared in minigan/app/export.py, import_.py
    import_.add_import_command,
    lab.add_lab_command,  # the live page in the browser: minigan/app/lab.py
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, status 2
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``minigan`` parser with every registered sub-command."""
    from minigan import __version__

    parser = _Parser(prog="minigan", description="Generative Adversarial Networks from scratch.")
    parser.add_argument("--version", action="version", version=f"minigan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(subparsers)
    return parser


def command_options(args: argparse.Namespace) -> Any:
    """The parsed flags as the command's options dataclass (its fields are the flags' names)."""
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "handler", "options_type")}
    return args.options_type(**flags)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minigan`` console script; returns the exit status."""
    from minigan.backend import BackendError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a malformed command line (already reported)
        return e.code if isinstance(e.code, int) else 2
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        with quiet_downloads(getattr(args, "quiet", False)):
            return args.handler(command_options(args))
    except (UsageError, BackendError) as e:  # or $MINIGAN_BACKEND names one this machine cannot run (no GPU)
        print(f"minigan: error: {e if isinstance(e, UsageError) else one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a training loop (which saves and reports by itself)
        print("minigan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
