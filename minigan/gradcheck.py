"""Gradient checking: compare autograd with central finite differences.

For a scalar function f and each input element x_k::

    numeric_k = (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)      error O(eps^2)

and the check passes when ``|analytic - numeric| <= atol + rtol * |numeric|``
everywhere. Non-scalar outputs are reduced to ``sum(f(x) * v)`` with a fixed
random ``v``, which checks every output's gradient at once.

``order=2`` checks second derivatives the same way: it finite-differences the
first-order gradients (``grad(..., create_graph=True)``) projected on fixed
random directions, i.e. it checks Hessian-vector products. This is what the
WGAN-GP gradient penalty relies on.

Always run in float64: in float32 the rounding error of f swamps the
difference quotient.

Read next: ``minigan/nn/`` (layers built from the functions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, enable_grad, grad, no_grad
from minigan.functions.basic import sum

__all__ = ["GradcheckError", "gradcheck", "numerical_grad"]


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; the message names the worst element."""


def _scalarize(fn: Callable[..., Tensor], seed: int) -> Callable[..., Tensor]:
    """Wrap ``fn`` so it returns sum(fn(...) * v) for a fixed random v (a scalar)."""
    cache: dict[str, Any] = {}

    def f(*xs: Tensor) -> Tensor:
        out = fn(*xs)
        if out.size == 1:
            return sum(out)
        if "v" not in cache:
            cache["v"] = B.Generator(seed).normal(out.shape, dtype=out.dtype)
        return sum(out * cache["v"])

    return f


def numerical_grad(f: Callable[..., Tensor], inputs: Sequence[Tensor], index: int, eps: float = 1e-6) -> Any:
    """Central-difference gradient of scalar ``f(*inputs)`` w.r.t. ``inputs[index]`` (host array)."""
    x = inputs[index]
    host = B.to_host(x.data).copy()
    flat = host.reshape(-1)
    out = host.copy().reshape(-1)
    args = list(inputs)
    with no_grad():
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            args[index] = Tensor(B.asarray(host, dtype=x.dtype), requires_grad=x.requires_grad)
            fp = f(*args).item()
            flat[k] = orig - eps
            args[index] = Tensor(B.asarray(host, dtype=x.dtype), requires_grad=x.requires_grad)
            fm = f(*args).item()
            flat[k] = orig
            out[k] = (fp - fm) / (2 * eps)
    return out.reshape(host.shape)


def _compare(analytic: Any, numeric: Any, which: int, atol: float, rtol: float, order: int) -> None:
    a = B.to_numpy(analytic)
    excess = (abs(a - numeric) - (atol + rtol * abs(numeric))).reshape(-1)  # flat (0-d inputs too)
    # A NaN compares False with everything, so it would pass silently: count it as infinitely wrong.
    excess[excess != excess] = float("inf")
    if excess.size and excess.max() > 0:
        k = int(excess.argmax())
        idx = tuple(int(i) for i in _unravel(k, numeric.shape))
        raise GradcheckError(
            f"order-{order} gradient of input {which} is wrong at index {idx}: "
            f"analytic {float(a.reshape(-1)[k])!r} vs numeric {float(numeric.reshape(-1)[k])!r} "
            f"(atol={atol}, rtol={rtol}; {int((excess > 0).sum())} of {excess.size} elements fail)"
        )


def _unravel(k: int, shape: tuple[int, ...]) -> list[int]:
    idx = []
    for d in reversed(shape):
        idx.append(k % d if d else 0)
        k = k // d if d else 0
    return list(reversed(idx))


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    order: int = 1,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check the gradients of ``fn(*inputs)`` against finite differences.

    Args:
        fn: function of the tensors in ``inputs`` returning a Tensor (any shape).
        inputs: float64 Tensors; those with ``requires_grad=True`` are checked.
        order: 1 checks first derivatives; 2 checks second derivatives too.
        eps: finite-difference step.
        atol, rtol: tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``.
        seed: seeds the random projection of non-scalar outputs.

    Returns:
        True; raises :class:`GradcheckError` naming the input, the index and
        both values of the worst element otherwise.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    inputs = list(inputs)
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in wrt:
        if "float64" not in str(inputs[i].dtype):
            raise ValueError(
                f"gradcheck needs float64 inputs (input {i} is {inputs[i].dtype}): use default_dtype('float64')"
            )

    f = _scalarize(fn, seed)
    _check(f, inputs, wrt, eps, atol, rtol, order=1)
    if order == 2:
        # h(x) = sum_i <df/dx_i (x), u_i> for fixed random u_i: its gradient is H u.
        gen = B.Generator(seed + 1)
        us = {i: gen.normal(inputs[i].shape, dtype=inputs[i].dtype) for i in wrt}

        def h(*xs: Tensor) -> Tensor:
            with enable_grad():
                ys = f(*xs)
                gs = grad(ys, [xs[i] for i in wrt], create_graph=True, allow_unused=True)
            total = None
            for i, g in zip(wrt, gs):
                if g is None:
                    continue
                term = sum(g * us[i])
                total = term if total is None else total + term
            if total is None:  # f is linear in every input: H = 0
                return sum(xs[wrt[0]] * 0.0)
            return total

        _check(h, inputs, wrt, eps, atol, rtol, order=2)
    return True


def _check(
    f: Callable[..., Tensor], inputs: list[Tensor], wrt: list[int], eps: float, atol: float, rtol: float, order: int
) -> None:
    xs = [Tensor(x.data, requires_grad=x.requires_grad) for x in inputs]  # fresh leaves
    y = f(*xs)
    if y.requires_grad:
        analytic = grad(y, [xs[i] for i in wrt], allow_unused=True)
    else:  # no graph reaches the inputs: autograd says the derivative is 0 (e.g. H of relu)
        analytic = [None] * len(wrt)
    for i, g in zip(wrt, analytic):
        numeric = numerical_grad(f, inputs, i, eps)
        a = g.data if g is not None else B.xp().zeros(inputs[i].data.shape, dtype=inputs[i].dtype)
        _compare(a, numeric, i, atol, rtol, order)
