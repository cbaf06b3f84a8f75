"""The scores themselves: plain functions of host arrays (NumPy, float64).

Each takes what the classifier (or the raw pixels) produced and returns Python floats, so it
can be read and tested without any network. With ``p = classifier.probs(x)`` (N, 10) and
``f = classifier.features(x)`` (N, 128):

- :func:`inception_score` (Salimans et al., 2016): ``exp E_x KL(p(y|x) || p(y))``, large when
  every image is classified confidently (sharp p(y|x)) *and* the classes are balanced (flat
  p(y)). Between 1 (one class, or no confident image) and 10 (the number of classes).
- :func:`frechet_distance` (Heusel et al., 2017): fit a Gaussian to each set of features and
  take the Frechet (2-Wasserstein) distance between them,
  ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``. 0 for equal statistics.
- :func:`kernel_distance` (KID, Binkowski et al., 2018): the *unbiased* estimate of the squared
  maximum mean discrepancy with the cubic kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over
  random subsets. Its mean is ~0 for two samples of one distribution, at any sample size.
- :func:`precision_recall` (Kynkaanniemi et al., 2019): approximate each manifold by the union
  of balls around its points, each ball reaching that point's k-th nearest neighbour;
  *precision* = fraction of generated points inside the real manifold (quality), *recall* =
  fraction of real points inside the generated manifold (diversity).
- :func:`class_coverage`: the histogram of predicted classes, its KL divergence to uniform and
  the number of classes that get a fair share (mode dropping, in the ten digits).
- :func:`parzen_log_likelihood` and :func:`parzen_select_sigma`: the Gaussian Parzen-window
  estimate of the test log-likelihood used by the original GAN paper (Goodfellow et al., 2014).

**Sample size.** FID is *biased*: with N samples its expectation exceeds the true distance by
roughly ``tr`` terms of order 1/N, so two FIDs are comparable only at the same N. minigan
reports FID at N = 10,000 generated vs the 10,000 MNIST test images (``minigan evaluate``'s
default); the benchmark's quick mode uses fewer and says so. KID is unbiased, which makes it
the better number at small N (its spread over subsets is reported alongside). The Parzen
estimate is known to be a poor likelihood estimate in 784 dimensions (Theis et al., 2016: a
k-means "model" beats real data); it is here to reproduce the GAN paper's table, not to judge.

Read next: ``minigan/metrics/evaluate.py`` (all of them at once, for a generator).
"""

from __future__ import annotations

import math
from typing import Any

from minigan.backend import host_np as np

__all__ = [
    "class_coverage",
    "frechet_distance",
    "frechet_from_stats",
    "gaussian_stats",
    "inception_score",
    "kernel_distance",
    "parzen_log_likelihood",
    "parzen_select_sigma",
    "precision_recall",
]


def _host2d(x: Any, name: str) -> Any:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        a = a.reshape(len(a), -1)  # (N, ...) -> (N, D): images count as flat vectors here
    if len(a) < 2:
        raise ValueError(f"{name} needs at least 2 rows, got {len(a)}")
    return a


# ----------------------------------------------------------------------------
# Inception Score
# ----------------------------------------------------------------------------
def inception_score(probs: Any, splits: int = 10) -> tuple[float, float]:
    """(mean, std) over ``splits`` equal parts of ``exp(mean_x KL(p(y|x) || p(y)))``.

    Args:
        probs: (N, K) class probabilities (rows sum to 1), e.g. ``classifier.probs(images)``.
        splits: the data is cut into this many parts and p(y) is estimated in each (10, as in
            Salimans et al. and every published table).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"inception_score needs (N, K) probabilities with N >= splits={splits}, got {p.shape}")
    eps = 1e-12  # 0 * log 0 = 0: clipping inside the log only
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)  # the marginal p(y) of this part, (1, K)
        kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(axis=1)  # KL per image, (n,)
        scores.append(math.exp(float(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


# ----------------------------------------------------------------------------
# Frechet distance
# ----------------------------------------------------------------------------
def gaussian_stats(feats: Any) -> tuple[Any, Any]:
    """Mean (D,) and covariance (D, D) of (N, D) features (float64, unbiased covariance)."""
    f = _host2d(feats, "gaussian_stats")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm_psd(s: Any) -> Any:
    """Square root of a symmetric positive semi-definite matrix by its eigendecomposition."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # V diag(sqrt w) V^T; tiny negative w are round-off


