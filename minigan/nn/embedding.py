"""Embedding: a learned vector per class label (for class-conditional GANs).

``Embedding(num_embeddings, embedding_dim)`` maps integer labels to rows of a
weight matrix ``W`` (num_embeddings, embedding_dim). A table lookup ``W[labels]``
would need integer-array indexing and, for its gradient, a scatter-add; neither
is in the Python array API standard. So the lookup is written as a matrix
product with one-hot rows, which is the same thing mathematically::

    onehot(labels) (M, K) @ W (K, D) -> (M, D)        with M = number of labels

and whose gradient ``onehot.T @ gy`` adds up the gradients of repeated labels
automatically.

Read next: ``minigan/nn/minibatch_std.py``.
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import anomaly
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn import init
from minigan.nn.module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Integer labels (N,) or (N, L) -> vectors (N, D) or (N, L, D).

    Args:
        num_embeddings: number of classes K (labels in [0, K)).
        embedding_dim: D.
        rng: a :class:`minigan.Generator`, an int seed, or None
            (None: the default generator, which ``minigan.manual_seed`` seeds).
        weight_init: initialiser (default N(0, 1), as PyTorch's ``nn.Embedding``).

    Parameters: ``weight`` (K, D).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rng: B.Generator | int | None = None,
        weight_init: str | init.Initializer = "normal",
    ) -> None:
        super().__init__()
        self._require_positive(num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        gen = init.as_generator(rng)
        shape = (num_embeddings, embedding_dim)
        self.weight = Parameter(init.get(weight_init)(shape, gen, fan_in=num_embeddings, fan_out=embedding_dim))

    def forward(self, labels: Any) -> Tensor:
        xp = B.xp()
        lab = labels.data if isinstance(labels, Tensor) else labels
        k = self.num_embeddings
        int_dtypes = [
            getattr(xp, n) for n in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
        ]
        is_int = hasattr(lab, "dtype") and lab.dtype in int_dtypes
        self._check_input(labels, is_int and 1 <= lab.ndim <= 2, f"(N,) or (N, L) of integer labels in [0, {k})")
        # Checking the range reads the labels' extremes back to the host: free on NumPy, a sync on
        # a GPU. There it is done in anomaly mode only (outside it, a label out of range would
        # select no row of the one-hot product below and embed to zeros).
        if lab.size and (B.get_backend().on_host or anomaly.is_anomaly_enabled()) and not self._in_range(lab, k):
            lo, hi = (int(B.to_host(v)) for v in (xp.min(lab), xp.max(lab)))
            raise ValueError(f"Embedding({self.extra_repr()}): labels must be in [0, {k}), got values in [{lo}, {hi}]")
        flat = xp.reshape(lab, (-1, 1))  # (N,) or (N, L) -> (M, 1)
        onehot = xp.astype(flat == xp.arange(k, dtype=lab.dtype), self.weight.dtype)  # (M, 1) == (K,) -> (M, K)
        y = F.matmul(Tensor(onehot), self.weight)  # (M, K) @ (K, D) -> (M, D)
        return F.reshape(y, tuple(lab.shape) + (self.embedding_dim,))  # (M, D) -> (N, [L,] D)

    @staticmethod
    def _in_range(lab: Any, k: int) -> bool:
        xp = B.xp()
        return bool(B.to_host(xp.all((lab >= 0) & (lab < k))))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
