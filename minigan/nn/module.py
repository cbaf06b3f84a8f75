"""Module: the base class of every layer and model, and Sequential.

A Module owns

- **parameters** (:class:`Parameter`, trainable tensors the optimizer updates),
- **buffers** (non-trainable state such as BatchNorm's running mean/variance),
- **sub-modules**,

all registered simply by assigning them as attributes, and kept in definition
order (so ``parameters()`` lists them in the order a reader sees them, and a
model built twice from the same seed is bit-identical).

``model.train()`` / ``model.eval()`` switch layers such as Dropout and
BatchNorm between their training and inference behaviour.

Read next: ``minigan/nn/linear.py`` (Dense, the simplest layer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from minigan import anomaly, autograd
from minigan import backend as B
from minigan.autograd import Tensor

__all__ = ["Module", "Parameter", "Sequential"]


class Parameter(Tensor):
    """A trainable tensor: a leaf with ``requires_grad=True`` that a Module registers."""

    __slots__ = ()

    def __init__(self, data: Any, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, name=name)


class Module:
    """Base class of layers and models.

    Subclasses set parameters, buffers and sub-modules as attributes in
    ``__init__`` and implement ``forward``. Calling the module calls ``forward``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def _require_positive(self, **sizes: Any) -> None:
        """Constructor check shared by the layers: every size (features, channels, kernel, stride) is an int >= 1."""
        bad = [f"{k}={v!r}" for k, v in sizes.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad:
            raise ValueError(f"{type(self).__name__} needs positive integer sizes, got {', '.join(bad)}")

    def register_buffer(self, name: str, value: Tensor) -> None:
        """Register non-trainable state (saved in ``state_dict``, never optimized)."""
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    # -- calling -----------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not anomaly.enabled:
            return self.forward(*args, **kwargs)
        # Anomaly mode: remember which layer runs, so a NaN can be traced to it.
        anomaly.module_stack.append(self)
        try:
            return self.forward(*args, **kwargs)
        finally:
            anomaly.module_stack.pop()

    # -- traversal ---------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all sub-modules, depth first, in definition order."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator[Module]:
        """Direct sub-modules in definition order."""
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in definition order, e.g. ``("0.weight", W)``."""
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        """All parameters (trainable or frozen) in definition order."""
        return [p for _, p in self.named_parameters()]

    def trainable_parameters(self) -> list[Parameter]:
        """Parameters with ``requires_grad=True``."""
        return [p for p in self.parameters() if p.requires_grad]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs: non-trainable state such as running statistics."""
        for mod_name, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    # -- modes -------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training behaviour (Dropout drops, BatchNorm uses batch statistics)."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Inference behaviour (Dropout off, BatchNorm uses running statistics)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients of all parameters."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter. Frozen parameters
        still pass gradients *through* to their inputs; they just get none."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    # -- state -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Parameters and buffers as host NumPy arrays, keyed by dotted names, in order."""
        state = {name: B.to_host(p.data).copy() for name, p in self.named_parameters()}
        state.update({name: B.to_host(b.data).copy() for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> dict[str, list[str]]:
        """Copy arrays from ``state`` into the parameters and buffers (on the active backend).

        With ``strict=True`` any missing, unexpected or wrongly shaped entry raises
        a ValueError listing all differences and nothing is loaded; with
        ``strict=False`` matching entries are loaded and the rest reported.

        Returns ``{"missing": [...], "unexpected": [...], "mismatched": [...]}``.
        """
        own = dict(self.named_parameters())
        own.update(dict(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [
            f"{k}: expected {own[k].shape}, got {tuple(state[k].shape)}"
            for k in own
            if k in state and tuple(state[k].shape) != own[k].shape
        ]
        report = {"missing": missing, "unexpected": unexpected, "mismatched": mismatched}
        if strict and (missing or unexpected or mismatched):
            lines = [f"{kind}: {', '.join(v)}" for kind, v in report.items() if v]
            raise ValueError(f"state_dict does not match {type(self).__name__}:\n  " + "\n  ".join(lines))
        bad = {m.split(":")[0] for m in mismatched}
        for k, t in own.items():
            if k in state and k not in bad:
                t.data = B.asarray(state[k], dtype=t.dtype)
        return report

    def to(self, backend: str) -> Module:
        """Move every parameter and buffer to ``backend`` (and make it active)."""
        host = [(t, B.to_host(t.data)) for t in self.parameters() + [b for _, b in self.named_buffers()]]
        B.set_backend(backend)
        for t, h in host:
            t.data = B.asarray(h, dtype=str(h.dtype))
            t.grad = None
        return self

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def extra_repr(self) -> str:
        return ""

    # -- input checks ----------------------------------------------------------------
    def _check_input(self, x: Any, ok: bool, expected: str) -> None:
        """Raise a ValueError naming this layer, the expected and the received shape unless ``ok``.

        Layers call this first thing in ``forward`` so that a wrong shape is
        reported where it happens (``Dense(784 -> 512): expected input of shape
        (N, 784), got (2, 100)``) instead of as a matmul error deep in the engine.
        """
        if not ok:
            got = tuple(getattr(x, "shape", ())) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(
                f"{type(self).__name__}({self.extra_repr()}): expected input of shape {expected}, got {got}"
            )

    def _check_dtype(self, x: Any) -> None:
        """Raise a TypeError naming this layer when ``x`` is of another dtype or backend than its weights.

        A float64 batch through float32 weights would silently compute in float64 on NumPy
        (and fail elsewhere); integer input is almost always a forgotten conversion.
        """
        params = list(self._parameters.values())
        if not params or not hasattr(x, "data"):
            return
        w = params[0].data
        xb, wb = B.namespace_of(x.data), B.namespace_of(w)
        if xb != wb:
            raise autograd.MixedBackendsError(
                f"{type(self).__name__}({self.extra_repr()}): input is a {xb!r}-backend tensor but the layer's "
                f"weights are on the {wb!r} backend; move the input or call model.to({xb!r})"
            )
        if x.data.dtype != w.dtype:
            # str() of a strict dtype is "array_api_strict.float32"
            got, want = (str(d).rsplit(".", 1)[-1] for d in (x.data.dtype, w.dtype))
            raise TypeError(
                f"{type(self).__name__}({self.extra_repr()}): input dtype {got} does not match the "
                f"layer's weights ({want}); convert the input (minigan.tensor(data, dtype='{want}')) "
                "or build the model with the same default dtype (minigan.default_dtype(...))"
            )

    # -- summaries ---------------------------------------------------------------------
    def summarize(
        self, input_shape: tuple[int, ...], *, name: str | None = None, dtype: Any = None, note: str | None = None
    ) -> Any:
        """A Keras-style :class:`~minigan.nn.summary.Summary` (rows and totals) for input ``(N, *input_shape)``.

        See :func:`minigan.nn.summary.summarize`; ``str()`` of the result is the table.
        """
        from minigan.nn.summary import summarize  # summary.py imports this module

        return summarize(self, input_shape, name=name, dtype=dtype, note=note)

    def summary(
        self,
        input_shape: tuple[int, ...],
        *,
        name: str | None = None,
        dtype: Any = None,
        note: str | None = None,
        print_fn: Any = print,
    ) -> None:
        """Print a Keras-style table: layer (type), output shape, parameter count, then
        Total / Trainable / Non-trainable params. ``input_shape`` excludes the batch axis."""
        print_fn(str(self.summarize(input_shape, name=name, dtype=dtype, note=note)))


class Sequential(Module):
    """Layers applied one after another: ``Sequential(Dense(2, 8), ReLU(), Dense(8, 1))``."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x
