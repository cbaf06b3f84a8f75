"""The one place that chooses the array library.

minigan computes on whatever *array namespace* is active:

- ``"numpy"``  : NumPy on the CPU (the default);
- ``"cupy"``   : CuPy on an NVIDIA GPU (``pip install minigan[gpu]``);
- ``"strict"`` : ``array_api_strict`` standing in for a GPU: a CPU namespace that has
  only the array API standard (no NumPy-only functions or keywords, no flat
  indexing, no implicit promotion across kinds), with every array placed on an
  emulated accelerator (its ``"device1"``). Like a CuPy array, such an array
  refuses ``numpy.asarray``, refuses to meet a host array in an operation, and
  reaches the host only through :func:`to_host`. The test-suite runs on it, so
  code that passes there uses nothing a CuPy array lacks and converts nothing
  implicitly.

This is the only module in the package that imports an array library. Op code
asks for the namespace with :func:`xp` and uses only functions of the Python
array API standard, so the same code runs on all three.

Everything the namespaces do *not* share lives here too:

- the two doors between host and device: :func:`to_host` (device -> NumPy) and
  :func:`to_device` (host data -> the active backend). Nothing else in the
  package converts, and both are counted (:func:`transfer_counts`), so a test
  can prove that a training step never waits for the GPU;
- :func:`is_array`: is this an array of the active backend (by its type);
- seeded random numbers drawn on the device (:class:`Generator`);
- the default float dtype.

Read next: ``minigan/autograd.py`` (the Tensor and the backward pass).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# OpenBLAS's worker threads spin for 2^28 CPU cycles (about a tenth of a second) after each matrix
# product before they sleep. Between products minigan runs copies and element-wise passes, on
# this thread and on its own pool (split_batch, map_rows), and spinning workers take the cores
# from them: on the 2-core machine the MLP-GAN step at two threads took 14-18 ms with the default
# and 12 ms with 2^16 cycles (about 30 us, longer than the gap between two products of a layer;
# benchmarks/README.md). A value the user set wins. OpenBLAS reads it when NumPy loads it, so it
# has no effect when NumPy was imported before minigan.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

import numpy as np  # noqa: E402 (after the setting above)

__all__ = [
    "Backend",
    "BackendError",
    "Generator",
    "asarray",
    "copy",
    "count_transfers",
    "default_dtype",
    "default_generator",
    "float_dtype",
    "get_backend",
    "host_np",
    "is_any_array",
    "is_array",
    "manual_seed",
    "py_scalar",
    "set_backend",
    "set_default_dtype",
    "to_device",
    "to_host",
    "to_numpy",
    "transfer_counts",
    "use_backend",
    "xp",
]

BACKEND_NAMES = ("numpy", "cupy", "strict")

#: Host NumPy, for code that is host-side by nature: file formats (IDX,
#: checkpoints), data synthesis, plotting. Op and layer code must use
#: :func:`xp` instead so that it runs on every backend.
host_np = np

#: What to install for the GPU, and what to do without one (one line, for every error about it).
GPU_HINT = (
    "pip install 'minigan[gpu]' (CUDA 12) or 'minigan[gpu-cuda13]' (CUDA 13); "
    "without an NVIDIA GPU use the CPU: --backend numpy on the command line, set_backend('numpy') in Python"
)


class BackendError(RuntimeError):
    """Raised when a backend cannot be selected (unknown name, no GPU, ...)."""


@dataclass(frozen=True)
class Backend:
    """An array namespace plus what the rest of the package needs to know about it.

    Attributes:
        name: ``"numpy"``, ``"cupy"`` or ``"strict"``.
        xp: the array namespace (``numpy``, ``cupy``, or array_api_strict on its emulated device).
        array_type: the class of its arrays: how :func:`is_array` recognises them.
        on_host: True when its arrays live in host memory (NumPy). False for a GPU (CuPy) and
            for the strict backend, which emulates one: code may then not read values back
            without :func:`to_host`, and work that only pays on a CPU (thread splits, small
            cache-sized buffers) is skipped.
    """

    name: str
    xp: ModuleType
    array_type: type
    on_host: bool

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


# ----------------------------------------------------------------------------
# The strict backend: the array API standard on an emulated accelerator
# ----------------------------------------------------------------------------
#: The array API's functions that make a new array from nothing but sizes or host data.
#: On the emulated accelerator they place it there, as CuPy does on the current GPU.
_CREATION_FUNCTIONS = ("arange", "asarray", "empty", "eye", "full", "linspace", "ones", "zeros")


class _EmulatedDevice(ModuleType):
    """array_api_strict whose new arrays live on its non-CPU device ``"device1"``.

    An array on that device behaves as a CuPy array does towards NumPy: ``numpy.asarray``
    raises, an operation that mixes it with an array on the CPU raises, and only
    :func:`to_host` brings it back. Functions that take an input array (``zeros_like``,
    ``sum``, ...) keep the input's device, so only the creation functions need wrapping;
    everything else is array_api_strict itself.
    """

    def __init__(self, strict: ModuleType) -> None:
        super().__init__("minigan.backend.strict", "array_api_strict on an emulated accelerator")
        self._strict = strict
        self.device = strict.Device("device1")
        for name in _CREATION_FUNCTIONS:
            setattr(self, name, self._placed(getattr(strict, name)))

    def _placed(self, make: Callable[..., Any]) -> Callable[..., Any]:
        device = self.device

        def on_device(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("device") is None:
                kwargs["device"] = device
            return make(*args, **kwargs)

        on_device.__name__ = on_device.__qualname__ = make.__name__
        on_device.__doc__ = make.__doc__
        return on_device

    def __getattr__(self, name: str) -> Any:  # everything else: array_api_strict itself
        return getattr(self._strict, name)


def _load(name: str) -> Backend:
    """Import the namespace for ``name``; raise a one-line BackendError naming the cause and the fix."""
    if name == "numpy":
        return Backend("numpy", np, np.ndarray, on_host=True)
    if name == "strict":
        try:
            import array_api_strict
        except ImportError as e:  # pragma: no cover - depends on the install
            raise BackendError(
                "backend 'strict' needs the array-api-strict package: pip install 'minigan[test]'"
            ) from e
        ns = _EmulatedDevice(array_api_strict)
        return Backend("strict", ns, type(array_api_strict.asarray(0.0)), on_host=False)
    if name == "cupy":
        try:
            import cupy
        except ImportError as e:
            raise BackendError(f"backend 'cupy' needs CuPy, which is not installed: {GPU_HINT}") from e
        except Exception as e:  # installed but broken, e.g. CUDA libraries missing
            raise BackendError(f"backend 'cupy': CuPy is installed but failed to import ({e!r}); {GPU_HINT}") from e
        found = getattr(cupy, "__version__", "")
        version = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
        if found and version < CUPY_MIN_VERSION:
            floor = ".".join(map(str, CUPY_MIN_VERSION))
            raise BackendError(
                f"backend 'cupy' needs CuPy >= {floor} (array API functions such as matrix_transpose and "
                f"isdtype), found {found}: pip install -U 'minigan[gpu]'"
            )
        try:
            n_gpus = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BackendError(
                f"backend 'cupy': CuPy is installed but no CUDA GPU is usable ({message}); {GPU_HINT}"
            ) from e
        if n_gpus == 0:
            raise BackendError(f"backend 'cupy': CuPy found no CUDA GPU on this machine; {GPU_HINT}")
        return Backend("cupy", cupy, cupy.ndarray, on_host=False)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


#: The oldest CuPy with every namespace function the op code calls (``matrix_transpose``,
#: ``isdtype``, ``permute_dims``, ``astype``, ``concat``). setup.cfg's gpu extras say the same.
CUPY_MIN_VERSION = (14, 1)


def _initial_backend() -> Backend:
    name = os.environ.get("MINIGAN_BACKEND", "numpy").strip().lower() or "numpy"
    return _load(name)


# The active backend and default float dtype. Changed only through
# set_backend/use_backend and set_default_dtype/default_dtype below. The backend named by
# $MINIGAN_BACKEND is loaded on first use, not at import, so that `import minigan` (and so the
# command line, which reports it in one line) works even when that backend cannot be loaded.
_active: Backend | None = None
_float_name: str = "float32"


def get_backend() -> Backend:
    """Return the active :class:`Backend`."""
    global _active
    if _active is None:
        _active = _initial_backend()
    return _active


def xp() -> ModuleType:
    """Return the active array namespace (what op code calls functions on)."""
    return (_active or get_backend()).xp


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
    return getattr(xp(), dtype) if isinstance(dtype, str) else dtype


def float_dtype() -> Any:
    """The default float dtype of the active namespace (float32 unless changed)."""
    return getattr(xp(), _float_name)


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


# ----------------------------------------------------------------------------
# Host <-> device: the only two doors, both counted
# ----------------------------------------------------------------------------
# Every crossing is counted, so that a test can show that a training step never waits for
# the GPU: on CuPy, reading a value back (a loss for a progress bar, say) blocks the Python
# thread until every queued kernel has run, and the GPU then idles while Python prepares the
# next step. Diagnostic state only: nothing in the package reads these numbers.
_transfers = {"to_host": 0, "to_device": 0}


def transfer_counts() -> dict[str, int]:
    """How many times :func:`to_host` and :func:`to_device` have moved data, since the process started.

    ``{"to_host": n, "to_device": m}``. Every call on an array of the active backend counts,
    on NumPy too (where nothing moves), so the same code gives the same counts on every
    backend. Use :func:`count_transfers` to count inside a block.
    """
    return dict(_transfers)


class TransferCount:
    """Transfers counted inside a :func:`count_transfers` block (``to_host``, ``to_device``)."""

    def __init__(self) -> None:
        self._start = transfer_counts()
        self._end: dict[str, int] | None = None

    def _now(self) -> dict[str, int]:
        return self._end if self._end is not None else transfer_counts()

    @property
    def to_host(self) -> int:
        return self._now()["to_host"] - self._start["to_host"]

    @property
    def to_device(self) -> int:
        return self._now()["to_device"] - self._start["to_device"]

    def __repr__(self) -> str:
        return f"TransferCount(to_host={self.to_host}, to_device={self.to_device})"


@contextlib.contextmanager
def count_transfers() -> Iterator[TransferCount]:
    """Count host <-> device transfers inside a ``with`` block::

    with B.count_transfers() as moved:
        trainer.train_step()
    assert moved.to_host == 0
    """
    counter = TransferCount()
    try:
        yield counter
    finally:
        counter._end = transfer_counts()


def is_array(x: Any) -> bool:
    """True when ``x`` is an array of the active backend (recognised by its class).

    Not by duck typing: a CuPy array has no ``__array_namespace__``, and its ``.data`` is a
    device pointer, so attribute tests mistake arrays for tensors and back.
    """
    return isinstance(x, (_active or get_backend()).array_type)


def is_any_array(x: Any) -> bool:
    """True for an array of any backend, active or not (NumPy, CuPy, array-api-strict); False for
    Python numbers, lists and NumPy scalars."""
    return isinstance(x, np.ndarray) or _namespace_or_none(x) in ("cupy", "strict") and hasattr(x, "shape")


def _host_data(data: Any) -> bool:
    return isinstance(data, (np.ndarray, np.generic, list, tuple, int, float, bool, complex))


def to_device(data: Any, dtype: Any = None) -> Any:
    """Build an array of the active backend from host data (a NumPy array, a list, a Python number).

    The one door from the host to the device. ``dtype`` may be a dtype of the active
    namespace or a name such as ``"float32"``; float host data becomes the default float
    dtype unless ``dtype`` says otherwise, integers stay integers. An array that already
    belongs to the active backend is only cast (when ``dtype`` asks), not moved.
    """
    backend = _active or get_backend()
    ns = backend.xp
    if isinstance(data, backend.array_type) and not backend.on_host:
        return data if dtype is None else ns.astype(data, _dtype_of(dtype))  # already there
    if not _host_data(data):
        raise TypeError(
            f"to_device takes host data (a NumPy array, a list, a number), not {type(data).__module__}."
            f"{type(data).__name__}; an array of another backend goes through to_host first"
        )
    if dtype is not None or _is_float_host(data):
        dtype = _dtype_of(dtype)  # a name -> the namespace's dtype; None -> the default float
    if backend.name == "strict" and isinstance(data, (np.ndarray, np.generic)):
        # array_api_strict takes NumPy input through the buffer protocol only, which needs
        # C order. (Not np.ascontiguousarray: it turns 0-d arrays into shape (1,).)
        data = np.asarray(data, order="C")
    _transfers["to_device"] += 1
    return ns.asarray(data, dtype=dtype)


#: The older name of :func:`to_device`, used throughout the op code: "an array from host data".
asarray = to_device


def _is_float_host(data: Any) -> bool:
    if isinstance(data, float):
        return True
    if isinstance(data, (np.ndarray, np.generic)):
        return data.dtype.kind == "f"
    if isinstance(data, (list, tuple)):
        return np.asarray(data).dtype.kind == "f"
    return False


def to_host(array: Any) -> np.ndarray:
    """Copy an array of any backend to a host NumPy array: the one door from the device to the host.

    On CuPy this waits for the GPU to finish the work queued so far (a sync): training code
    calls it once per logging interval, not once per step. A NumPy array is returned as it
    is (no copy). Counted by :func:`transfer_counts`.
    """
    backend = _active or get_backend()
    if isinstance(array, backend.array_type):
        _transfers["to_host"] += 1
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, np.generic):
        return np.asarray(array)
    kind = _namespace_or_none(array)
    if kind == "cupy":
        return array.get()  # device -> host (cupy.asnumpy does the same)
    if kind == "strict":
        import array_api_strict

        return np.asarray(array.to_device(array_api_strict.Device("CPU_DEVICE")))
    raise TypeError(
        f"to_host takes an array (NumPy, CuPy or array-api-strict), not {type(array).__module__}."
        f"{type(array).__name__}; for a Tensor use tensor.numpy() or minigan.to_numpy(tensor)"
    )


def to_numpy(x: Any) -> np.ndarray:
    """A host NumPy copy of an array of any backend, or of a Tensor's data (``minigan.to_numpy``).

    The friendly front of :func:`to_host` for user code: it also accepts a Tensor (anything
    with an array in ``.data``), and Python numbers and lists.
    """
    if _namespace_or_none(x) is None and not isinstance(x, (np.ndarray, np.generic)):
        data = getattr(x, "data", None)
        if data is not None and (_namespace_or_none(data) is not None or isinstance(data, np.ndarray)):
            x = data  # a Tensor (a CuPy array's own .data is a device pointer: checked above)
        elif isinstance(x, (list, tuple, int, float, bool, complex)):
            return np.asarray(x)
    return to_host(x)


def copy(array: Any) -> Any:
    """A copy of ``array`` on its own device (no transfer): ``astype`` to its own dtype copies."""
    return xp().astype(array, array.dtype, copy=True)


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
    backend = _active or get_backend()
    if backend.name == "strict" or not getattr(a, "ndim", 0):  # (NumPy makes 0-d results scalars)
        return backend.xp.maximum(a, b)
    return backend.xp.maximum(a, b, out=a)


def _namespace_or_none(array: Any) -> str | None:
    module = type(array).__module__
    if module.startswith("numpy"):
        return "numpy"
    if module.startswith("cupy"):
        return "cupy"
    if module.startswith("array_api_strict"):
        return "strict"
    return None


def namespace_of(array: Any) -> str:
    """Name of the backend an array belongs to (``"numpy"``, ``"cupy"``, ``"strict"``)."""
    name = _namespace_or_none(array)
    if name is None:
        raise TypeError(f"not an array of a known backend: {type(array).__name__}")
    return name


# ----------------------------------------------------------------------------
# Random numbers, drawn on the device
# ----------------------------------------------------------------------------
class Generator:
    """A seeded random number generator whose draws land on the active backend's device.

    One seed rules everything: the generator holds a NumPy PCG64 stream on the host, seeded
    with ``seed``, and its state is all a checkpoint needs (:meth:`get_state`).

    - On NumPy the draws come from that stream directly.
    - On CuPy each draw takes one 64-bit key from the stream and has cuRAND's Philox
      generator, seeded with that key, fill the array on the GPU: nothing crosses the bus,
      and the same seed and state give the same numbers on every run (not the same numbers
      as NumPy: another algorithm).
    - The strict backend has no random functions of its own; there the host stream's numbers
      are placed on the emulated device without being counted as a transfer, standing in
      for a device generator (and so equal to NumPy's, which the tests rely on).

    Initial weights are the exception: :meth:`host_normal` / :meth:`host_uniform` draw on the
    host, so that a seed gives bit-identical initial parameters on every backend.

    Example::

        rng = minigan.Generator(0)
        w = rng.normal((3, 4), std=0.02)   # array of the active backend
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._curand: Any = None  # a cupy.random.RandomState (Philox), made on the first CuPy draw

    # -- where the numbers are made ---------------------------------------------
    def _device(self) -> Any:
        """cuRAND's Philox generator keyed by the next 64-bit word of the host stream (CuPy only)."""
        if self._curand is None:
            import cupy

            philox = cupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
            self._curand = cupy.random.RandomState(0, method=philox)
        # Seeding Philox sets a key and a zero counter: host-side calls, no sync, no copy.
        self._curand.seed(int(self._rng.integers(0, 2**63, dtype=np.int64)))
        return self._curand

    @staticmethod
    def _place(host: np.ndarray, dtype: Any) -> Any:
        """Numbers drawn on the host, put on a host-resident or emulated device without counting."""
        backend = _active or get_backend()
        if backend.name == "strict":
            host = np.asarray(host, order="C")
        return backend.xp.asarray(host, dtype=_dtype_of(dtype))

    # -- draws ---------------------------------------------------------------
    def normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0, dtype: Any = None) -> Any:
        """Normal(mean, std) samples of ``shape``."""
        mean, std = py_scalar(mean), py_scalar(std)
        if get_backend().name == "cupy":
            z = self._device().standard_normal(shape, dtype=_dtype_of(dtype))
            return z * std + mean if (std, mean) != (1.0, 0.0) else z
        return self._place(self.host_normal(shape, mean, std), dtype)

    def uniform(self, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0, dtype: Any = None) -> Any:
        """Uniform[low, high) samples of ``shape``."""
        low, high = py_scalar(low), py_scalar(high)
        if get_backend().name == "cupy":
            u = self._device().random_sample(shape, dtype=_dtype_of(dtype))
            return u * (high - low) + low if (low, high) != (0.0, 1.0) else u
        return self._place(self.host_uniform(shape, low, high), dtype)

    def bernoulli(self, shape: tuple[int, ...], p: float, dtype: Any = None, value: float = 1.0) -> Any:
        """Samples that are ``value`` with probability ``p`` and 0 otherwise, as floats ready to multiply
        (dropout passes ``value = 1 / (1 - p)``, so its mask comes out scaled).

        The uniforms behind them are float32: half the random bits and memory of float64 ones,
        and a resolution of 2^-24 in ``p``. The cast and the scaling happen on the device, in
        the requested dtype.
        """
        ns = xp()
        if get_backend().name == "cupy":
            keep = self._device().random_sample(shape, dtype=np.float32) < py_scalar(p)
        else:
            keep = self._place(self._rng.random(shape, dtype=np.float32) < p, "bool")
        mask = ns.astype(keep, _dtype_of(dtype))
        if value != 1.0:
            mask *= py_scalar(value)
        return mask

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> Any:
        """Integers in [low, high) of ``shape`` (int64)."""
        if get_backend().name == "cupy":
            # floor(u * n) of a float64 uniform: a kernel with no host round trip (cupy's randint
            # checks its bounds on the device and reads the answer back).
            u = self._device().random_sample(shape, dtype=np.float64)
            n = xp().astype(u * (high - low), np.int64)
            return xp().minimum(n, high - low - 1) + low  # (u * n rounds up to n once in 2^53 draws)
        return self._place(self._rng.integers(low, high, size=shape, dtype=np.int64), "int64")

    def permutation(self, n: int) -> Any:
        """A random permutation of ``0..n-1`` as a host integer array (for batching)."""
        return self._rng.permutation(n)

    # -- host draws (initial weights, data synthesis) ----------------------------
    def host_normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> np.ndarray:
        """Normal(mean, std) samples as a float64 NumPy array, from the host stream (any backend)."""
        return self._rng.standard_normal(shape, dtype=np.float64) * std + mean

    def host_uniform(self, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """Uniform[low, high) samples as a float64 NumPy array, from the host stream (any backend)."""
        return self._rng.uniform(low, high, size=shape)

    # -- state (for checkpoints) ------------------------------------------------
    def get_state(self) -> dict:
        """The generator's state as a JSON-serialisable dict (the host stream's: it keys the device draws too)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._rng.bit_generator.state = state

    def spawn(self) -> Generator:
        """A new independent generator derived from this one (for sub-components)."""
        child = Generator()
        child._rng = self._rng.spawn(1)[0]
        return child


#: The generator of layers built without ``rng=`` (the one global random state; see manual_seed).
_default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator, which layers built without ``rng=`` draw their initial weights
    (and dropout masks) from: each such layer starts differently, and a script that calls
    ``minigan.manual_seed(s)`` first builds the same model every run. Returns the generator."""
    global _default_generator
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"manual_seed takes an int, not {seed!r}")
    _default_generator = Generator(seed)
    return _default_generator


