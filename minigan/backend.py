"""The one place that chooses the array library.

minigan computes on whatever *array namespace* is active:

- ``"numpy"``  : NumPy on the CPU (the default);
- ``"cupy"``   : CuPy on an NVIDIA GPU (``pip install minigan[gpu]``);
- ``"strict"`` : ``array_api_strict``, a CPU namespace that has only the array API
  standard: no NumPy-only functions or keywords, no mixing with NumPy arrays in
  its operations, no flat indexing, no implicit dtype promotion across kinds.
  The test-suite runs on it so that op code is proven to use nothing a CuPy
  array lacks. (It does not refuse everything a GPU array refuses: NumPy can
  still read a strict array with ``np.asarray``, where CuPy demands an explicit
  ``to_numpy``.)

This is the only module in the package that imports an array library. Op code
asks for the namespace with :func:`xp` and uses only functions of the Python
array API standard, so the same code runs on all three.

Everything the namespaces do *not* share lives here too: moving data to the
host (:func:`to_numpy`), building arrays from host data (:func:`asarray`),
seeded random numbers (:class:`Generator`) and the default float dtype.

Read next: ``minigan/autograd.py`` (the Tensor and the backward pass).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "Backend",
    "BackendError",
    "Generator",
    "asarray",
    "default_dtype",
    "float_dtype",
    "get_backend",
    "host_np",
    "py_scalar",
    "set_backend",
    "set_default_dtype",
    "to_numpy",
    "use_backend",
    "xp",
]

BACKEND_NAMES = ("numpy", "cupy", "strict")

#: Host NumPy, for code that is host-side by nature: file formats (IDX,
#: checkpoints), data synthesis, plotting. Op and layer code must use
#: :func:`xp` instead so that it runs on every backend.
host_np = np


class BackendError(RuntimeError):
    """Raised when a backend cannot be selected (unknown name, no GPU, ...)."""


@dataclass(frozen=True)
class Backend:
    """An array namespace plus its name.

    Attributes:
        name: ``"numpy"``, ``"cupy"`` or ``"strict"``.
        xp: the array namespace module (``numpy``, ``cupy`` or ``array_api_strict``).
    """

    name: str
    xp: ModuleType

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def _load(name: str) -> Backend:
    """Import the namespace for ``name``; raise a BackendError naming the cause."""
    if name == "numpy":
        return Backend("numpy", np)
    if name == "strict":
        try:
            import array_api_strict
        except ImportError as e:  # pragma: no cover - depends on the install
            raise BackendError(
                "backend 'strict' needs the array-api-strict package: pip install 'minigan[test]'"
            ) from e
        return Backend("strict", array_api_strict)
    if name == "cupy":
        try:
            import cupy
        except ImportError as e:
            raise BackendError(
                "backend 'cupy' needs CuPy, which is not installed: "
                "pip install 'minigan[gpu]' (needs an NVIDIA GPU with CUDA 12)"
            ) from e
        except Exception as e:  # installed but broken, e.g. CUDA libraries missing
            raise BackendError(f"backend 'cupy': CuPy is installed but failed to import ({e!r})") from e
        try:
            n_gpus = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken
            raise BackendError(
                f"backend 'cupy': CuPy is installed but no CUDA GPU is usable ({e}). "
                "Use set_backend('numpy') on a machine without a GPU."
            ) from e
        if n_gpus == 0:
            raise BackendError("backend 'cupy': CuPy found no CUDA GPU on this machine.")
        return Backend("cupy", cupy)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def _initial_backend() -> Backend:
    name = os.environ.get("MINIGAN_BACKEND", "numpy").strip().lower() or "numpy"
    return _load(name)


# The active backend and default float dtype. Changed only through
# set_backend/use_backend and set_default_dtype/default_dtype below.
_active: Backend = _initial_backend()
_float_name: str = "float32"


def get_backend() -> Backend:
    """Return the active :class:`Backend`."""
    return _active


def xp() -> ModuleType:
    """Return the active array namespace (what op code calls functions on)."""
    return _active.xp


def set_backend(name: str) -> Backend:
    """Make ``name`` (``"numpy"``, ``"cupy"`` or ``"strict"``) the active backend.

    Tensors created before the switch keep their arrays; move modules with
    ``module.to(name)``. Returns the new backend.
    """
    global _active
    _active = _load(name)
    return _active


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Use backend ``name`` inside a ``with`` block, then restore the previous one."""
    global _active
    previous = _active
    _active = _load(name)
    try:
        yield _active
    finally:
        _active = previous


def _dtype_of(dtype: Any) -> Any:
    """A dtype of the active namespace from a dtype, a name such as ``"float64"``, or None (the default float)."""
    if dtype is None:
        return float_dtype()
    return getattr(_active.xp, dtype) if isinstance(dtype, str) else dtype


