"""GAN losses: what the discriminator and the generator each minimise.

Every loss takes the discriminator's *raw outputs* (Tensors of shape (N, 1) or (N,)):

- for the losses built on probabilities (minimax, non-saturating, relativistic) these are
  **logits** ``l`` with ``D(x) = sigmoid(l)``. The logs are rewritten with the identities

      log D       = log sigmoid(l)     = -softplus(-l)
      log(1 - D)  = log sigmoid(-l)    = -softplus(l)

  so that a discriminator that is sure of itself (logits of +-1000, where sigmoid rounds to
  exactly 0 or 1 and ``log`` would give -inf) still yields finite losses and gradients;
- for the others (Wasserstein, least squares, hinge) the output is a real-valued score used
  as it is (a *critic* in WGAN terms).

Notation below: ``r`` = D's outputs on a real batch x, ``f`` = D's outputs on G(z),
``E`` = mean over the batch, ``s`` = sigmoid.

The :func:`get_loss` registry bundles a discriminator loss, a generator loss and their
recommended settings (n_critic, weight clipping, gradient penalty) under a name that
:class:`~minigan.gan.trainer.GANTrainer` accepts: ``"minimax"``, ``"ns"``, ``"wgan"``,
``"wgan-gp"``, ``"lsgan"``, ``"hinge"``, ``"ragan"``.

Read next: ``minigan/gan/trainer.py`` (the alternating training that uses these).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor, enable_grad, grad

__all__ = [
    "LOSSES",
    "GANLoss",
    "get_loss",
    "gradient_penalty",
    "hinge_d_loss",
    "hinge_g_loss",
    "instance_noise",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "minimax_d_loss",
    "minimax_g_loss",
    "nonsaturating_g_loss",
    "r1_penalty",
    "ragan_d_loss",
    "ragan_g_loss",
    "wasserstein_critic_loss",
    "wasserstein_g_loss",
]


# ----------------------------------------------------------------------------
# The original GAN (Goodfellow et al., 2014)
# ----------------------------------------------------------------------------
def minimax_d_loss(real_logits: Tensor, fake_logits: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Discriminator loss of the original GAN: binary cross-entropy, real = 1, fake = 0.

        L_D = -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-r)] + E[softplus(f)]

    With one-sided label smoothing ``a`` (Salimans et al., 2016) the real target is 1 - a
    (the fake target stays 0, hence "one-sided"), which keeps D from becoming overconfident:

        L_D = E[BCE(r, 1 - a)] + E[softplus(f)],   BCE(l, t) = softplus(l) - t * l
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if label_smoothing == 0.0:
        real_term = F.mean(F.softplus(-real_logits))
    else:
        real_term = F.binary_cross_entropy_with_logits(real_logits, 1.0 - label_smoothing)
    return real_term + F.mean(F.softplus(fake_logits))


def minimax_g_loss(fake_logits: Tensor) -> Tensor:
    """The *saturating* generator loss of the minimax game (G minimises what D maximises):

        L_G = E[log(1 - D(G(z)))] = -E[softplus(f)]

    dL_G/df = -sigmoid(f): when D confidently rejects the fakes (f << 0) the gradient
    vanishes, which is why this loss stalls early in training.
    """
    return -F.mean(F.softplus(fake_logits))


def nonsaturating_g_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating ("modified minimax", "-log D trick") generator loss:

        L_G = -E[log D(G(z))] = E[softplus(-f)]

    Same fixed point as :func:`minimax_g_loss`, but dL_G/df = sigmoid(f) - 1 -> -1 when D
    confidently rejects the fakes: strong gradients exactly when G is worst.
    """
    return F.mean(F.softplus(-fake_logits))


