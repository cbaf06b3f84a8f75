"""Every metric at once: for a batch of images, for a generator, for a checkpoint.

- :func:`reference` computes what the real side of every comparison needs once (the real
  images' classifier features and their Gaussian statistics, optionally the Parzen test and
  validation sets), so that evaluating many generators does not redo it;
- :func:`evaluate_images` scores generated images against it and returns a flat dict of
  floats: ``is, is_std, fid, kid, kid_std, precision, recall, classes_covered,
  kl_to_uniform`` and, when Parzen sets are given, ``parzen_ll, parzen_sem, parzen_sigma``;
- :func:`evaluate_generator` draws ``n`` images from a generator (eval mode, no autograd,
  batched, rescaled to [-1, 1]) and calls :func:`evaluate_images`;
- :func:`evaluate_checkpoint` does the same for a ``minigan train`` checkpoint (what
  ``minigan evaluate`` runs); for the 2-D toy models it returns the mode metrics instead.

The protocol (the defaults of ``minigan evaluate``): 10,000 generated images against the
10,000 MNIST test images for IS, FID, KID, precision/recall and class coverage; for Parzen,
sigma chosen on the last 10,000 *training* images from a log grid, then the log-likelihood of
the 10,000 test images under the 10,000 samples, pixels scaled to [0, 1] as in the GAN paper.

Read next: ``minigan/app/evaluate.py`` (``minigan evaluate``) and ``minigan/app/train.py`` (``--eval-every``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.backend import host_np as np
from minigan.metrics import scores
from minigan.metrics.classifier import Classifier, load_classifier
from minigan.nn import Module

__all__ = ["Reference", "evaluate_checkpoint", "evaluate_generator", "evaluate_images", "reference", "to_unit_range"]


def to_unit_range(images: Any) -> Any:
    """Images in [-1, 1] -> host float64 flat (N, 784) vectors in [0, 1] (the Parzen pixel scale)."""
    x = B.to_numpy(images.data if isinstance(images, Tensor) else images)
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # (N, 1, 28, 28) -> (N, 784)
    return (x + 1.0) / 2.0


@dataclass
class Reference:
    """The real side of the comparison, computed once.

    Attributes:
        features: (N, 128) classifier features of the real images.
        mu, cov: their mean and covariance (for FID).
        parzen_test: flat [0, 1] test images for the Parzen log-likelihood, or None.
        parzen_validation: flat [0, 1] images to choose sigma on, or None.
        name: what the real images are (for the reports).
    """

    features: Any
    mu: Any
    cov: Any
    parzen_test: Any = None
    parzen_validation: Any = None
    name: str = "real"

    def __len__(self) -> int:
        return len(self.features)


def reference(
    real_images: Any,
    classifier: Classifier | None = None,
    *,
    parzen_test: Any = None,
    parzen_validation: Any = None,
    name: str = "real",
) -> Reference:
    """Features and statistics of ``real_images`` ((N, 1, 28, 28) in [-1, 1]).

    ``parzen_test`` / ``parzen_validation``: images in [-1, 1] for the Parzen estimate
    (the test set, and the last 10,000 training images), or None to skip it.
    """
    clf = classifier or load_classifier()
    feats = clf.features(real_images)
    mu, cov = scores.gaussian_stats(feats)
    return Reference(
        feats,
        mu,
        cov,
        None if parzen_test is None else to_unit_range(parzen_test),
        None if parzen_validation is None else to_unit_range(parzen_validation),
        name,
    )


def evaluate_images(
    fake_images: Any,
    real_images: Any,
    classifier: Classifier | None = None,
    *,
    parzen: bool | None = None,
    parzen_sigma: float | None = None,
    k: int = 3,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    labels: Any = None,
) -> dict[str, float]:
    """Score generated images against real ones; a flat dict of floats.

    Args:
        fake_images: (N, 1, 28, 28) or (N, 784) in [-1, 1], host array or Tensor.
        real_images: the same for real data, or a :class:`Reference` built by :func:`reference`.
        classifier: default :func:`load_classifier` ``("mnist")``.
        parzen: compute the Parzen log-likelihood (needs a Reference with ``parzen_test``;
            default: whenever it has one).
        parzen_sigma: a fixed sigma instead of choosing it on ``parzen_validation``.
        k: neighbours for precision/recall; splits: Inception-Score parts;
        kid_subsets, kid_subset_size, seed: KID's random subsets.
        labels: for a conditional generator, the class each image was drawn for: adds
            ``label_accuracy`` (the fraction the classifier reads as that class) and
            ``label_accuracy_min`` (the same for the worst class).

    Returns:
        ``is, is_std, fid, kid, kid_std, precision, recall, classes_covered, kl_to_uniform,
        n_fake, n_real`` and with Parzen ``parzen_ll, parzen_sem, parzen_sigma``.
    """
    clf = classifier or load_classifier()
    ref = real_images if isinstance(real_images, Reference) else reference(real_images, clf)
    probs, feats = clf.probs_and_features(fake_images)
    is_mean, is_std = scores.inception_score(probs, splits=splits)
    kid, kid_std = scores.kernel_distance(
        feats, ref.features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
    )
    pr = scores.precision_recall(ref.features, feats, k=k)
    cov = scores.class_coverage(probs)
    if labels is not None:
        labels = np.asarray(labels)
        hit = np.argmax(probs, axis=1) == labels
        per_class = [float(hit[labels == k].mean()) for k in np.unique(labels)]
    out: dict[str, float] = {
        "is": is_mean,
        "is_std": is_std,
        "fid": scores.frechet_from_stats(*scores.gaussian_stats(feats), ref.mu, ref.cov),
        "kid": kid,
        "kid_std": kid_std,
        "precision": pr["precision"],
        "recall": pr["recall"],
        "classes_covered": cov["classes_covered"],
        "kl_to_uniform": cov["kl_to_uniform"],
        "n_fake": len(feats),
        "n_real": len(ref),
    }
    if labels is not None:
        out.update({"label_accuracy": float(hit.mean()), "label_accuracy_min": min(per_class)})
    if parzen is None:
        parzen = ref.parzen_test is not None
    if parzen:
        if ref.parzen_test is None:
            raise ValueError("parzen=True needs a Reference built with parzen_test= (see metrics.reference)")
        samples = to_unit_range(fake_images)
        sigma = parzen_sigma
        if sigma is None:
            if ref.parzen_validation is None:
                raise ValueError("choosing the Parzen sigma needs parzen_validation= (or pass parzen_sigma=)")
            sigma = scores.parzen_select_sigma(samples, ref.parzen_validation)
        ll, sem = scores.parzen_log_likelihood(samples, ref.parzen_test, sigma)
        out.update({"parzen_ll": ll, "parzen_sem": sem, "parzen_sigma": sigma})
    return out


def generate(
    G: Module,
    n: int,
    latent_dim: int,
    *,
    value_range: tuple[float, float] = (-1.0, 1.0),
    num_classes: int | None = None,
    seed: int = 0,
    batch_size: int = 500,
) -> Any:
    """``n`` images of ``G`` as host float32 (n, 1, 28, 28) in [-1, 1].

    G runs in eval mode (BatchNorm's running statistics, no Dropout) under ``no_grad`` and is
    put back in the mode it was in. The noise comes from its own ``Generator(seed)``, so an
    evaluation in the middle of training draws nothing from the trainer's random streams.
    Conditional generators get the labels 0, 1, ..., 9, 0, 1, ... (balanced classes).
    """
    rng = B.Generator(seed)
    was_training = [m.training for _, m in G.named_modules()]
    G.eval()
    parts = []
    try:
        with no_grad():
            for i in range(0, n, batch_size):
                m = min(batch_size, n - i)
                z = Tensor(rng.normal((m, latent_dim)))
                if num_classes is None:
                    y = G(z)
                else:
                    labels = np.arange(i, i + m, dtype=np.int64) % num_classes
                    y = G(z, Tensor(B.asarray(labels)))
                parts.append(B.to_host(y.data).astype(np.float32).reshape(m, 1, 28, 28))  # flat MLP output too
    finally:
        for (_, mod), flag in zip(G.named_modules(), was_training):
            mod.training = flag
    x = np.concatenate(parts)
    lo, hi = value_range
    if (lo, hi) != (-1.0, 1.0):
        x = (x - lo) * (2.0 / (hi - lo)) - 1.0  # e.g. DCGAN's sigmoid [0, 1] -> [-1, 1]
    return x.astype(np.float32)


def evaluate_generator(
    G: Module,
    n: int = 10000,
    *,
    real_images: Any,
    latent_dim: int,
    value_range: tuple[float, float] = (-1.0, 1.0),
    num_classes: int | None = None,
    seed: int = 0,
    classifier: Classifier | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Draw ``n`` images from ``G`` (see :func:`generate`) and score them (:func:`evaluate_images`).

    ``real_images``: real images in [-1, 1] or a :class:`Reference`; ``kwargs`` go to
    :func:`evaluate_images` (``parzen``, ``k``, ...).
    """
    x = generate(G, n, latent_dim, value_range=value_range, num_classes=num_classes, seed=seed)
    labels = None if num_classes is None else np.arange(n) % num_classes  # as generate() draws them
    return evaluate_images(x, real_images, classifier, seed=seed, labels=labels, **kwargs)


def mnist_reference(
    dataset: str = "mnist",
    n: int = 10000,
    *,
    data_dir: str | os.PathLike | None = None,
    parzen: bool = True,
    classifier: Classifier | None = None,
    download: bool = False,
) -> Reference:
    """The standard :class:`Reference`: the first ``n`` test images of ``dataset`` (``"mnist"``
    or ``"glyphs"``), and for Parzen the same test images plus the last ``n`` training images.

    For the glyph digits (generated, so any ``n`` are as good as the last ``n``) the
    validation images are ``n`` glyphs of the training split.
    """
    from minigan.data import load_dataset

    test = load_dataset(dataset, "test", data_dir=data_dir, download=download, n=n)
    validation = None
    if parzen:
        if test.name == "glyphs":
            validation = load_dataset("glyphs", "train", n=n).images
        else:
            train = load_dataset(dataset, "train", data_dir=data_dir, download=download)
            validation = train.images[-n:]
    return reference(
        test.images,
        classifier,
        parzen_test=test.images if parzen else None,
        parzen_validation=validation,
        name=f"{test.name} test",
    )


def evaluate_checkpoint(
    path: str | os.PathLike,
    n: int = 10000,
    *,
    data_dir: str | os.PathLike | None = None,
    dataset: str | None = None,
    parzen: bool = True,
    seed: int = 0,
    ref: Reference | None = None,
) -> dict[str, Any]:
    """Evaluate the generator of a ``minigan train`` checkpoint (what ``minigan evaluate`` runs).

    Image models: the metrics of :func:`evaluate_images` against :func:`mnist_reference` of
    ``dataset`` (default: the data set the run trained on; MNIST and glyph digits share the
    MNIST classifier). 2-D toy models: :func:`minigan.data.toy.mode_metrics` of ``n`` samples.
    Returns the metrics plus ``model``, ``loss``, ``step``, ``dataset`` and ``n``.
    """
    from minigan import checkpoint
    from minigan.gan import run as R

    ckpt = checkpoint.read(path)
    config = ckpt.extra.get("config")
    if not config or "generator" not in config:
        raise ValueError(f"{path} is a minigan checkpoint but not one written by `minigan train`")
    G = R.build_generator(config)
    G.load_state_dict(R.sampling_state(ckpt))  # the EMA of G when the run kept one
    head = {"model": config["model"], "loss": config.get("loss"), "step": ckpt.step, "n": n}
    if str(config.get("dataset", "")).startswith("csv:"):
        raise ValueError(f"{path}: no metrics for the points of a csv: file yet (only for ring-2d / grid-2d mixtures)")
    if config.get("image_shape") and list(config["image_shape"]) != [1, 28, 28]:
        shape = tuple(config["image_shape"])
        raise ValueError(f"{path}: the classifier judges (1, 28, 28) digits; this generator makes {shape}")
    if not config.get("image_shape"):  # the 2-D mixtures
        from minigan.data import toy

        mixture = toy.ring_2d() if config["model"] == "ring-2d" else toy.grid_2d()
        x = R.sample(G, n, config["latent_dim_resolved"], B.Generator(seed))
        return {**head, "dataset": mixture.name, **toy.mode_metrics(B.asarray(x), mixture)}
    if dataset is None:
        dataset = (ckpt.extra.get("dataset") or {}).get("name") or "mnist"
    if dataset not in ("mnist", "glyphs"):
        raise ValueError(f"no classifier for {dataset!r} yet: evaluate against 'mnist' or 'glyphs'")
    if ref is None:
        ref = mnist_reference(dataset, n, data_dir=data_dir, parzen=parzen)
    values = evaluate_generator(
        G,
        n,
        real_images=ref,
        latent_dim=config["latent_dim_resolved"],
        value_range=tuple(config["value_range"]),
        num_classes=config.get("num_classes"),
        seed=seed,
        parzen=parzen,
    )
    return {**head, "dataset": dataset, **values}