def default_generator() -> Generator:
    """The generator that layers built without ``rng=`` draw from (seed 0 until :func:`manual_seed`)."""
    return _default_generator


# ----------------------------------------------------------------------------
# CPU threads for copies and element-wise passes
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


def _min_parallel_work() -> int:
    value = os.environ.get("MINIGAN_PARALLEL_MIN_WORK", "").strip()
    return int(value) if value.isdigit() else 1 << 18


#: Elements below which work is not split between threads: handing a chunk to a thread costs
#: about 20-40 us, the time a core takes to copy some 100K floats. ``MINIGAN_PARALLEL_MIN_WORK``
#: sets it (read at import).
_MIN_PARALLEL_WORK = _min_parallel_work()
_forced: tuple[int, int] | None = None  # (chunks, min_work) inside ``split_work`` (tests), else None


@contextlib.contextmanager
def split_work(threads: int, min_work: int = 0) -> Iterator[None]:
    """Inside the block, :func:`split_batch` and :func:`map_parallel` split any work of at least
    ``min_work`` elements into ``threads`` chunks.

    For tests (and for trying a thread count without restarting Python): with ``min_work=0``
    even tiny arrays are split, so a test can hold a split pass bitwise equal to the one-call
    pass. On a backend whose arrays are not NumPy's (CuPy, strict) the chunks run one after
    another in this thread, through the same slicing code: the strict backend checks that code.
    """
    global _forced
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous, _forced = _forced, (threads, min_work)
    try:
        yield
    finally:
        _forced = previous