# ----------------------------------------------------------------------------
# Wasserstein GAN (Arjovsky et al., 2017) and its gradient penalties
# ----------------------------------------------------------------------------
def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss of WGAN: the negative of the Kantorovich-Rubinstein estimate of W1.

        L_C = E[C(G(z))] - E[C(x)] = E[f] - E[r]

    Only meaningful when C is (close to) 1-Lipschitz: enforce it by clipping the critic's
    weights after each step (``minigan.optim.clip_weights_``, WGAN) or with
    :func:`gradient_penalty` (WGAN-GP).
    """
    return F.mean(fake_scores) - F.mean(real_scores)


def wasserstein_g_loss(fake_scores: Tensor) -> Tensor:
    """Generator loss of WGAN: L_G = -E[C(G(z))] = -E[f]."""
    return -F.mean(fake_scores)


def _per_sample_grad_norm2(outputs: Tensor, inputs: Tensor) -> Tensor:
    """||d outputs_i / d inputs_i||^2 for every sample i, differentiable again.

    Summing the outputs before differentiating is exact because sample i's output depends
    only on sample i's input (true for D without batch statistics; see gradient_penalty).
    """
    (g,) = grad(F.sum(outputs), inputs, create_graph=True)  # same shape as inputs
    g = F.reshape(g, (g.shape[0], -1))  # (N, ...) -> (N, features)
    return F.sum(g * g, axis=1)  # (N,)


def gradient_penalty(
    discriminator: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    rng: B.Generator,
    weight: float = 10.0,
    labels: Any = None,
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al., 2017) on random interpolates of real and fake.

        x_hat = e * x + (1 - e) * G(z),  e ~ U[0, 1] per sample
        GP    = weight * E[(||grad_x_hat C(x_hat)||_2 - 1)^2]

    The inner gradient is taken with ``create_graph=True`` so that GP is a differentiable
    function of the critic's weights: backpropagating it is a second derivative.
    ``real`` and ``fake`` are treated as constants (detached). ``labels``, when given, are
    passed to a conditional critic as its second argument.

    The critic must not use batch statistics (BatchNorm): each sample's gradient would then
    depend on the whole batch. Use layer norm or no normalisation in WGAN-GP critics.
    """
    n = real.shape[0]
    e = rng.uniform((n,) + (1,) * (real.ndim - 1), dtype=real.dtype)  # (N, 1, ...) broadcasts per sample
    x_hat = Tensor(e * real.data + (1.0 - e) * fake.data, requires_grad=True)
    with enable_grad():  # a penalty on a gradient needs the graph, even when called under no_grad
        out = discriminator(x_hat) if labels is None else discriminator(x_hat, labels)
        # A tiny epsilon keeps sqrt differentiable where the gradient is exactly zero.
        norm = F.sqrt(_per_sample_grad_norm2(out, x_hat) + 1e-12)
        return weight * F.mean((norm - 1.0) ** 2)


def r1_penalty(discriminator: Callable[..., Tensor], real: Tensor, gamma: float = 10.0, labels: Any = None) -> Tensor:
    """R1 regulariser (Mescheder et al., 2018): penalise D's gradient on *real* data only.

        R1 = gamma / 2 * E[||grad_x D(x)||^2]    (D's raw output: the logit)

    Pushes D to be flat on the data manifold, which makes the GAN game converge locally.
    """
    x = Tensor(real.data, requires_grad=True)
    with enable_grad():
        out = discriminator(x) if labels is None else discriminator(x, labels)
        return (gamma / 2.0) * F.mean(_per_sample_grad_norm2(out, x))


# ----------------------------------------------------------------------------
# Least squares, hinge, relativistic average
# ----------------------------------------------------------------------------
def lsgan_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Least-squares GAN (Mao et al., 2017), targets real = 1, fake = 0:

    L_D = 1/2 E[(r - 1)^2] + 1/2 E[f^2]
    """
    return 0.5 * F.mean((real_scores - 1.0) ** 2) + 0.5 * F.mean(fake_scores**2)


def lsgan_g_loss(fake_scores: Tensor) -> Tensor:
    """Least-squares generator loss: L_G = 1/2 E[(f - 1)^2] (G wants its samples scored as real)."""
    return 0.5 * F.mean((fake_scores - 1.0) ** 2)


def hinge_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN): a margin of 1 on either side.

        L_D = E[relu(1 - r)] + E[relu(1 + f)]

    Samples already scored beyond the margin contribute no gradient.
    """
    return F.mean(F.relu(1.0 - real_scores)) + F.mean(F.relu(1.0 + fake_scores))


def hinge_g_loss(fake_scores: Tensor) -> Tensor:
    """Generator loss paired with the hinge discriminator loss: L_G = -E[f]."""
    return -F.mean(fake_scores)