def float_dtype() -> Any:
    """The default float dtype of the active namespace (float32 unless changed)."""
    return getattr(_active.xp, _float_name)


def set_default_dtype(name: str) -> None:
    """Set the default float dtype: ``"float32"`` (training) or ``"float64"`` (gradient checks)."""
    global _float_name
    if name not in ("float32", "float64"):
        raise ValueError(f"default dtype must be 'float32' or 'float64', not {name!r}")
    _float_name = name


@contextlib.contextmanager
def default_dtype(name: str) -> Iterator[None]:
    """Use ``name`` as the default float dtype inside a ``with`` block."""
    global _float_name
    previous = _float_name
    set_default_dtype(name)
    try:
        yield
    finally:
        _float_name = previous


def asarray(data: Any, dtype: Any = None) -> Any:
    """Build an array of the active namespace from host data (lists, NumPy arrays, scalars).

    ``dtype`` may be a dtype of the active namespace or a name such as
    ``"float32"``. Python floats and float NumPy arrays become the default float
    dtype unless ``dtype`` says otherwise.
    """
    ns = _active.xp
    if dtype is not None or _is_float_host(data):
        dtype = _dtype_of(dtype)  # a name -> the namespace's dtype; None -> the default float
    if _active.name == "strict" and isinstance(data, (np.ndarray, np.generic)):
        # array_api_strict takes NumPy input through the buffer protocol only, which needs
        # C order. (Not np.ascontiguousarray: it turns 0-d arrays into shape (1,).)
        data = np.asarray(data, order="C")
    return ns.asarray(data, dtype=dtype)


def _is_float_host(data: Any) -> bool:
    if isinstance(data, float):
        return True
    if isinstance(data, (np.ndarray, np.generic)):
        return data.dtype.kind == "f"
    if isinstance(data, (list, tuple)):
        return np.asarray(data).dtype.kind == "f"
    return False


def to_numpy(array: Any) -> np.ndarray:
    """Copy ``array`` (of any backend, or a Tensor) to a host NumPy array."""
    if not hasattr(array, "__array_namespace__") and hasattr(array, "data"):
        array = array.data  # a Tensor. (Arrays have a `.data` too: CuPy's is a device pointer.)
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "get") and hasattr(array, "__cuda_array_interface__"):
        return array.get()  # CuPy: device -> host
    return np.asarray(array)


def py_scalar(value: Any) -> Any:
    """A NumPy scalar (``np.float64(0.2)``, ``np.int64(3)``, ``np.bool_``) as the Python number it holds;
    anything else unchanged.

    NumPy 2 gives its float64 *scalars* the float64 dtype when they meet a float32
    array (NEP 50), while Python floats take the array's dtype. A learning rate
    or a slope that came out of NumPy would therefore silently turn float32
    parameters and activations into float64. Op and optimizer code passes the
    constants it mixes with arrays through here. (CuPy and array-api-strict give
    0-d arrays, not scalars, so only NumPy's need this.)
    """
    return value.item() if isinstance(value, np.generic) else value


def maximum_into(a: Any, b: Any) -> Any:
    """``maximum(a, b)``, written over ``a`` where the library can (NumPy, CuPy); returns it.

    For large activations the cost of an element-wise op is mostly its fresh full-size
    result (memory the OS must map, then the cache misses of writing it), so an op that owns
    a temporary reuses it. ``a`` must be an array the caller made and nobody else holds.
    The array API has no ``out=``, so the strict backend returns a new array.
    """
    if _active.name == "strict" or not getattr(a, "ndim", 0):  # (NumPy makes 0-d results scalars)
        return _active.xp.maximum(a, b)
    return _active.xp.maximum(a, b, out=a)


def namespace_of(array: Any) -> str:
    """Name of the backend an array belongs to (``"numpy"``, ``"cupy"``, ``"strict"``)."""
    module = type(array).__module__
    if module.startswith("numpy"):
        return "numpy"
    if module.startswith("cupy"):
        return "cupy"
    if module.startswith("array_api_strict"):
        return "strict"
    raise TypeError(f"not an array of a known backend: {type(array).__name__}")


