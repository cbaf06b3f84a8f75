"""The digit classifier every image metric is computed with (minigan's stand-in for Inception).

The Inception Score and the Frechet Inception Distance were defined on Google's Inception
network, trained on ImageNet. Its weights cannot be downloaded here, and on 28x28 digits a
digit classifier is the better judge anyway (its classes *are* the modes a GAN may drop). So
minigan ships its own: a LeNet-like CNN built from minigan's layers,

    (N, 1, 28, 28) -> Conv 3x3 16 -> ReLU -> MaxPool 2 -> Conv 3x3 32 -> ReLU -> MaxPool 2
                   -> Flatten (32*7*7 = 1568) -> Dense 128 -> ReLU   = the *features* (N, 128)
                   -> Dropout -> Dense 10                            = the *logits*   (N, 10)

trained on the 60,000 MNIST training images by ``python -m minigan.metrics.train_classifier``
(the command, seed, test accuracy and time are in the sidecar JSON next to the weights,
``minigan/metrics/weights/mnist_classifier.json``). Because the weights ship inside the
package, every metric computed with them is comparable across machines and runs. The shipped
network classifies 99.22% of the MNIST test images correctly, and those test images score an
Inception Score of 9.81 with it (9.88 is the published value for real MNIST). The numbers
are *not* comparable with published Inception-based FIDs: different network, different features.

**Input convention.** Images are ``(N, 1, 28, 28)`` (or flat ``(N, 784)``) with pixels in
``[-1, 1]``: the range of the library's tanh generators and of ``load_dataset(...)``'s default.
A generator with sigmoid output (the DCGAN pair, ``[0, 1]``) must be rescaled first
(``2 * x - 1``); :func:`minigan.metrics.evaluate_generator` does that from the run's config.
Host arrays (NumPy) and :class:`~minigan.Tensor` objects are both accepted; the outputs are
host NumPy float64 arrays, since every metric is computed on the host.

The glyph digits (``load_dataset("glyphs")``) are classified with the MNIST network too.

Read next: ``minigan/metrics/scores.py`` (what is computed from these outputs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor, no_grad
from minigan.backend import host_np as np
from minigan.nn import Conv2D, Dense, Dropout, Flatten, MaxPool2D, Module, ReLU, Sequential

__all__ = ["CLASSIFIER_NAMES", "Classifier", "LeNet", "load_classifier", "weights_paths"]

#: Data set name -> file stem of its shipped weights. Fashion-MNIST would be added here once trained.
CLASSIFIER_NAMES = {"mnist": "mnist_classifier"}

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class LeNet(Module):
    """The classifier network: ``body`` gives the 128 features, ``head`` the 10 logits.

    Split in two so that the penultimate features (what the Frechet distance compares) are
    one call away, with no hooks.
    """

    def __init__(
        self, rng: B.Generator | int = 0, width: tuple[int, int] = (16, 32), hidden: int = 128, dropout: float = 0.3
    ) -> None:
        super().__init__()
        g = B.Generator(rng) if isinstance(rng, int) else rng
        c1, c2 = width
        he = "he_uniform"  # ReLU networks: He initialisation keeps the activations' scale
        self.body = Sequential(
            Conv2D(1, c1, 3, padding="same", rng=g.spawn(), weight_init=he),
            ReLU(),
            MaxPool2D(2),  # 28 -> 14
            Conv2D(c1, c2, 3, padding="same", rng=g.spawn(), weight_init=he),
            ReLU(),
            MaxPool2D(2),  # 14 -> 7
            Flatten(),  # (N, c2, 7, 7) -> (N, c2 * 49)
            Dense(c2 * 49, hidden, rng=g.spawn(), weight_init=he),
            ReLU(),
        )
        self.head = Sequential(Dropout(dropout, rng=g.spawn()), Dense(hidden, 10, rng=g.spawn()))
        self.width, self.hidden, self.dropout = (c1, c2), hidden, dropout

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def weights_paths(name: str = "mnist") -> tuple[Path, Path]:
    """The shipped ``.npz`` weights and ``.json`` sidecar of classifier ``name``."""
    if name not in CLASSIFIER_NAMES:
        raise ValueError(
            f"no classifier for {name!r}; shipped: {', '.join(CLASSIFIER_NAMES)} "
            "(train one with `python -m minigan.metrics.train_classifier --dataset NAME`)"
        )
    stem = WEIGHTS_DIR / CLASSIFIER_NAMES[name]
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def _as_images(images: Any) -> Any:
    """Host float32 (N, 1, 28, 28) from a Tensor, a backend array or a host array, flat or not."""
    x = B.to_numpy(images.data if isinstance(images, Tensor) else images)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 1, 28, 28)  # (N, 784) -> (N, 1, 28, 28): the MLP generators' flat images
    elif x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x[:, None]  # (N, 28, 28) -> (N, 1, 28, 28)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"the classifier takes (N, 1, 28, 28) or (N, 784) images in [-1, 1], got shape {x.shape}")
    return x


@dataclass
class Classifier:
    """A trained :class:`LeNet` in eval mode, with batched host-side outputs.

    Attributes:
        net: the network (on the backend that was active when it was loaded).
        info: the sidecar dict (test accuracy, seed, command, time, ...).
        batch_size: images per forward pass (memory vs. per-call overhead).
    """

    net: LeNet
    info: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 500

    def __post_init__(self) -> None:
        self.net.eval()  # Dropout off: the outputs are deterministic

    def forward(self, images: Any) -> tuple[Any, Any]:
        """(features (N, 128), logits (N, 10)), float64 host arrays, from one batched pass."""
        x = _as_images(images)
        feats, logits = [], []
        with no_grad():
            for i in range(0, len(x), self.batch_size):
                f = self.net.body(Tensor(B.asarray(x[i : i + self.batch_size])))
                feats.append(B.to_host(f.data).astype(np.float64))
                logits.append(B.to_numpy(self.net.head(f).data).astype(np.float64))
        if not feats:
            return np.zeros((0, self.net.hidden)), np.zeros((0, 10))
        return np.concatenate(feats), np.concatenate(logits)

    def logits(self, images: Any) -> Any:
        """(N, 10) float64 logits."""
        return self.forward(images)[1]

    def probs(self, images: Any) -> Any:
        """(N, 10) float64 softmax probabilities p(y | x)."""
        return softmax(self.logits(images))

    def features(self, images: Any) -> Any:
        """(N, 128) float64 penultimate activations (after the ReLU): what FID, KID and precision compare."""
        return self.forward(images)[0]

    def probs_and_features(self, images: Any) -> tuple[Any, Any]:
        """(probs, features) at the cost of one forward pass."""
        f, z = self.forward(images)
        return softmax(z), f

    def accuracy(self, images: Any, labels: Any) -> float:
        """Fraction of ``images`` classified as ``labels``."""
        pred = self.logits(images).argmax(axis=1)
        return float((pred == np.asarray(B.to_numpy(labels))).mean())


def softmax(logits: Any) -> Any:
    """Row-wise softmax of a host (N, K) array."""
    z = logits - logits.max(axis=1, keepdims=True)  # shift so exp cannot overflow; softmax is unchanged
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


_CACHE: dict[str, Classifier] = {}


def load_classifier(name: str = "mnist") -> Classifier:
    """The shipped classifier for data set ``name`` (``"mnist"``; the glyph digits use it too).

    Loaded once per process and backend, on the active backend, in eval mode.
    """
    key = f"{name}@{B.get_backend().name}"
    if key not in _CACHE:
        npz, sidecar = weights_paths(name)
        info = json.loads(sidecar.read_text())
        arch = info["architecture"]
        net = LeNet(width=tuple(arch["width"]), hidden=arch["hidden"], dropout=arch.get("dropout", 0.0))
        with np.load(npz, allow_pickle=False) as f:
            net.load_state_dict({k: f[k] for k in f.files})
        _CACHE[key] = Classifier(net, info)
    return _CACHE[key]