def ragan_d_loss(real_logits: Tensor, fake_logits: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Relativistic average standard GAN (RaSGAN, Jolicoeur-Martineau, 2018), discriminator:
    D judges whether a real sample is *more realistic than the average fake*, and vice versa.

        L_D = -E_x[log s(r - E[f])] - E_z[log(1 - s(f - E[r]))]
            =  E_x[softplus(-(r - E[f]))] + E_z[softplus(f - E[r])]

    ``label_smoothing`` a: the real term becomes BCE(r - E[f], 1 - a), as in minimax_d_loss.
    """
    real_rel = real_logits - F.mean(fake_logits)
    fake_rel = fake_logits - F.mean(real_logits)
    if label_smoothing == 0.0:
        real_term = F.mean(F.softplus(-real_rel))
    else:
        real_term = F.binary_cross_entropy_with_logits(real_rel, 1.0 - label_smoothing)
    return real_term + F.mean(F.softplus(fake_rel))


def ragan_g_loss(fake_logits: Tensor, real_logits: Tensor) -> Tensor:
    """Relativistic average generator loss: the discriminator loss with the roles swapped.

        L_G = -E_z[log s(f - E[r])] - E_x[log(1 - s(r - E[f]))]
            =  E_z[softplus(-(f - E[r]))] + E_x[softplus(r - E[f])]

    Unlike the other generator losses it needs D's outputs on real data too (the gradient
    reaches G through both terms, via E[f]).
    """
    return F.mean(F.softplus(-(fake_logits - F.mean(real_logits)))) + F.mean(
        F.softplus(real_logits - F.mean(fake_logits))
    )


# ----------------------------------------------------------------------------
# Instance noise
# ----------------------------------------------------------------------------
def instance_noise(x: Tensor, std: float, rng: B.Generator) -> Tensor:
    """x + N(0, std^2): blur real and fake alike before D sees them (Sonderby et al., 2016).

    When the real and generated distributions do not overlap, D can separate them perfectly
    and its gradients say little; adding the same noise to both makes their supports
    overlap. The noise is a constant, so gradients pass through to x unchanged.
    """
    if std <= 0.0:
        return x
    return x + rng.normal(tuple(x.shape), std=std, dtype=x.dtype)


# ----------------------------------------------------------------------------
# The registry
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GANLoss:
    """A named pairing of discriminator and generator losses plus their usual settings.

    Attributes:
        name: registry name.
        d_loss: ``d_loss(real_out, fake_out) -> scalar`` minimised by D.
        g_loss: ``g_loss(fake_out, real_out) -> scalar`` minimised by G (``real_out`` is
            ignored except by the relativistic loss, see ``needs_real_in_g``).
        output: ``"logit"`` when D's output is a logit (D(x) = sigmoid of it) or
            ``"score"`` when it is a raw critic value.
        threshold: score above which D says "real", for its accuracy (None: halfway between
            the mean real and mean fake scores, for critics that have no fixed scale).
        needs_real_in_g: whether the generator loss needs D's outputs on a real batch.
        n_critic: default discriminator updates per generator update.
        clip_value: clip D's weights to [-c, c] after each update (WGAN), or None.
        gp_weight: weight of the WGAN-GP gradient penalty (0: none).
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor, Tensor | None], Tensor]
    output: str = "logit"
    threshold: float | None = 0.0
    needs_real_in_g: bool = False
    n_critic: int = 1
    clip_value: float | None = None
    gp_weight: float = 0.0


def _smoothed(d_loss: Callable[..., Tensor], label_smoothing: float) -> Callable[[Tensor, Tensor], Tensor]:
    if label_smoothing == 0.0:
        return d_loss
    return lambda r, f: d_loss(r, f, label_smoothing=label_smoothing)


def _registry(label_smoothing: float) -> dict[str, GANLoss]:
    smooth_minimax = _smoothed(minimax_d_loss, label_smoothing)
    return {
        "minimax": GANLoss("minimax", smooth_minimax, lambda f, r=None: minimax_g_loss(f)),
        "ns": GANLoss("ns", smooth_minimax, lambda f, r=None: nonsaturating_g_loss(f)),
        "wgan": GANLoss(
            "wgan",
            wasserstein_critic_loss,
            lambda f, r=None: wasserstein_g_loss(f),
            output="score",
            threshold=None,
            n_critic=5,
            clip_value=0.01,
        ),
        "wgan-gp": GANLoss(
            "wgan-gp",
            wasserstein_critic_loss,
            lambda f, r=None: wasserstein_g_loss(f),
            output="score",
            threshold=None,
            n_critic=5,
            gp_weight=10.0,
        ),
        "lsgan": GANLoss("lsgan", lsgan_d_loss, lambda f, r=None: lsgan_g_loss(f), output="score", threshold=0.5),
        "hinge": GANLoss("hinge", hinge_d_loss, lambda f, r=None: hinge_g_loss(f), output="score", threshold=0.0),
        "ragan": GANLoss(
            "ragan", _smoothed(ragan_d_loss, label_smoothing), ragan_g_loss, output="logit", needs_real_in_g=True
        ),
    }


#: Names accepted by :func:`get_loss`, with their aliases.
LOSSES = ("minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge", "ragan")
_ALIASES = {
    "saturating": "minimax",
    "non-saturating": "ns",
    "nonsaturating": "ns",
    "gan": "ns",
    "wasserstein": "wgan",
    "wgangp": "wgan-gp",
    "least-squares": "lsgan",
    "relativistic": "ragan",
    "rasgan": "ragan",
}


def get_loss(name: str | GANLoss, label_smoothing: float = 0.0, **overrides: Any) -> GANLoss:
    """Look up a :class:`GANLoss` by name (see ``LOSSES``), e.g. ``get_loss("wgan-gp", n_critic=3)``.

    ``label_smoothing`` applies to the cross-entropy losses (minimax, ns, ragan);
    ``overrides`` replace fields such as ``n_critic``, ``clip_value`` or ``gp_weight``.
    """
    if isinstance(name, GANLoss):
        return replace(name, **overrides) if overrides else name
    key = _ALIASES.get(name.lower(), name.lower())
    registry = _registry(label_smoothing)
    if key not in registry:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}")
    if label_smoothing and key not in ("minimax", "ns", "ragan"):
        raise ValueError(f"label smoothing applies to the cross-entropy losses, not {key!r}")
    loss = registry[key]
    return replace(loss, **overrides) if overrides else loss
