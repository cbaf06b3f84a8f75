"""The ``minigan`` command line (also ``python -m minigan``).

One ``argparse`` parser with a sub-command per task. Each sub-command lives
in a pair of functions, so adding one (``train``, ``sample``) touches nothing
else:

- ``add_<name>_command(subparsers)`` declares its arguments and sets
  ``func=<handler>`` as the parser's default;
- ``<handler>(args) -> int`` does the work and returns the exit status.

Errors a user can cause (an unknown model name, a bad option) print a single
``minigan: error: ...`` line and exit with status 2, without a traceback.

Sub-commands so far:

- ``minigan summary NAME``: the Keras-style table of a seed architecture;
  ``minigan summary --list`` lists the names.

Read next: ``minigan/__main__.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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
    p.add_argument("name", nargs="?", help="model name, e.g. mlp-discriminator (see --list)")
    p.add_argument("--list", action="store_true", help="list the available model names and exit")
    p.add_argument("--latent-dim", type=int, default=None, help="noise size of a generator (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (does not change the counts)")
    p.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from minigan import models  # imported here so `minigan --help` stays fast

    if args.list:
        width = max(len(n) for n in models.names())
        for name in models.names():
            meta = models.info(name)
            print(f"{name.ljust(width)}  {meta.role:<13}  {meta.description}")
        return 0
    if args.name is None:
        raise UsageError("summary needs a model NAME (or --list to see them)")
    if args.name not in models.names():
        raise UsageError(f"unknown model {args.name!r}; choose one of: {', '.join(models.names())}")
    kwargs = {}
    if args.latent_dim is not None:
        if models.info(args.name).role != "generator":
            raise UsageError(f"--latent-dim applies to generators; {args.name} is a {models.info(args.name).role}")
        if args.latent_dim < 1:
            raise UsageError(f"--latent-dim must be >= 1, got {args.latent_dim}")
        kwargs["latent_dim"] = args.latent_dim
    print(models.summarize(args.name, rng=args.seed, **kwargs))
    return 0


# ----------------------------------------------------------------------------
# The parser
# ----------------------------------------------------------------------------
#: Sub-command registrars, in the order ``--help`` lists them. Append to add a command.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_summary_command]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: usage line + one message, status 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except UsageError as e:
        print(f"minigan: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