def _chunks_for(n: int, work: int) -> int:
    """How many chunks :func:`split_batch` would cut ``n`` rows of ``work`` elements into (1: no split)."""
    threads, min_work = _forced if _forced is not None else (NUM_THREADS, _MIN_PARALLEL_WORK)
    if _forced is None and not get_backend().on_host:
        return 1  # a GPU runs a kernel over the whole array at once
    return max(1, min(threads, n)) if work >= min_work else 1


def splits_work(n: int, work: int) -> bool:
    """Would :func:`split_batch` split ``n`` rows of ``work`` elements? (Kernels pick their chunked
    form only then; otherwise the whole-array form, which makes no extra copy.)"""
    return _chunks_for(n, work) > 1


def _run(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks on the thread pool (NumPy only) or one after another; results in order."""
    global _pool
    nested = threading.current_thread().name.startswith("minigan")  # a pool thread must not wait on the pool
    if len(tasks) < 2 or not get_backend().on_host or nested:
        return [t() for t in tasks]
    if _pool is None or _pool._max_workers < len(tasks):
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=max(NUM_THREADS, len(tasks)), thread_name_prefix="minigan")
    futures = [_pool.submit(t) for t in tasks[1:]]
    first = tasks[0]()  # this thread does a share too, instead of waiting idle
    return [first, *(f.result() for f in futures)]  # result() re-raises an exception from a thread


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
    return COLUMN_BUFFER_BYTES if get_backend().on_host else 1 << 30


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
    chunks = _chunks_for(n, work)
    if chunks < 2:
        fn(0, n)
        return
    bounds = [n * k // chunks for k in range(chunks + 1)]
    _run([lambda lo=lo, hi=hi: fn(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo])


_ROW_BLOCK = 1 << 17  # elements per block in map_rows: a block's temporaries stay in the cache


def map_rows(fn: Callable[..., Any], *arrays: Any, dtype: Any = None) -> Any:
    """``fn(*arrays)``, computed a block of rows at a time when :func:`split_batch` splits, else at once.

    ``fn`` must work row by row along axis 0 (row i of its result depends only on row i of each
    array; per-channel constants can come in through a closure) and be made of correctly rounded
    operations (+, -, *, /, max, comparisons, sqrt): then every element is the same number either
    way, and the split result is bitwise the one-call result. The blocks (about 128K elements, so
    their temporaries stay in the cache) are shared between threads by :func:`split_batch`.
    The split result takes the dtype (or ``dtype``) and the memory layout of ``arrays[0]``: put
    first the array whose layout ``fn``'s own result has (NumPy keeps the layout of the first
    operand that starts the expression), so that later sums over it add in the same order.
    """
    first = arrays[0]
    n = first.shape[0] if getattr(first, "ndim", 0) else 0
    if n == 0 or not splits_work(n, first.size):
        return fn(*arrays)
    # empty_like keeps the memory layout (a conv's output is channels-last in memory), as fn(*arrays)
    # would: sums over the result then add in the same order.
    out = xp().empty_like(first, dtype=first.dtype if dtype is None else dtype)
    step = max(1, _ROW_BLOCK // max(1, first.size // n))  # rows per block

    def rows(lo: int, hi: int) -> None:  # rows lo..hi-1 of the result, block by block
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            out[a:b, ...] = fn(*(arr[a:b, ...] for arr in arrays))

    split_batch(n, rows, work=first.size)
    return out


def map_parallel(fn: Callable[[Any], Any], items: list[Any], sizes: list[int]) -> list[Any]:
    """``[fn(item) for item in items]``, the items shared between threads when that pays.

    For independent pieces of work, such as the optimizer's update of each parameter: each
    item is computed exactly as it would be alone, so the results are bitwise the same.
    ``sizes[i]`` is the elements item i touches; the items go largest first to the thread with
    the least work so far (two 400K-element weight matrices should not share a thread).
    """
    chunks = min(_chunks_for(len(items), sum(sizes)), len(items))
    if chunks < 2:
        return [fn(item) for item in items]
    parts: list[list[int]] = [[] for _ in range(chunks)]
    load = [0] * chunks
    for i in sorted(range(len(items)), key=lambda i: -sizes[i]):
        k = load.index(min(load))
        parts[k].append(i)
        load[k] += sizes[i]
    done = _run([lambda part=part: [fn(items[i]) for i in part] for part in parts])
    out: list[Any] = [None] * len(items)
    for part, results in zip(parts, done):
        for i, r in zip(part, results):
            out[i] = r
    return out
