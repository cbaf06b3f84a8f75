"""Shared test helpers.

The suite runs on whatever backend ``MINIGAN_BACKEND`` selects (numpy by
default; ``MINIGAN_BACKEND=strict pytest`` runs it on array-api-strict).
Tests build inputs on the host with NumPy and move them with ``T``/``arr``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minigan
from minigan import backend as B

settings.register_profile(
    "minigan",
    max_examples=int(os.environ.get("MINIGAN_HYPOTHESIS_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.load_profile("minigan")

BACKEND = B.get_backend().name


def arr(a, dtype="float64"):
    """Host data -> array of the active backend."""
    return B.asarray(np.asarray(a), dtype=dtype)


def T(a, requires_grad=True, dtype="float64"):
    """Host data -> Tensor of the active backend (float64 by default, for gradchecks)."""
    return minigan.Tensor(arr(a, dtype), requires_grad=requires_grad)


def host(x):
    """Tensor or array -> NumPy array."""
    return B.to_numpy(x)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def f64():
    with minigan.default_dtype("float64"):
        yield


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch not installed: comparison skipped")


def covers(*names: str, order: int = 1):
    """Label a test as the gradcheck of ``names`` to ``order``.

    A no-op at run time: ``test_functions_grad.test_every_function_is_gradchecked`` reads the
    labels from the source of the gradcheck test files, so no function goes unchecked.
    """

    def mark(fn):
        return fn

    return mark
