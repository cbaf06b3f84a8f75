"""The backend switch: choosing a namespace, the default dtype, host transfer,
seeded random numbers, and the strict backend's refusals.

Tests that switch backends restore the one the suite runs on
(``MINIGAN_BACKEND``), so this file passes on both numpy and strict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigan
import minigan.functions as F
from minigan import backend as B

RUNNING = B.get_backend().name


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# ----------------------------------------------------------------------------
# Selecting a backend
# ----------------------------------------------------------------------------
def test_set_and_get_backend():
    try:
        b = minigan.set_backend("strict")
        assert b.name == "strict" and minigan.get_backend().name == "strict"
        import array_api_strict

        assert B.xp().sum is array_api_strict.sum  # array_api_strict itself, ...
        assert B.xp().zeros(2).device == array_api_strict.Device("device1")  # ... on its emulated accelerator
        assert not b.on_host and minigan.get_backend().array_type is type(array_api_strict.asarray(0))
        assert minigan.set_backend("numpy").xp is np
        assert repr(minigan.get_backend()) == "Backend('numpy')"
    finally:
        minigan.set_backend(RUNNING)


def test_use_backend_restores_even_after_an_error():
    before = minigan.get_backend()
    with pytest.raises(ZeroDivisionError):
        with minigan.use_backend("strict" if RUNNING == "numpy" else "numpy") as b:
            assert minigan.get_backend() is b and b is not before
            raise ZeroDivisionError
    assert minigan.get_backend() == before


def test_unknown_backend_names_the_choices():
    with pytest.raises(minigan.BackendError, match="unknown backend 'jax'.*numpy.*cupy.*strict"):
        minigan.set_backend("jax")
    assert minigan.get_backend().name == RUNNING  # a failed switch changes nothing


@pytest.mark.skipif(gpu_available(), reason="a CUDA GPU is present: 'cupy' is expected to work here")
def test_cupy_without_gpu_names_the_cause():
    with pytest.raises(minigan.BackendError) as e:
        minigan.set_backend("cupy")
    msg = str(e.value)
    assert "cupy" in msg.lower()
    assert "not installed" in msg or "GPU" in msg  # the cause: no CuPy, or CuPy without a usable GPU
    assert minigan.get_backend().name == RUNNING


FAKE_CUPY = {
    "broken": ("raise RuntimeError('libnvrtc.so.12: cannot open shared object file')", "failed to import"),
    "no_gpu": (
        "class _R:\n    @staticmethod\n    def getDeviceCount():\n        return 0\nclass cuda:\n    runtime = _R\n",
        "no CUDA GPU",
    ),
    "driver_error": (
        "class _R:\n    @staticmethod\n    def getDeviceCount():\n        raise RuntimeError('cudaErrorNoDevice')\n"
        "class cuda:\n    runtime = _R\n",
        "no CUDA GPU is usable",
    ),
}


@pytest.mark.parametrize("case", sorted(FAKE_CUPY))
def test_cupy_failures_name_the_cause(case, tmp_path):
    """With a stand-in `cupy` package first on the path: each way CuPy can fail gives a BackendError saying which."""
    source, expected = FAKE_CUPY[case]
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(source)
    code = (
        "import minigan\n"
        "try:\n    minigan.set_backend('cupy')\n"
        "except minigan.BackendError as e:\n    print('BackendError:', e)\n"
        "print(minigan.get_backend().name)\n"
    )
    r = run_python(code, PYTHONPATH=str(tmp_path), MINIGAN_BACKEND="numpy")
    assert r.returncode == 0, r.stderr
    assert "BackendError:" in r.stdout and expected in r.stdout, r.stdout
    assert r.stdout.strip().endswith("numpy")  # the failed switch left the backend alone


@pytest.mark.parametrize("name", ["numpy", "strict"])
def test_env_variable_selects_the_default(name):
    r = run_python("import minigan; print(minigan.get_backend().name)", MINIGAN_BACKEND=name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_env_variable_is_case_and_space_insensitive_and_empty_means_numpy():
    r = run_python("import minigan; print(minigan.get_backend().name)", MINIGAN_BACKEND=" Strict ")
    assert r.stdout.strip() == "strict", r.stderr
    r = run_python("import minigan; print(minigan.get_backend().name)", MINIGAN_BACKEND="")
    assert r.stdout.strip() == "numpy", r.stderr


def test_env_variable_unknown_backend_fails_clearly():
    # `import minigan` works (the command line must be able to report the problem itself) ...
    r = run_python("import minigan", MINIGAN_BACKEND="tpu")
    assert r.returncode == 0, r.stderr
    # ... and the first use of an array says what is wrong.
    r = run_python("import minigan; minigan.tensor([1.0])", MINIGAN_BACKEND="tpu")
    assert r.returncode != 0
    assert "BackendError" in r.stderr and "unknown backend 'tpu'" in r.stderr


# ----------------------------------------------------------------------------
# Default dtype and host transfer
# ----------------------------------------------------------------------------
def test_default_float_dtype():
    assert B.float_dtype() == B.xp().float32
    with minigan.default_dtype("float64"):
        assert B.float_dtype() == B.xp().float64
        with minigan.default_dtype("float32"):
            assert B.float_dtype() == B.xp().float32
        assert B.float_dtype() == B.xp().float64
    assert B.float_dtype() == B.xp().float32
    with pytest.raises(ValueError, match="float32"):
        minigan.set_default_dtype("float16")


def test_set_default_dtype():
    try:
        minigan.set_default_dtype("float64")
        assert minigan.tensor([1.0]).dtype == B.xp().float64
    finally:
        minigan.set_default_dtype("float32")
    assert minigan.tensor([1.0]).dtype == B.xp().float32


def test_asarray_dtypes():
    xp = B.xp()
    assert B.asarray(1.5).dtype == xp.float32
    assert B.asarray([1.0, 2.0]).dtype == xp.float32
    assert B.asarray(np.ones(3, dtype=np.float64)).dtype == xp.float32  # host floats -> default dtype
    assert B.asarray(np.ones(3), dtype="float64").dtype == xp.float64
    assert B.asarray(np.ones(3), dtype=xp.float64).dtype == xp.float64
    assert B.asarray([1, 2]).dtype == xp.int64  # integers stay integers
    assert B.asarray(np.array([True])).dtype == xp.bool
    with minigan.default_dtype("float64"):
        assert B.asarray(2.0).dtype == xp.float64
    # 0-d host arrays and NumPy scalars stay 0-d (strict takes host data through a buffer).
    assert B.asarray(np.array(2.0)).shape == () and B.asarray(np.float64(2.0)).shape == ()
    # Non-contiguous host arrays are accepted too.
    a = np.arange(12.0).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(B.to_numpy(B.asarray(a, "float64")), a)


def test_to_numpy():
    host = np.arange(6.0).reshape(2, 3)
    arr = B.asarray(host, "float64")
    for thing in (arr, minigan.Tensor(arr), host):
        out = B.to_numpy(thing)
        assert isinstance(out, np.ndarray)
        np.testing.assert_array_equal(out, host)
    assert isinstance(minigan.to_numpy(minigan.tensor([1.0])), np.ndarray)
    assert B.to_numpy(host) is host  # host arrays are not copied


def test_to_numpy_of_a_device_array_copies_it_to_the_host():
    """A CuPy array has no `__array_namespace__` and its `.data` is a device pointer: neither may
    make it pass for a Tensor. (A stand-in class from a module named like CuPy's.)"""

    class MemoryPointer:
        ptr = 12345

    class FakeCupyArray:
        data = MemoryPointer()
        shape = (2,)

        def get(self):
            return np.array([1.0, 2.0])

    FakeCupyArray.__module__ = "cupy._core.core"
    assert not hasattr(FakeCupyArray(), "__array_namespace__")
    np.testing.assert_array_equal(B.to_numpy(FakeCupyArray()), [1.0, 2.0])
    np.testing.assert_array_equal(B.to_host(FakeCupyArray()), [1.0, 2.0])
    np.testing.assert_array_equal(B.to_numpy(minigan.Tensor(FakeCupyArray())), [1.0, 2.0])  # a Tensor of one
    np.testing.assert_array_equal(B.to_numpy(minigan.Tensor(B.asarray([3.0]))), [3.0])
    assert B.to_numpy(np.float64(2.5)) == 2.5
    with pytest.raises(TypeError, match="to_host takes an array"):
        B.to_host(minigan.Tensor(B.asarray([3.0])))  # the backend's door takes arrays; tensor.numpy() for tensors


def test_namespace_of():
    assert B.namespace_of(B.asarray([1.0])) == RUNNING
    assert B.namespace_of(np.ones(1)) == "numpy"
    with pytest.raises(TypeError):
        B.namespace_of([1.0])


def test_host_np_is_numpy():
    assert B.host_np is np


# ----------------------------------------------------------------------------
# Generator
# ----------------------------------------------------------------------------
def draws(g: minigan.Generator):
    return [
        B.to_numpy(g.normal((3, 2), mean=1.0, std=0.5)),
        B.to_numpy(g.uniform((4,), -1.0, 2.0)),
        B.to_numpy(g.bernoulli((5,), 0.3)),
        B.to_numpy(g.integers(0, 10, (6,))),
        np.asarray(g.permutation(7)),
    ]


def test_generator_same_seed_same_numbers():
    for a, b in zip(draws(minigan.Generator(42)), draws(minigan.Generator(42))):
        np.testing.assert_array_equal(a, b)


def test_generator_different_seeds_differ():
    a, b = draws(minigan.Generator(1)), draws(minigan.Generator(2))
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[1], b[1])


