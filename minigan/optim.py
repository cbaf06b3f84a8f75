"""Optimizers: SGD, Adam (and AdamW), RMSprop; gradient and weight clipping.

An optimizer holds a list of parameters and, after ``loss.backward()`` has
filled their ``.grad``, ``step()`` moves each one downhill. The training loop
is always::

    opt = Adam.gan_defaults(G.parameters())    # lr 2e-4, betas (0.5, 0.999): DCGAN
    opt.zero_grad()
    loss = ...
    loss.backward()
    opt.step()

The update rules (g = gradient, x = parameter, t = step number), written out
exactly as PyTorch implements them so that trajectories match ``torch.optim``:

- **SGD** (momentum mu, dampening d)::

      g  <- g + wd * x                              (L2 weight decay)
      b  <- g (first step), else mu * b + (1 - d) * g
      g  <- g + mu * b (Nesterov) or b
      x  <- x - lr * g

- **Adam** (betas b1, b2)::

      g  <- g + wd * x                              (L2, Adam's original weight decay)
      x  <- x * (1 - lr * wd)                       (decoupled instead, AdamW)
      m  <- b1 * m + (1 - b1) * g                   (first moment)
      v  <- b2 * v + (1 - b2) * g^2                 (second moment)
      x  <- x - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

- **RMSprop** (alpha, used by WGAN's critic)::

      v  <- alpha * v + (1 - alpha) * g^2
      x  <- x - lr * g / (sqrt(v) + eps)            (with momentum: b <- mu*b + g/(...); x <- x - lr*b)

Details that matter:

- Updates run under ``no_grad`` on the raw arrays and rebind ``p.data``; the
  Parameter objects themselves never change (models keep pointing at them).
- float32 stays float32: every hyper-parameter and bias-correction factor is
  a Python float, never a float64 array.
- A parameter whose ``grad`` is None (frozen, or unused by the loss) is
  skipped entirely: its state and step count do not move (as in PyTorch).
- ``state_dict()`` holds host NumPy arrays and JSON-able numbers, ready for
  :mod:`minigan.checkpoint`.

Read next: ``minigan/checkpoint.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.nn.module import Module

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_", "clip_weights_"]

Params = Module | Iterable[Tensor]


def _param_list(params: Params) -> list[Tensor]:
    plist = params.parameters() if isinstance(params, Module) else list(params)
    if not plist:
        raise ValueError("optimizer got an empty parameter list")
    seen: set[int] = set()
    for p in plist:
        if not isinstance(p, Tensor):
            raise TypeError(f"optimizer parameters must be Tensors, got {type(p).__name__}")
        if id(p) in seen:
            raise ValueError("optimizer got the same parameter twice")
        seen.add(id(p))
    return plist


class Optimizer:
    """Base class: a parameter list, per-parameter state and named hyper-parameters.

    Subclasses list their hyper-parameters in ``hyperparam_names`` (they become
    attributes, so ``opt.lr = 1e-4`` changes the learning rate), their
    per-parameter state arrays in ``state_names``, and implement
    ``_update(x, g, state) -> new x`` on raw arrays.
    """

    hyperparam_names: tuple[str, ...] = ("lr",)
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Params, **hyperparams: Any) -> None:
        self.params = _param_list(params)
        for name in self.hyperparam_names:
            setattr(self, name, hyperparams[name])
        # state[i] holds parameter i's arrays (e.g. Adam's exp_avg) and its step count.
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.hyperparam_names:
            # NumPy scalars (a schedule computed with NumPy, say) would turn float32 updates into
            # float64 ones: keep hyper-parameters plain Python numbers (tuples of them for betas).
            value = tuple(B.py_scalar(v) for v in value) if isinstance(value, (tuple, list)) else B.py_scalar(value)
        object.__setattr__(self, name, value)

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter (set them to None)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        todo = []
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if tuple(g.shape) != p.shape:
                raise ValueError(f"gradient of shape {tuple(g.shape)} for a parameter of shape {p.shape}")
            if g.dtype != p.dtype:  # e.g. a float64 loss on float32 weights: keep the weights float32
                g = B.xp().astype(g, p.dtype)
            todo.append((p, g, state))
        # The parameters' updates are independent of each other, so on a large network they are
        # shared between threads (NumPy runs each pass on one core). Each update is computed on
        # raw arrays exactly as it would be alone: the same numbers with any number of threads.
        sizes = [g.size for _, g, _ in todo]
        with no_grad():
            new = B.map_parallel(lambda item: self._update(item[0].data, item[1], item[2]), todo, sizes)
        for (p, _, _), data in zip(todo, new):
            p.data = data

    def _update(self, x: Any, g: Any, state: dict[str, Any]) -> Any:
        raise NotImplementedError

    # -- state ---------------------------------------------------------------------
    def hyperparams(self) -> dict[str, Any]:
        """The current hyper-parameters, e.g. ``{"lr": 2e-4, "betas": (0.5, 0.999), ...}``."""
        return {name: getattr(self, name) for name in self.hyperparam_names}

    def state_dict(self) -> dict[str, Any]:
        """``{"type", "hyperparams", "state": {"0": {"step": 3, "exp_avg": ndarray, ...}, ...}}``.

        Arrays are host NumPy copies; everything else is JSON-serialisable.
        Parameters are identified by their position in the parameter list.
        """
        hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparams().items()}
        state = {}
        for i, s in enumerate(self.state):
            if s:
                state[str(i)] = {k: (v if isinstance(v, int) else B.to_host(v).copy()) for k, v in s.items()}
        return {"type": type(self).__name__, "hyperparams": hyper, "state": state}

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raise ValueError listing everything in ``state_dict`` that does not fit this optimizer."""
        problems = []
        if state_dict.get("type") != type(self).__name__:
            problems.append(f"type {state_dict.get('type')!r} != {type(self).__name__!r}")
        hyper = state_dict.get("hyperparams")
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyperparam_names):
            problems.append(
                f"hyperparams {sorted(hyper) if isinstance(hyper, dict) else hyper!r} "
                f"!= {sorted(self.hyperparam_names)}"
            )
        state = state_dict.get("state")
        if not isinstance(state, dict):
            problems.append("no 'state' dict")
            state = {}
        for key, s in state.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) < len(self.params)):
                problems.append(f"state for parameter {key!r}, but there are {len(self.params)} parameters")
                continue
            p = self.params[int(key)]
            if not isinstance(s, dict):
                problems.append(f"state {key}: not a dict")
                continue
            for name, v in s.items():
                if name == "step":
                    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                        problems.append(f"state {key}.step: expected an int >= 0, got {v!r}")
                elif name not in self.state_names:
                    problems.append(f"state {key}: unexpected entry {name!r} (expected {self.state_names})")
                elif tuple(getattr(v, "shape", ())) != p.shape:
                    problems.append(
                        f"state {key}.{name}: shape {tuple(getattr(v, 'shape', ()))} != parameter {p.shape}"
                    )
        if problems:
            raise ValueError(f"{type(self).__name__} state_dict does not match:\n  " + "\n  ".join(problems))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state; validated first, so nothing changes on error."""
        self.check_state_dict(state_dict)
        for name, v in state_dict["hyperparams"].items():
            setattr(self, name, tuple(v) if isinstance(getattr(self, name), tuple) else v)
        self.state = [{} for _ in self.params]
        for key, s in state_dict["state"].items():
            p = self.params[int(key)]
            # Copies: the moments are updated in place, and must not write into the caller's arrays.
            self.state[int(key)] = {
                k: (v if k == "step" else B.xp().asarray(B.asarray(v, dtype=p.dtype), copy=True)) for k, v in s.items()
            }

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.hyperparams().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _check_lr(name: str, lr: Any, typical: str) -> None:
    try:
        ok = not isinstance(lr, bool) and 0 < float(lr) < float("inf")
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} needs a finite learning rate lr > 0, got {lr!r}; typical values: {typical}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    hyperparam_names = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    state_names = ("momentum_buffer",)

    def __init__(
        self,
        params: Params,
        lr: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        _check_lr("SGD", lr, "0.01")
        if not (momentum >= 0 and weight_decay >= 0):
            raise ValueError(f"SGD needs momentum, weight_decay >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(
            params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay
        )

    def _update(self, x: Any, g: Any, state: dict[str, Any]) -> Any:
        if self.weight_decay:
            g = g + self.weight_decay * x
        if self.momentum:
            buf = state.get("momentum_buffer")
            # The first buffer is the gradient itself (PyTorch); sharing the array is safe because
            # minigan never modifies arrays in place (every update builds a new one).
            buf = g if buf is None else self.momentum * buf + (1.0 - self.dampening) * g
            state["momentum_buffer"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        return x - self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015); ``decoupled=True`` is AdamW (Loshchilov & Hutter, 2019).

    For GANs use :meth:`gan_defaults`: lr 2e-4, betas (0.5, 0.999) (Radford et al., 2016:
    the default beta1 0.9 made training oscillate).
    """

    hyperparam_names = ("lr", "betas", "eps", "weight_decay", "decoupled")
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        _check_lr("Adam", lr, "2e-4 for GANs, 1e-3 otherwise")
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Adam needs betas in [0, 1), got {betas}; GANs use (0.5, 0.999)")
        if not (eps >= 0 and weight_decay >= 0):
            raise ValueError(f"Adam needs eps, weight_decay >= 0, got {eps}, {weight_decay}")
        super().__init__(
            params, lr=lr, betas=(float(b1), float(b2)), eps=eps, weight_decay=weight_decay, decoupled=decoupled
        )

    @classmethod
    def gan_defaults(
        cls, params: Params, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), **kw: Any
    ) -> Adam:
        """Adam with the DCGAN paper's settings: lr 2e-4, betas (0.5, 0.999)."""
        return cls(params, lr=lr, betas=betas, **kw)

    def _update(self, x: Any, g: Any, state: dict[str, Any]) -> Any:
        xp = B.xp()
        b1, b2 = self.betas
        t = state["step"] = state.get("step", 0) + 1
        if self.weight_decay:
            if self.decoupled:
                x = x * (1.0 - self.lr * self.weight_decay)  # shrink the weights directly
            else:
                g = g + self.weight_decay * x  # L2: part of the gradient, so Adam rescales it
        # The moments are the optimizer's own arrays (state_dict() copies them), so they are
        # updated in place: two passes over memory instead of three, and no new arrays.
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(x), xp.zeros_like(x)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1.0 - b1) * g  # m <- b1 * m + (1 - b1) * g
        g2 = g * g
        g2 *= 1.0 - b2
        v *= b2
        v += g2  # v <- b2 * v + (1 - b2) * g^2
        del g2  # each temporary goes as soon as it is used: a step's peak memory is parameter-sized
        # Bias correction: m and v start at 0, so early averages are too small by (1 - beta^t).
        # The step is lr * (m / bc1) / (sqrt(v / bc2) + eps); multiplying the numerator and the
        # denominator by sqrt(bc2) moves every per-element constant into one scalar:
        #     step = (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps * sqrt(bc2))
        bc1 = 1.0 - b1**t  # Python floats: float32 stays float32
        root_bc2 = math.sqrt(1.0 - b2**t)
        denom = xp.sqrt(v)
        denom += self.eps * root_bc2
        step = m / denom
        del denom
        step *= self.lr * root_bc2 / bc1
        return x - step  # a new array: the parameter's old values stay valid wherever they are held


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as PyTorch's AdamW)."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        decoupled: bool = True,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=decoupled)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), the WGAN paper's optimizer for the critic (lr 5e-5).

    ``centered=True`` divides by the estimated standard deviation instead of the RMS.
    """

    hyperparam_names = ("lr", "alpha", "eps", "momentum", "weight_decay", "centered")
    state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        centered: bool = False,
    ) -> None:
        _check_lr("RMSprop", lr, "5e-5 for a WGAN critic")
        if not (eps >= 0 and momentum >= 0 and weight_decay >= 0 and 0 <= alpha < 1):
            raise ValueError("RMSprop needs lr, eps, momentum, weight_decay >= 0 and alpha in [0, 1)")
        super().__init__(
            params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay, centered=centered
        )

    def _update(self, x: Any, g: Any, state: dict[str, Any]) -> Any:
        xp = B.xp()
        a = self.alpha
        state["step"] = state.get("step", 0) + 1
        if self.weight_decay:
            g = g + self.weight_decay * x
        sq = state.get("square_avg")
        sq = (1.0 - a) * (g * g) if sq is None else a * sq + (1.0 - a) * (g * g)
        state["square_avg"] = sq
        if self.centered:
            ga = state.get("grad_avg")
            ga = (1.0 - a) * g if ga is None else a * ga + (1.0 - a) * g
            state["grad_avg"] = ga
            avg = xp.sqrt(sq - ga * ga) + self.eps
        else:
            avg = xp.sqrt(sq) + self.eps
        if self.momentum:
            buf = state.get("momentum_buffer")
            buf = g / avg if buf is None else self.momentum * buf + g / avg
            state["momentum_buffer"] = buf
            return x - self.lr * buf
        return x - self.lr * (g / avg)


# ----------------------------------------------------------------------------
# Clipping
# ----------------------------------------------------------------------------
def clip_grad_norm_(params: Params, max_norm: float, norm_type: float = 2.0) -> float:
    """Rescale the gradients so that their joint norm is at most ``max_norm``; return the norm before.

    The norm is taken over all gradients together, as if concatenated into one
    vector (``norm_type`` 2 or ``float('inf')``). Parameters without a gradient
    are ignored. As in PyTorch the scale is ``max_norm / (norm + 1e-6)``.
    """
    xp = B.xp()
    grads = [p.grad for p in (params.parameters() if isinstance(params, Module) else params) if p.grad is not None]
    if not grads:
        return 0.0
    # The norm and the scale stay on the device; the one read-back is the norm this returns.
    if norm_type == float("inf"):
        total = xp.max(xp.stack([xp.max(xp.abs(g.data)) for g in grads]))
    elif norm_type == 2.0:
        total = xp.sqrt(sum(xp.sum(g.data * g.data) for g in grads))
    else:
        raise ValueError(f"norm_type must be 2.0 or inf, got {norm_type}")
    # min(max_norm / (norm + 1e-6), 1): a 0-d array of the gradients' dtype, so float32 stays float32.
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.data = g.data * xp.astype(coef, g.data.dtype)
    total = float(B.to_host(total))
    return total


def clip_weights_(params: Params, c: float) -> None:
    """Clamp every parameter to [-c, c] in place: the original WGAN's crude Lipschitz constraint (c = 0.01)."""
    c = float(c)  # a NumPy float64 bound would make float32 weights float64
    if c <= 0:
        raise ValueError(f"clip value must be > 0, got {c}")
    xp = B.xp()
    with no_grad():
        for p in params.parameters() if isinstance(params, Module) else params:
            p.data = xp.clip(p.data, -c, c)
