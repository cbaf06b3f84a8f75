"""The autograd engine: Tensor, Function and the backward pass.

A :class:`Tensor` wraps an array of the active backend. When an operation is
applied to tensors that require gradients, the :class:`Function` that computed
the result is recorded as the result's ``creator``; the functions and tensors
form a graph. ``loss.backward()`` walks that graph from the loss back to the
leaves in reverse topological order and applies the chain rule:

    dL/dx = sum over every use of x of  (dL/dy * dy/dx)

Each primitive's ``backward`` is written with minigan's own differentiable
functions (not raw arrays), so when ``create_graph=True`` the backward pass is
itself recorded as a graph and can be differentiated again. That is how
second derivatives, and so the WGAN-GP gradient penalty, come for free.

Two pieces of global state exist, both scoped switches: the grad mode
(:func:`no_grad` / :func:`enable_grad`; one per thread, as in PyTorch) and the anomaly mode
(:func:`detect_anomaly`), which checks every forward and backward result for
NaN/Inf and stops at the first one, naming the operation and the layer.

Read next: ``minigan/functions/basic.py`` (the primitives: add, mul, matmul, ...).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from minigan import anomaly
from minigan import backend as B
from minigan.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled  # noqa: F401 (re-exported)

__all__ = [
    "AnomalyError",
    "Function",
    "MixedBackendsError",
    "Tensor",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "tensor",
]


# ----------------------------------------------------------------------------
# Grad mode: the one scoped switch, one per thread.
# ----------------------------------------------------------------------------
class _GradMode(threading.local):
    """Whether this thread records graphs. Per thread, as in PyTorch: `minigan lab` trains in a background
    thread, and a ``no_grad()`` there must not switch recording off in the thread that runs a notebook
    (two threads entering and leaving ``no_grad`` in turn would otherwise leave it off for good)."""

    enabled = True  # a class attribute: every new thread starts with grad mode on


_grad_state = _GradMode()


def is_grad_enabled() -> bool:
    """True when new operations are recorded for backpropagation (in this thread)."""
    return _grad_state.enabled


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    state = _grad_state
    previous = state.enabled
    state.enabled = enabled
    try:
        yield
    finally:
        state.enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Inside ``with no_grad():`` no graph is recorded (inference, optimizer updates)."""
    return _grad_mode(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Inside ``with enable_grad():`` graphs are recorded even within ``no_grad``."""
    return _grad_mode(True)


# Anomaly mode (minigan/anomaly.py) is the other scoped switch: the engine consults it only
# while it is on.
# ----------------------------------------------------------------------------
class MixedBackendsError(B.BackendError, TypeError):
    """Tensors of two backends meet in one operation (a BackendError, and a TypeError like the array libraries')."""


def _check_backends(inputs: Sequence[Any]) -> None:
    """Raise BackendError when the tensor inputs of one operation live on different backends."""
    names: list[str] = []
    for x in inputs:
        if isinstance(x, Tensor):
            try:
                name = B.namespace_of(x.data)
            except TypeError:
                continue
            if name not in names:
                names.append(name)
    if len(names) > 1:
        raise MixedBackendsError(
            f"an operation mixes tensors of the {names[0]!r} and {names[1]!r} backends "
            f"(the active backend is {B.get_backend().name!r}); move them to one backend first, "
            "e.g. create them all inside the same use_backend(...) block or call model.to(name)"
        )


# ----------------------------------------------------------------------------
# Tensor
# ----------------------------------------------------------------------------
class Tensor:
    """An array plus what autograd needs to know about it.

    Attributes:
        data: the array (NumPy, CuPy or array-api-strict, per the backend).
        grad: the accumulated gradient (a Tensor) after ``backward()``, or None.
        requires_grad: whether gradients flow to this tensor.
        creator: the :class:`Function` that produced it; None for leaves
            (inputs and parameters).

    Arithmetic operators and methods such as ``sum``/``reshape`` are attached in
    ``minigan/functions/basic.py``, next to the primitives they call.
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "name", "__weakref__")
    # Make `numpy_array * tensor` call Tensor.__rmul__ instead of NumPy's broadcasting.
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        elif not B.is_any_array(data):
            data = B.to_device(data)  # lists, Python/NumPy scalars
        # An array of any backend is kept as it is: moving it is the caller's explicit choice
        # (minigan.tensor(host_data), B.to_device, module.to(name)), never a side effect.
        self.data = data
        self.grad: Tensor | None = None
        self.requires_grad = requires_grad
        self.creator: Function | None = None
        self.name = name

    # -- array-like properties ---------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        n = 1
        for d in self.data.shape:
            n *= d
        return n

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self) -> int:
        return self.data.shape[0]

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        name = f", name={self.name!r}" if self.name else ""
        return f"Tensor({B.to_host(self.data)!r}{extra}{name})"

    # -- conversions -----------------------------------------------------------
    def numpy(self) -> Any:
        """The data as a host NumPy array (copied off the GPU if needed: a sync there)."""
        return B.to_host(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number (a host transfer: a sync on a GPU)."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return B.to_host(self.data).reshape(-1)[0].item()

    def detach(self) -> Tensor:
        """A tensor that shares the data but is cut out of the graph.

        Used in the GAN discriminator step: ``D(G(z).detach())`` trains D without
        sending any gradient into G.
        """
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only on leaves) and return self."""
        if not self.is_leaf and not flag:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = flag
        return self

    # -- backward --------------------------------------------------------------
    def backward(
        self,
        grad: Tensor | Any | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Args:
            grad: the gradient flowing into ``self``; defaults to 1 for a scalar.
            retain_graph: keep the graph so ``backward`` can run again
                (defaults to ``create_graph``).
            create_graph: record the backward pass itself, so the gradients can
                be differentiated again (second derivatives, gradient penalties).
        """
        _run_backward([self], [grad], create_graph, retain_graph)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Create a leaf Tensor from host data (list, NumPy array, scalar) on the active backend.

    Floats become the default float dtype (float32) unless ``dtype`` is given.
    """
    return Tensor(B.asarray(data, dtype=dtype), requires_grad=requires_grad)


# ----------------------------------------------------------------------------
# Function
# ----------------------------------------------------------------------------
class Function:
    """A differentiable primitive with one output.

    Subclasses implement

    - ``forward(*arrays) -> array``: the computation on raw arrays;
    - ``backward(gy: Tensor) -> grad or tuple of grads``: one gradient per input
      (None where no gradient flows), written with minigan functions on the
      Tensors in ``self.inputs`` so that it is itself differentiable.

    Inputs may be Tensors or constants (Python numbers, arrays); constants get no
    gradient. ``self.needs_input_grad[i]`` tells backward which gradients are
    wanted, so expensive ones can be skipped.
    """

    inputs: tuple[Any, ...] | None
    saved_data: list[Any]
    output: weakref.ref | None
    needs_input_grad: tuple[bool, ...]
    layer: str | None = None  # the layer that ran it (recorded in anomaly mode only)

    def __call__(self, *inputs: Any) -> Tensor:
        # A plain loop: this runs for every operation, so it is the engine's per-op overhead.
        arrays = []
        array_type = None  # the array type of the first tensor input
        constants = mixed = False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                if array_type is None:
                    array_type = type(x.data)
                elif type(x.data) is not array_type:
                    mixed = True
            else:  # a constant: NumPy scalars become Python numbers, which keep float32 float32
                arrays.append(B.py_scalar(x))
                constants = True
        if constants:
            inputs = tuple(x if isinstance(x, Tensor) else a for x, a in zip(inputs, arrays))
        if mixed:
            _check_backends(inputs)  # tensors of two array types: say which backends meet
        y = self.forward(*arrays)
        if not B.is_array(y):
            y = B.xp().asarray(y)  # NumPy reductions return scalars; keep 0-d arrays
        if anomaly.enabled:
            self.layer = anomaly.current_layer()  # named again if the backward of this operation blows up
            anomaly.check_finite(self, y, "forward", self.layer)
        out = Tensor(y)
        if _grad_state.enabled:
            needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
            if True in needs:
                self.inputs = inputs
                self.saved_data = arrays  # what each input held: backward checks it was not rebound since
                self.needs_input_grad = needs
                # A weak reference: the graph must not keep outputs alive by itself.
                self.output = weakref.ref(out)
                out.creator = self
                out.requires_grad = True
        return out

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def backward(self, gy: Tensor) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# ----------------------------------------------------------------------------
# The backward pass
# ----------------------------------------------------------------------------
def _topological_order(roots: Sequence[Tensor]) -> list[Function]:
    """Functions reachable from ``roots``, each listed before the functions that
    created its inputs (so every output gradient is complete when it is used)."""
    order: list[Function] = []
    visited: set[int] = set()
    for root in roots:
        if root.creator is None or id(root.creator) in visited:
            continue
        # Iterative post-order DFS (graphs can be deeper than Python's recursion limit).
        stack: list[tuple[Function, bool]] = [(root.creator, False)]
        while stack:
            f, expanded = stack.pop()
            if expanded:
                order.append(f)
                continue
            if id(f) in visited:
                continue
            visited.add(id(f))
            if f.inputs is None:
                raise RuntimeError(
                    "backward through a graph that was already freed: pass "
                    "retain_graph=True to the first backward() or grad() call"
                )
            stack.append((f, True))
            for x in f.inputs:
                if isinstance(x, Tensor) and x.creator is not None and id(x.creator) not in visited:
                    stack.append((x.creator, False))
    order.reverse()
    return order


def _accumulate(grads: dict[int, Tensor], x: Tensor, g: Tensor) -> None:
    """Gradient accumulation on fan-out: a tensor used twice gets the sum."""
    previous = grads.get(id(x))
    grads[id(x)] = g if previous is None else previous + g


def _as_grad(g: Any, like: Tensor) -> Tensor:
    if g is None:
        return Tensor(B.xp().ones_like(like.data))
    g = g if isinstance(g, Tensor) else Tensor(g)
    if g.shape != like.shape:
        raise ValueError(f"gradient of shape {g.shape} given for a tensor of shape {like.shape}")
    return g


def _start(roots: Sequence[Tensor], root_grads: Sequence[Any]) -> dict[int, Tensor]:
    """dL/d(root) for every root (1 for a scalar, else the given gradient), keyed by id."""
    grads: dict[int, Tensor] = {}
    for root, g in zip(roots, root_grads):
        if not root.requires_grad:
            raise RuntimeError("backward of a tensor that does not require grad (no graph was recorded)")
        if g is None and root.size != 1:
            raise RuntimeError(f"backward of a non-scalar tensor of shape {root.shape} needs a grad argument")
        _accumulate(grads, root, _as_grad(g, root))
    return grads


def _chain_rule(
    order: Sequence[Function],
    grads: dict[int, Tensor],
    retain_graph: bool,
    wanted: Callable[[Function], tuple[bool, ...]] | None = None,
    found: dict[int, Tensor] | None = None,
) -> None:
    """The backward pass proper: visit the functions from the output back, and for each one turn
    the gradient of its output (complete by then) into gradients of its inputs.

    ``grads`` maps ``id(tensor)`` to its gradient so far; what is left in it afterwards belongs
    to leaves. For ``grad()``: ``wanted(f)`` says which of f's input gradients lead to a target
    (None: all of them), and ``found`` collects the gradients of targets that are outputs of a
    function, complete when that function is reached. Visited functions free their saved inputs
    unless ``retain_graph``.
    """
    # Hold every intermediate output while its gradient is pending: freeing a function's inputs
    # below may drop the last other reference to one.
    alive = [f.output() for f in order]
    for i, f in enumerate(order):
        y, alive[i] = alive[i], None
        gy = grads.pop(id(y), None) if y is not None else None
        if found is not None and gy is not None and id(y) in found:
            found[id(y)] = gy  # a target's gradient, complete now
        needs = f.needs_input_grad if wanted is None else wanted(f)
        if True not in needs:
            continue  # grad(): a branch that leads to no target; it stays for another pass
        if gy is not None:
            _check_unchanged(f)
            gxs = _apply_backward(f, gy, needs)
            for x, gx in zip(f.inputs, gxs if isinstance(gxs, tuple) else (gxs,)):
                if gx is not None and isinstance(x, Tensor) and x.requires_grad:
                    _accumulate(grads, x, gx)
        if not retain_graph:
            f.inputs = f.saved_data = None  # type: ignore[assignment]  # the graph is consumed


def _apply_backward(f: Function, gy: Tensor, needs: tuple[bool, ...]) -> Any:
    """``f.backward(gy)`` asking only for the gradients in ``needs`` (checked in anomaly mode)."""
    if needs is f.needs_input_grad:
        return anomaly.checked_backward(f, gy) if anomaly.enabled else f.backward(gy)
    # Restore the flags afterwards: a retained graph may later be backpropagated to every leaf.
    saved, f.needs_input_grad = f.needs_input_grad, needs
    try:
        return anomaly.checked_backward(f, gy) if anomaly.enabled else f.backward(gy)
    finally:
        f.needs_input_grad = saved


def _check_unchanged(f: Function) -> None:
    """Raise when an input of ``f`` had its ``.data`` rebound after the forward pass used it.

    The backward pass reads the inputs' *current* data (``x.data``): had a parameter been
    updated in between (``optimizer.step()`` before ``loss.backward()``), the gradient would
    silently be that of another function. PyTorch catches this with version counters; here a
    rebinding is the only way to change a Tensor, so comparing identities is enough.
    """
    for i, (x, saved) in enumerate(zip(f.inputs, f.saved_data)):
        if isinstance(x, Tensor) and x.data is not saved:
            what = f"{x.name!r} " if x.name else ""
            raise RuntimeError(
                f"backward through {type(f).__name__}: its input {i} ({what}a tensor of shape {x.shape}) was changed "
                "after the forward pass used it (its .data was rebound), so the gradient would be wrong. Change "
                "tensors after backward (loss.backward(), then optimizer.step()), or run the forward pass again"
            )


def _run_backward(
    roots: Sequence[Tensor], root_grads: Sequence[Any], create_graph: bool, retain_graph: bool | None
) -> None:
    """``Tensor.backward``: propagate from ``roots`` and accumulate into every leaf's ``.grad``."""
    retain = create_graph if retain_graph is None else retain_graph
    grads = _start(roots, root_grads)
    order = _topological_order(roots)
    leaves = _leaves(roots, order)  # found before the pass frees the graph
    with _grad_mode(create_graph):  # create_graph: the backward pass is itself recorded
        _chain_rule(order, grads, retain)
        for x in leaves:
            g = grads.get(id(x))
            if g is None:
                continue
            if not create_graph:
                # Fan-out can hand the same gradient Tensor to several leaves (a + b gives both
                # gy): give each leaf its own Tensor, so that rebinding one leaf's ``.grad.data``
                # (gradient clipping, say) cannot change another's. The arrays may still be
                # shared or read-only views: never modify them in place.
                g = Tensor(g.data)
            x.grad = g if x.grad is None else x.grad + g


def _leaves(roots: Sequence[Tensor], order: Sequence[Function]) -> list[Tensor]:
    seen: dict[int, Tensor] = {}
    for r in roots:
        if r.creator is None:
            seen[id(r)] = r
    for f in order:
        for x in f.inputs or ():
            if isinstance(x, Tensor) and x.creator is None and x.requires_grad:
                seen[id(x)] = x
    return list(seen.values())


def _functions_reaching(order: Sequence[Function], target_ids: set[int]) -> set[int]:
    """ids of the functions from which some target can be reached (the rest is pruned)."""
    reaches: set[int] = set()
    for f in reversed(order):  # creators of f's inputs come before f here
        for x in f.inputs:
            if isinstance(x, Tensor) and (id(x) in target_ids or (x.creator is not None and id(x.creator) in reaches)):
                reaches.add(id(f))
                break
    return reaches


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any | Sequence[Any] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> list[Tensor | None]:
    """Gradients of ``outputs`` with respect to ``inputs``, like ``torch.autograd.grad``.

    Unlike ``backward`` this does not touch ``.grad``; it returns one gradient
    per input. With ``create_graph=True`` the returned gradients are part of a
    new graph, so a function of them (e.g. the WGAN-GP penalty
    ``(||grad_x D(x)|| - 1)^2``) can be backpropagated again.

    Only the part of the graph that leads to ``inputs`` is traversed.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("grad() with respect to a tensor that does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    grads = _start(outputs, grad_outputs)  # an input that is itself an output starts with its grad_output
    order = _topological_order(outputs)
    targets = {id(x) for x in inputs}
    reaches = _functions_reaching(order, targets)

    def wanted(f: Function) -> tuple[bool, ...]:  # only the gradients that lead to an input
        if id(f) not in reaches:
            return (False,) * len(f.inputs)
        return tuple(isinstance(x, Tensor) and (id(x) in targets or id(x.creator) in reaches) for x in f.inputs)

    # Targets made by a function get their gradient when the pass reaches that function; leaf
    # targets (and targets that are outputs) keep theirs in `grads`, left over at the end.
    found: dict[int, Tensor | None] = {id(x): None for x in inputs if x.creator is not None}
    with _grad_mode(create_graph):
        _chain_rule(order, grads, retain, wanted, found)  # type: ignore[arg-type]
    for x in inputs:
        if found.get(id(x)) is None and id(x) in grads:
            found[id(x)] = grads[id(x)]
    result: list[Tensor | None] = []
    for x in inputs:
        g = found.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                "one of the inputs is not used to compute the outputs; pass allow_unused=True to get None"
            )
        result.append(g)
    return result