def test_generator_state_round_trip():
    g = minigan.Generator(7)
    g.normal((3,))
    state = g.get_state()
    json.dumps(state)  # serialisable, for checkpoints
    first = draws(g)
    g.normal((10,))  # move on
    g.set_state(state)
    for a, b in zip(first, draws(g)):
        np.testing.assert_array_equal(a, b)
    # and into a different generator
    h = minigan.Generator(999)
    h.set_state(json.loads(json.dumps(state)))
    for a, b in zip(first, draws(h)):
        np.testing.assert_array_equal(a, b)


def test_generator_spawn_is_reproducible_and_independent():
    c1, c2 = minigan.Generator(3).spawn(), minigan.Generator(3).spawn()
    np.testing.assert_array_equal(B.to_numpy(c1.normal((4,))), B.to_numpy(c2.normal((4,))))
    parent = minigan.Generator(3)
    child = parent.spawn()
    assert not np.array_equal(B.to_numpy(parent.normal((4,))), B.to_numpy(child.normal((4,))))


def test_generator_dtypes_and_backend():
    g = minigan.Generator(0)
    xp = B.xp()
    assert g.normal((2,)).dtype == xp.float32
    assert g.uniform((2,), dtype=xp.float64).dtype == xp.float64
    assert g.bernoulli((2,), 0.5, dtype="float64").dtype == xp.float64
    assert g.integers(0, 3, (2,)).dtype == xp.int64
    with minigan.default_dtype("float64"):
        assert g.normal((2,)).dtype == xp.float64
    assert B.namespace_of(g.normal((2,))) == RUNNING


