"""Keras-style model summaries: layer (type), output shape, parameter count.

``model.summary((784,))`` prints::

    Model: "mlp-discriminator"
    _________________________________________________________________
     Layer (type)                Output Shape              Param #
    =================================================================
     dense (Dense)               (None, 512)               401,920
     leaky_re_lu (LeakyReLU)     (None, 512)               0
     ...
    =================================================================
    Total params: 566,273
    Trainable params: 566,273
    Non-trainable params: 0
    _________________________________________________________________

How it works: a batch of 2 zeros of shape ``(2, *input_shape)`` is pushed
through the model in eval mode and under ``no_grad`` (so nothing is recorded,
no running statistic moves and no dropout mask is drawn), one row per layer of
every :class:`~minigan.nn.Sequential` (nested Sequentials are flattened; any
other module is one row). The batch axis is printed as ``None`` as in Keras.

Counting as Keras does: a parameter with ``requires_grad`` is trainable; a
frozen parameter and every buffer (BatchNorm's running mean and variance) is
non-trainable.

Read next: ``minigan/optim.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.nn.module import Module, Sequential

__all__ = ["Summary", "SummaryRow", "count_params", "summarize"]

_WIDTHS = (29, 26, 10)  # Keras' column widths: name (type), output shape, param #
_LINE = 65


@dataclass(frozen=True)
class SummaryRow:
    """One layer: Keras-style name, type, output shape (None for the batch), parameter counts."""

    name: str
    type: str
    output_shape: tuple[Any, ...]
    trainable: int
    non_trainable: int

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass(frozen=True)
class Summary:
    """Rows plus totals; ``str(summary)`` is the printed table."""

    title: str
    rows: list[SummaryRow] = field(default_factory=list)
    input_shape: tuple[Any, ...] = ()
    note: str | None = None

    @property
    def trainable(self) -> int:
        return sum(r.trainable for r in self.rows)

    @property
    def non_trainable(self) -> int:
        return sum(r.non_trainable for r in self.rows)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def output_shape(self) -> tuple[Any, ...]:
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def __str__(self) -> str:
        labels = [f"{r.name} ({r.type})" for r in self.rows]
        shapes = [_shape_str(r.output_shape) for r in self.rows]
        # Keras' column widths, widened when a name or shape would not fit.
        widths = (
            max([_WIDTHS[0]] + [len(s) + 2 for s in labels]),
            max([_WIDTHS[1]] + [len(s) + 2 for s in shapes]),
            _WIDTHS[2],
        )
        width = _LINE + (widths[0] - _WIDTHS[0]) + (widths[1] - _WIDTHS[1])

        def line(*cells: str) -> str:
            return " " + "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        out = [f'Model: "{self.title}"', "_" * width, line("Layer (type)", "Output Shape", "Param #"), "=" * width]
        for i, r in enumerate(self.rows):
            out.append(line(labels[i], shapes[i], f"{r.params:,}"))
            if i < len(self.rows) - 1:
                out.append("")
        out += [
            "=" * width,
            f"Total params: {self.total:,}",
            f"Trainable params: {self.trainable:,}",
            f"Non-trainable params: {self.non_trainable:,}",
            "_" * width,
        ]
        if self.note:
            out.append(self.note)
        return "\n".join(out)

    def __repr__(self) -> str:
        counts = f"total={self.total}, trainable={self.trainable}, non_trainable={self.non_trainable}"
        return f"Summary({self.title!r}, {counts})"


def _shape_str(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _snake(name: str) -> str:
    """Keras' layer naming: LeakyReLU -> leaky_re_lu, Conv2DTranspose -> conv2d_transpose."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def count_params(module: Module) -> tuple[int, int]:
    """(trainable, non_trainable) numbers in ``module``: frozen parameters and buffers are non-trainable."""
    trainable = non_trainable = 0
    for p in module.parameters():
        if p.requires_grad:
            trainable += p.size
        else:
            non_trainable += p.size
    for _, b in module.named_buffers():
        non_trainable += b.size
    return trainable, non_trainable


def _leaves(module: Module) -> list[Module]:
    """The rows: children of Sequentials, recursively; any other module is one row."""
    if isinstance(module, Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    return [module]


def summarize(
    module: Module,
    input_shape: tuple[int, ...],
    *,
    name: str | None = None,
    dtype: Any = None,
    note: str | None = None,
) -> Summary:
    """Build the :class:`Summary` of ``module`` for inputs ``(N, *input_shape)``.

    Args:
        module: usually a Sequential; another module gives a single row.
        input_shape: one sample's shape (no batch axis), e.g. ``(784,)`` or ``(1, 28, 28)``.
        name: the title (default: the module's class name).
        dtype: the probe batch's dtype (default the float dtype; ``"int64"`` for label inputs).
        note: a line printed under the table.
    """
    xp = B.xp()
    if isinstance(dtype, str):
        dtype = getattr(xp, dtype)
    x: Any = Tensor(xp.zeros((2,) + tuple(input_shape), dtype=dtype or B.float_dtype()))
    modes = [(m, m.training) for _, m in module.named_modules()]
    rows: list[SummaryRow] = []
    counters: dict[str, int] = {}
    module.eval()
    try:
        with no_grad():
            for layer in _leaves(module):
                x = layer(x)
                kind = type(layer).__name__
                base = _snake(kind)
                k = counters.get(base, 0)
                counters[base] = k + 1
                trainable, non_trainable = count_params(layer)
                shape = (None,) + tuple(x.shape[1:])
                rows.append(SummaryRow(base if k == 0 else f"{base}_{k}", kind, shape, trainable, non_trainable))
    finally:
        for m, mode in modes:  # leave every module in the mode it was in
            object.__setattr__(m, "training", mode)
    return Summary(name or type(module).__name__, rows, (None,) + tuple(input_shape), note)