class Generator:
    """A seeded random number generator that produces arrays on the active backend.

    Numbers are drawn on the host with NumPy's PCG64 and then moved to the
    backend, so a given seed gives bit-identical parameters on NumPy, CuPy and
    the strict backend (a model is reproducible whatever device it runs on).

    Example::

        rng = minigan.Generator(0)
        w = rng.normal((3, 4), std=0.02)   # array of the active backend
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    # -- draws ---------------------------------------------------------------
    def normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0, dtype: Any = None) -> Any:
        """Normal(mean, std) samples of ``shape``."""
        host = self._rng.standard_normal(shape, dtype=np.float64) * std + mean
        return asarray(host, dtype=dtype or float_dtype())

    def uniform(self, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0, dtype: Any = None) -> Any:
        """Uniform[low, high) samples of ``shape``."""
        host = self._rng.uniform(low, high, size=shape)
        return asarray(host, dtype=dtype or float_dtype())

    def bernoulli(self, shape: tuple[int, ...], p: float, dtype: Any = None, value: float = 1.0) -> Any:
        """Samples that are ``value`` with probability ``p`` and 0 otherwise, as floats ready to multiply
        (dropout passes ``value = 1 / (1 - p)``, so its mask comes out scaled).

        The uniforms behind them are float32: half the random bits and memory of float64 ones,
        and a resolution of 2^-24 in ``p``. Only the 0/1 decisions cross to the backend (one
        byte each); the cast and the scaling happen there, in the requested dtype.
        """
        keep = asarray(self._rng.random(shape, dtype=np.float32) < p)
        mask = _active.xp.astype(keep, _dtype_of(dtype))
        if value != 1.0:
            mask *= py_scalar(value)
        return mask

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> Any:
        """Integers in [low, high) of ``shape`` (int64)."""
        return asarray(self._rng.integers(low, high, size=shape, dtype=np.int64))

    def permutation(self, n: int) -> Any:
        """A random permutation of ``0..n-1`` as a host integer array (for batching)."""
        return self._rng.permutation(n)

    # -- state (for checkpoints) ------------------------------------------------
    def get_state(self) -> dict:
        """The generator's state as a JSON-serialisable dict."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._rng.bit_generator.state = state

    def spawn(self) -> Generator:
        """A new independent generator derived from this one (for sub-components)."""
        child = Generator()
        child._rng = self._rng.spawn(1)[0]
        return child


# ----------------------------------------------------------------------------
# CPU threads for the convolutions' copy loops
# ----------------------------------------------------------------------------
def _thread_count() -> int:
    """Threads allowed: MINIGAN_NUM_THREADS, else OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, else the CPUs."""
    for var in ("MINIGAN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


#: Read once, at import: "one thread" for BLAS means one thread here too.
NUM_THREADS: int = _thread_count()
_pool: Any = None  # a ThreadPoolExecutor, made on first use
_MIN_PARALLEL_WORK = 1 << 20  # elements; below this, handing work to a thread costs more than it saves


def _column_buffer_bytes() -> int:
    mb = os.environ.get("MINIGAN_COLUMN_BUFFER_MB", "").strip()
    return int(float(mb) * (1 << 20)) if mb else 8 << 20


#: About how many bytes a convolution's column buffer may hold on the CPU before the batch
#: is split into chunks (see ``_batch_chunks`` in minigan/functions/conv.py for why):
#: 8 MiB, or ``MINIGAN_COLUMN_BUFFER_MB``.
COLUMN_BUFFER_BYTES: int = _column_buffer_bytes()


def column_buffer_bytes() -> int:
    """The size a convolution's column buffer may reach before the batch is split.

    On the CPU, :data:`COLUMN_BUFFER_BYTES`: small enough to be reused memory that stays in
    cache. On the GPU, 1 GiB: CuPy's memory pool already reuses blocks, and a GPU wants one
    large multiply rather than many small ones.
    """
    return 1 << 30 if _active.name == "cupy" else COLUMN_BUFFER_BYTES


def split_batch(n: int, fn: Callable[[int, int], None], work: int) -> None:
    """Call ``fn(lo, hi)`` for chunks ``[lo, hi)`` of ``range(n)`` that together cover it.

    Why: NumPy runs a copy or an element-wise operation on one core, while the matrix
    multiplies around it use every core (BLAS). The strided copies of im2col and col2im are
    the largest such work in a convolutional GAN, and NumPy releases the GIL while copying, so
    they can be split over the batch between threads. Each chunk must write its own rows of the
    output only; then the result is bitwise the same as one call.

    One plain call ``fn(0, n)`` unless the backend is NumPy, more than one thread is allowed
    (:data:`NUM_THREADS`) and ``work`` (elements moved) is large enough to pay for the threads.
    """
    threads = min(NUM_THREADS, n)
    if _active.name != "numpy" or threads < 2 or work < _MIN_PARALLEL_WORK:
        fn(0, n)
        return
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=NUM_THREADS, thread_name_prefix="minigan")
    bounds = [n * k // threads for k in range(threads + 1)]
    futures = [_pool.submit(fn, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    for f in futures:
        f.result()  # re-raises an exception from the thread