def frechet_from_stats(mu_a: Any, cov_a: Any, mu_b: Any, cov_b: Any) -> float:
    """The Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b).

    ``tr sqrt(S_a S_b)`` is computed as ``sum sqrt(eig(S_a^1/2 S_b S_a^1/2))``: the matrix
    inside is symmetric PSD (unlike ``S_a S_b``), so a symmetric eigensolver gives real,
    non-negative eigenvalues and no complex round-off has to be thrown away (as it must
    with ``scipy.linalg.sqrtm(S_a @ S_b)``, the usual way).
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    root_a = _sqrtm_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    middle = (middle + middle.T) / 2  # symmetric up to round-off; make it exactly so for eigvalsh
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff) + float(np.trace(cov_a)) + float(np.trace(cov_b)) - 2.0 * tr_sqrt
    return max(value, 0.0)  # a distance: round-off must not make it negative


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Frechet distance between Gaussians fitted to (N, D) and (M, D) features (FID when they
    are classifier features). Biased upwards at small N: compare values at equal N only."""
    return frechet_from_stats(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


# ----------------------------------------------------------------------------
# Kernel distance (KID)
# ----------------------------------------------------------------------------
def _mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD^2 of two equal-size sets with the cubic polynomial kernel."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m = len(x)
    # Unbiased: the diagonals k(x_i, x_i) are left out of the within-set means.
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.mean())


def kernel_distance(
    feats_a: Any, feats_b: Any, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: (mean, std) of the unbiased MMD^2 over ``subsets`` random subsets of each set.

    Each subset draws ``min(subset_size, N_a, N_b)`` rows of each set without replacement,
    independently. Can be slightly negative (it is an unbiased estimate of a value >= 0).
    """
    a, b = _host2d(feats_a, "kernel_distance"), _host2d(feats_b, "kernel_distance")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


# ----------------------------------------------------------------------------
# Precision and recall
# ----------------------------------------------------------------------------
def _sq_dists(a: Any, b: Any) -> Any:
    """(len(a), len(b)) squared Euclidean distances, clipped at 0 against round-off."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _knn_radii(x: Any, k: int, chunk: int) -> Any:
    """Squared distance of each row of x to its k-th nearest *other* row."""
    radii = np.empty(len(x))
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i : i + chunk], x)
        # Column k of the sorted row: column 0 is the point itself (distance 0).
        radii[i : i + chunk] = np.partition(d, k, axis=1)[:, k]
    return radii


def _inside(points: Any, centres: Any, radii: Any, chunk: int) -> Any:
    """Boolean (len(points),): inside at least one ball (centre, radius) of the manifold."""
    out = np.empty(len(points), dtype=bool)
    for i in range(0, len(points), chunk):
        d = _sq_dists(points[i : i + chunk], centres)
        out[i : i + chunk] = (d <= radii[None, :]).any(axis=1)
    return out