def test_generator_distributions():
    g = minigan.Generator(0)
    n = B.to_numpy(g.normal((20000,), mean=2.0, std=3.0, dtype="float64"))
    assert abs(n.mean() - 2.0) < 0.1 and abs(n.std() - 3.0) < 0.1
    u = B.to_numpy(g.uniform((20000,), -2.0, 4.0, dtype="float64"))
    assert u.min() >= -2.0 and u.max() < 4.0 and abs(u.mean() - 1.0) < 0.1
    b = B.to_numpy(g.bernoulli((20000,), 0.25))
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.25) < 0.02
    # A scaled mask (dropout's): the value itself in the requested dtype, float64 not rounded via float32.
    for dtype, name in (("float32", np.float32), ("float64", np.float64)):
        s = B.to_numpy(g.bernoulli((20000,), 0.7, dtype=dtype, value=1.0 / 0.7))
        assert s.dtype == name and set(np.unique(s)) == {0.0, name(1.0) / name(0.7)}
        assert abs((s != 0).mean() - 0.7) < 0.02
    i = B.to_numpy(g.integers(3, 6, (1000,)))
    assert set(np.unique(i)) == {3, 4, 5}
    assert sorted(g.permutation(10).tolist()) == list(range(10))


def test_generator_same_numbers_on_every_backend():
    """Parameters initialised from a seed are bit-identical on numpy and strict."""
    with minigan.use_backend("numpy"):
        a = B.to_numpy(minigan.Generator(5).normal((3, 3)))
    with minigan.use_backend("strict"):
        b = B.to_numpy(minigan.Generator(5).normal((3, 3)))
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------
# The strict backend's refusals
# ----------------------------------------------------------------------------
def test_strict_refuses_a_numpy_array_mixed_into_an_op():
    with minigan.use_backend("strict"):
        x = minigan.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(TypeError):
            F.mul(x, np.array([1.0, 2.0], dtype=np.float32))  # a raw host array as a constant
        with pytest.raises(TypeError):
            F.add(x, minigan.Tensor(np.array([1.0, 2.0], dtype=np.float32)))  # a host array in a Tensor


def test_strict_refuses_numpy_only_functions():
    with minigan.use_backend("strict"):
        xp = B.xp()
        a = xp.asarray([1.0, 2.0])
        assert not hasattr(xp, "add_at") and not hasattr(xp, "einsum")
        with pytest.raises((TypeError, ValueError)):
            np.add.at(a, [0], 1.0)  # NumPy ufunc methods do not accept strict arrays


def test_tensor_from_host_data_lands_on_the_active_backend():
    with minigan.use_backend("strict"):
        t = minigan.Tensor([1.0, 2.0])
        assert B.namespace_of(t.data) == "strict"
        assert B.namespace_of(minigan.tensor(np.ones(2)).data) == "strict"