def precision_recall(real_feats: Any, fake_feats: Any, k: int = 3, chunk: int = 1000) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) with k-NN balls.

    precision: fraction of fake points within the k-NN radius of at least one real point.
    recall: fraction of real points within the k-NN radius of at least one fake point.
    Both in [0, 1]; use equal sizes for both sets (the radii shrink as a set grows).
    """
    real, fake = _host2d(real_feats, "precision_recall"), _host2d(fake_feats, "precision_recall")
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k={k} needs more than k points in each set, got {len(real)} and {len(fake)}")
    real_r, fake_r = _knn_radii(real, k, chunk), _knn_radii(fake, k, chunk)
    return {
        "precision": float(_inside(fake, real, real_r, chunk).mean()),
        "recall": float(_inside(real, fake, fake_r, chunk).mean()),
    }


# ----------------------------------------------------------------------------
# Class coverage
# ----------------------------------------------------------------------------
def class_coverage(probs: Any, min_share: float = 0.1) -> dict[str, Any]:
    """Histogram of the predicted (argmax) classes, its KL to uniform and the classes covered.

    Args:
        probs: (N, K) class probabilities.
        min_share: a class is *covered* when it gets at least ``min_share`` of its fair
            share ``1/K`` of the samples (default 0.1: 1% of them for 10 classes), so that a
            few misclassified samples do not count as a mode.

    Returns:
        ``histogram`` (list of K fractions), ``kl_to_uniform`` (KL(hist || uniform) in nats:
        0 when balanced, log K when everything is one class), ``classes_covered`` (int).
    """
    p = np.asarray(probs, dtype=np.float64)
    k = p.shape[1]
    hist = np.bincount(p.argmax(axis=1), minlength=k) / len(p)
    nz = hist > 0
    kl = float((hist[nz] * np.log(hist[nz] * k)).sum())
    return {
        "histogram": [float(h) for h in hist],
        "kl_to_uniform": kl,
        "classes_covered": int((hist >= min_share / k).sum()),
    }


# ----------------------------------------------------------------------------
# Parzen window
# ----------------------------------------------------------------------------
def _parzen_point_ll(samples: Any, test: Any, sigmas: Any, chunk: int) -> Any:
    """(n_test, n_sigmas) log-density of each test point under the Parzen estimate of each sigma.

    log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log N - D/2 log(2 pi sigma^2).
    The distance matrix is computed one block of test rows at a time (10,000 x 10,000 float64
    would be 800 MB) and shared by every sigma; the logsumexp subtracts each row's smallest
    distance first so that exp never underflows to a row of zeros.
    """
    s = _host2d(samples, "parzen samples")
    x = _host2d(test, "parzen test")
    if s.shape[1] != x.shape[1]:
        raise ValueError(f"samples have {s.shape[1]} dimensions, test points {x.shape[1]}")
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    n, dim = s.shape
    out = np.empty((len(x), len(sigmas)))
    const = -math.log(n) - 0.5 * dim * np.log(2 * math.pi * sigmas**2)  # (n_sigmas,)
    # The dot products, 2 x 10,000 x 10,000 x 784 multiply-adds per call, are most of the cost: they
    # run in float32 (twice as fast) and everything after them in float64. For pixels in [0, 1] the
    # squared distances carry an absolute error below ~1e-4, i.e. ~1e-3 nats at sigma 0.2.
    s32, s_norm = s.astype(np.float32), (s * s).sum(1)
    for i in range(0, len(x), chunk):
        xc = x[i : i + chunk]
        cross = (xc.astype(np.float32) @ s32.T).astype(np.float64)  # (chunk, n)
        d = np.maximum((xc * xc).sum(1)[:, None] + s_norm[None, :] - 2.0 * cross, 0.0)  # (chunk, n)
        dmin = d.min(axis=1, keepdims=True)  # (chunk, 1)
        excess = d - dmin
        for j, sigma in enumerate(sigmas):
            inv = 1.0 / (2.0 * sigma**2)
            lse = -dmin[:, 0] * inv + np.log(np.exp(-excess * inv).sum(axis=1))
            out[i : i + chunk, j] = lse + const[j]
    return out


def parzen_log_likelihood(samples: Any, test: Any, sigma: float, chunk: int = 500) -> tuple[float, float]:
    """(mean, standard error) of the Parzen-window log-likelihood of ``test`` under ``samples``.

    The GAN paper's protocol: a Gaussian of width ``sigma`` on each of the (N, D) generated
    ``samples``; the mean log-density of the (M, D) ``test`` points, in nats, with its standard
    error over test points. For MNIST use pixels in [0, 1] (as the paper did) to compare with
    its 225 +- 2; the value depends on that scale by D log(scale).
    """
    ll = _parzen_point_ll(samples, test, [sigma], chunk)[:, 0]
    return float(ll.mean()), float(ll.std(ddof=1) / math.sqrt(len(ll)))


def parzen_select_sigma(samples: Any, validation: Any, grid: Any = None, chunk: int = 500) -> float:
    """The sigma of ``grid`` (default 14 values log-spaced over [0.05, 1], steps of 26%) with the highest
    mean Parzen log-likelihood of ``validation`` (the GAN paper: the last 10,000 training images)."""
    grid = np.logspace(math.log10(0.05), 0.0, 14) if grid is None else np.asarray(grid, dtype=np.float64)
    ll = _parzen_point_ll(samples, validation, grid, chunk).mean(axis=0)
    return float(grid[int(np.argmax(ll))])
