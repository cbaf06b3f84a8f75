"""Checkpoints: models + optimizers + random generators + step in one ``.npz`` file.

Format. A checkpoint is an ordinary NumPy ``.npz`` archive (a zip of ``.npy``
arrays) holding

- one array per parameter, buffer and optimizer-state tensor, under keys like
  ``models/G/0.weight`` and ``optimizers/G/0/exp_avg``;
- ``__metadata__``: a JSON document stored as a ``uint8`` array: format name
  and version, step, your ``extra`` dict, generator states, optimizer
  hyper-parameters, and for every array its dtype, shape and SHA-256;
- ``__digest__``: the SHA-256 of the metadata bytes.

Why this shape:

- **Safe to open.** It is read with ``numpy.load(..., allow_pickle=False)``: a
  pickle can run arbitrary code when loaded, so a file that contains one (an
  object array, or a plain pickle) is refused. Only bool/int/float arrays and
  JSON are accepted.
- **All or nothing.** The whole file is parsed and checked (zip CRCs, the
  metadata digest, every array's dtype, shape and hash, then every shape
  against the live model and optimizer) *before* anything is assigned, so a
  truncated, tampered or mismatched file raises :class:`CheckpointError` and
  leaves the program's state untouched.
- **Never half-written.** :func:`save` writes to a temporary file in the same
  directory and renames it over the target (``os.replace`` is atomic), so a
  crash mid-save leaves the previous checkpoint intact.
- **Backend-neutral.** Arrays are stored as host NumPy arrays; loading moves
  them to the active backend, so a checkpoint saved on NumPy loads on CuPy or
  the strict backend and vice versa (bit for bit).

Usage::

    checkpoint.save("run/checkpoint.npz", models={"G": G, "D": D},
                    optimizers={"G": opt_g, "D": opt_d}, rngs={"noise": rng}, step=1000)
    info = checkpoint.load("run/checkpoint.npz", models={"G": G, "D": D},
                           optimizers={"G": opt_g, "D": opt_d}, rngs={"noise": rng})
    info.step  # 1000

Generators stored as attributes of a model's layers (Dropout's mask
generator) are saved and restored with the model, so a resumed run draws the
same masks as an uninterrupted one.

This module is host-side by nature (file parsing), so it uses host NumPy.

Read next: ``minigan/models.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minigan import __version__
from minigan import backend as B
from minigan.atomic import atomic_write
from minigan.backend import Generator
from minigan.backend import host_np as np
from minigan.nn.module import Module
from minigan.optim import Optimizer

__all__ = ["Checkpoint", "CheckpointError", "LoadResult", "load", "read", "save"]

FORMAT = "minigan-checkpoint"
VERSION = 1
META_KEY = "__metadata__"
DIGEST_KEY = "__digest__"
_ARRAY_REF = "__array__"
_ALLOWED_KINDS = "biuf"  # bool, signed/unsigned int, float: nothing that needs pickle


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, tampered with, unsafe, or does not fit the objects given."""


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------
def _named(objs: Any, default: str, kind: type | tuple[type, ...]) -> dict[str, Any]:
    """Accept one object (named ``default``), a mapping name -> object, or None."""
    if objs is None:
        return {}
    if isinstance(objs, kind):
        return {default: objs}
    if isinstance(objs, Mapping):
        for name, o in objs.items():
            if not isinstance(name, str) or "/" in name or not name:
                raise ValueError(f"checkpoint names must be non-empty strings without '/', got {name!r}")
            if not isinstance(o, kind):
                raise TypeError(f"{name!r}: expected {kind}, got {type(o).__name__}")
        return dict(objs)
    raise TypeError(f"expected {kind} or a dict of them, got {type(objs).__name__}")


def _model_generators(model: Module) -> dict[str, Generator]:
    """Generators held by a model's layers (e.g. Dropout's), by dotted path: ``"7.rng"``."""
    found = {}
    for mod_name, m in model.named_modules():
        for attr, value in vars(m).items():
            if isinstance(value, Generator):
                found[f"{mod_name}.{attr}" if mod_name else attr] = value
    return found


def _sha256(a: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _check_rng_state(state: Any) -> str | None:
    """None if ``state`` can be set on a generator, else the reason."""
    try:
        bitgen = getattr(np.random, state["bit_generator"])()
        bitgen.state = state
    except Exception as e:  # any malformed state: report, do not assign
        return f"invalid generator state ({type(e).__name__}: {e})"
    return None


class _Encoder:
    """Collects arrays into a flat dict and replaces them by references in a JSON tree."""

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}

    def add(self, key: str, a: Any) -> dict[str, str]:
        a = np.asarray(a)
        if a.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"cannot store array {key!r} of dtype {a.dtype} (bool, int and float only)")
        self.arrays[key] = a
        return {_ARRAY_REF: key}

    def tree(self, prefix: str, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return self.add(prefix, obj)
        if isinstance(obj, dict):
            return {str(k): self.tree(f"{prefix}/{k}", v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.tree(f"{prefix}/{i}", v) for i, v in enumerate(obj)]
        return obj


def _decode(obj: Any, arrays: Mapping[str, Any]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY_REF}:
            key = obj[_ARRAY_REF]
            if key not in arrays:
                raise CheckpointError(f"metadata refers to a missing array {key!r}")
            return arrays[key]
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


# ----------------------------------------------------------------------------
# Save
# ----------------------------------------------------------------------------
def save(
    path: str | os.PathLike,
    models: Module | Mapping[str, Module] | None = None,
    optimizers: Optimizer | Mapping[str, Optimizer] | None = None,
    rngs: Generator | Mapping[str, Generator] | None = None,
    step: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Write a checkpoint atomically; returns the path written.

    Args:
        path: the ``.npz`` file (written exactly there; no suffix is added).
        models: a Module (stored as ``"model"``) or ``{"G": G, "D": D}``.
        optimizers: an Optimizer (``"optimizer"``) or a dict of them.
        rngs: a Generator (``"rng"``) or a dict of them (e.g. the trainer's noise generator).
        step: the training step (a non-negative int).
        extra: any JSON-serialisable dict (configuration, history summary, ...).
    """
    models_ = _named(models, "model", Module)
    optims_ = _named(optimizers, "optimizer", Optimizer)
    rngs_ = _named(rngs, "rng", Generator)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")

    enc = _Encoder()
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "minigan_version": __version__,
        "saved_on_backend": B.get_backend().name,
        "step": step,
        "extra": dict(extra or {}),
        "models": {},
        "optimizers": {},
        "rngs": {name: g.get_state() for name, g in rngs_.items()},
    }
    for name, model in models_.items():
        state = {k: enc.add(f"models/{name}/{k}", v) for k, v in model.state_dict().items()}
        gens = {k: g.get_state() for k, g in _model_generators(model).items()}
        meta["models"][name] = {"state": state, "generators": gens}
    for name, opt in optims_.items():
        meta["optimizers"][name] = enc.tree(f"optimizers/{name}", opt.state_dict())
    meta["arrays"] = {
        k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _sha256(a)} for k, a in enc.arrays.items()
    }
    try:
        meta_bytes = json.dumps(meta, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint metadata is not JSON-serialisable (check `extra`): {e}") from e

    payload = dict(enc.arrays)
    payload[META_KEY] = np.frombuffer(meta_bytes, dtype=np.uint8)
    payload[DIGEST_KEY] = np.frombuffer(hashlib.sha256(meta_bytes).hexdigest().encode("ascii"), dtype=np.uint8)

    path = os.fspath(path)
    with atomic_write(path) as f:  # readers see the old checkpoint or the new one, never half of one
        np.savez(f, **payload)
    return path


# ----------------------------------------------------------------------------
# Read (parse and verify, assign nothing)
# ----------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A parsed, verified checkpoint: metadata plus host NumPy arrays. Nothing is loaded anywhere yet."""

    path: str
    metadata: dict[str, Any]
    arrays: dict[str, Any]

    @property
    def step(self) -> int:
        return self.metadata["step"]

    @property
    def extra(self) -> dict[str, Any]:
        return self.metadata["extra"]

    def model_names(self) -> list[str]:
        return list(self.metadata["models"])

    def model_state(self, name: str = "model") -> dict[str, Any]:
        """The state dict (host arrays) of stored model ``name``."""
        self._need("models", name)
        return _decode(self.metadata["models"][name]["state"], self.arrays)

    def optimizer_state(self, name: str = "optimizer") -> dict[str, Any]:
        """The state dict of stored optimizer ``name``."""
        self._need("optimizers", name)
        return _decode(self.metadata["optimizers"][name], self.arrays)

    def rng_state(self, name: str = "rng") -> dict[str, Any]:
        """The state of stored generator ``name``."""
        self._need("rngs", name)
        return self.metadata["rngs"][name]

    def _need(self, kind: str, name: str) -> None:
        if name not in self.metadata[kind]:
            have = ", ".join(self.metadata[kind]) or "none"
            raise CheckpointError(f"{self.path}: no {kind[:-1]} named {name!r} (it has: {have})")


def read(path: str | os.PathLike) -> Checkpoint:
    """Open and verify a checkpoint without loading it into anything.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a minigan checkpoint, truncated or corrupt (bad zip,
            CRC or hash), tampered with (hash mismatch), pickle-bearing, or of an
            unknown format version.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        _check_container(path)
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: not a checkpoint (a single .npy array, not an .npz archive)")
        with loaded as npz:
            files = set(npz.files)
            for key in (META_KEY, DIGEST_KEY):
                if key not in files:
                    raise CheckpointError(f"{path}: not a minigan checkpoint (no {key} entry)")
            meta_bytes = _uint8_bytes(npz[META_KEY], META_KEY, path)
            digest = _uint8_bytes(npz[DIGEST_KEY], DIGEST_KEY, path).decode("ascii", errors="replace")
            if hashlib.sha256(meta_bytes).hexdigest() != digest:
                raise CheckpointError(f"{path}: metadata digest mismatch: the file was modified after saving")
            meta = json.loads(meta_bytes.decode("utf-8"))
            _check_meta(meta, path)
            expected = meta["arrays"]
            stored = files - {META_KEY, DIGEST_KEY}
            if stored != set(expected):
                extra_keys = sorted(stored - set(expected))
                missing = sorted(set(expected) - stored)
                raise CheckpointError(
                    f"{path}: array entries do not match the metadata (unexpected {extra_keys}, missing {missing})"
                )
            arrays = {}
            for key in sorted(stored):
                a = npz[key]  # object arrays raise here (allow_pickle=False)
                spec = expected[key]
                if a.dtype.kind not in _ALLOWED_KINDS:
                    raise CheckpointError(f"{path}: array {key!r} has dtype {a.dtype}; only bool/int/float are allowed")
                if a.dtype.str != spec["dtype"] or list(a.shape) != spec["shape"]:
                    raise CheckpointError(
                        f"{path}: array {key!r} is {a.dtype.str}{list(a.shape)}, metadata says "
                        f"{spec['dtype']}{spec['shape']}: the file was modified after saving"
                    )
                if _sha256(a) != spec["sha256"]:
                    raise CheckpointError(f"{path}: array {key!r} fails its SHA-256 check: corrupt or tampered")
                arrays[key] = a
    except CheckpointError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise CheckpointError(
                f"{path}: refused: the file contains pickled Python objects, which could run code when loaded"
            ) from e
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({e})") from e
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError, TypeError,
            UnicodeDecodeError) as e:  # fmt: skip
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {e})") from e
    return Checkpoint(path, meta, arrays)


#: The first bytes of the files np.load can open: a zip (.npz; "PK\x05\x06" starts an empty one),
#: a single .npy array, and a pickle of protocol 2 or later (what np.load falls back to).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"


def _check_container(path: str) -> None:
    """Refuse a file that is no .npz at all (a README, a PNG) before np.load sees it.

    np.load treats anything that is neither a zip nor an .npy as a pickle, so with
    allow_pickle=False a text file or an image would be reported as "contains pickled
    Python objects", which is false and alarming. Only files that really start like a
    pickle (or an .npy, which may hold an object array) go on to np.load's own checks.
    An empty file is left to them too: it is reported as truncated.
    """
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if not head or head.startswith((*_ZIP_MAGIC, _NPY_MAGIC, _PICKLE_MAGIC)):
        return
    raise CheckpointError(f"{path}: not a minigan checkpoint (not an .npz archive)")


def _uint8_bytes(a: Any, key: str, path: str) -> bytes:
    if a.dtype != np.uint8 or a.ndim != 1:
        raise CheckpointError(f"{path}: entry {key!r} must be a 1-D uint8 array, got {a.dtype} {a.shape}")
    return a.tobytes()


def _check_meta(meta: Any, path: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a minigan checkpoint (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')!r}; this minigan reads {VERSION}"
        )
    for key, kind in (("models", dict), ("optimizers", dict), ("rngs", dict), ("arrays", dict), ("extra", dict),
                      ("step", int)):  # fmt: skip
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{path}: malformed metadata: {key!r} should be a {kind.__name__}")


# ----------------------------------------------------------------------------
# Load (verify everything, then assign)
# ----------------------------------------------------------------------------
@dataclass
class LoadResult:
    """What :func:`load` did.

    Attributes:
        step, extra: as saved.
        models: per model name, ``{"missing": [...], "unexpected": [...], "mismatched": [...]}``
            (all empty after a strict load).
        problems: every difference found, one line each (empty after a strict load).
        unused: names of stored objects nobody asked for (e.g. ``"optimizers/D"``).
    """

    step: int
    extra: dict[str, Any]
    models: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def _diff_state(model: Module, state: Mapping[str, Any]) -> dict[str, list[str]]:
    own = dict(model.named_parameters())
    own.update(dict(model.named_buffers()))
    return {
        "missing": [k for k in own if k not in state],
        "unexpected": [k for k in state if k not in own],
        "mismatched": [
            f"{k}: expected {own[k].shape}, got {tuple(state[k].shape)}"
            for k in own
            if k in state and tuple(state[k].shape) != own[k].shape
        ],
    }


def load(
    path: str | os.PathLike,
    models: Module | Mapping[str, Module] | None = None,
    optimizers: Optimizer | Mapping[str, Optimizer] | None = None,
    rngs: Generator | Mapping[str, Generator] | None = None,
    strict: bool = True,
) -> LoadResult:
    """Load a checkpoint into the given objects (names as in :func:`save`).

    Everything is verified first. With ``strict=True`` (default) any
    difference (a requested object missing from the file, a missing,
    unexpected or wrongly shaped parameter, an incompatible optimizer state)
    raises :class:`CheckpointError` listing all of them, and nothing is
    assigned. With ``strict=False`` everything that fits is loaded and the
    differences are reported in the returned :class:`LoadResult`.
    Corrupt files are always rejected before anything is assigned.
    """
    models_ = _named(models, "model", Module)
    optims_ = _named(optimizers, "optimizer", Optimizer)
    rngs_ = _named(rngs, "rng", Generator)
    ckpt = read(path)
    meta = ckpt.metadata
    result = LoadResult(step=ckpt.step, extra=ckpt.extra)
    plan: list[Any] = []  # closures that assign; run only after every check

    for name, model in models_.items():
        if name not in meta["models"]:
            result.problems.append(f"model {name!r}: not in the checkpoint (it has {list(meta['models'])})")
            continue
        state = ckpt.model_state(name)
        report = _diff_state(model, state)
        result.models[name] = report
        result.problems += [f"model {name!r}: {kind} {item}" for kind, items in report.items() for item in items]
        bad = {m.split(":")[0] for m in report["mismatched"]}
        loadable = {k: v for k, v in state.items() if k not in bad and k not in report["unexpected"]}
        plan.append(lambda model=model, loadable=loadable: model.load_state_dict(loadable, strict=False))
        stored_gens = meta["models"][name].get("generators", {})
        for key, gen in _model_generators(model).items():
            if key not in stored_gens:
                result.problems.append(f"model {name!r}: generator {key!r} not in the checkpoint")
            elif (why := _check_rng_state(stored_gens[key])) is not None:
                result.problems.append(f"model {name!r}: generator {key!r}: {why}")
            else:
                plan.append(lambda gen=gen, s=stored_gens[key]: gen.set_state(s))

    for name, opt in optims_.items():
        if name not in meta["optimizers"]:
            result.problems.append(f"optimizer {name!r}: not in the checkpoint (it has {list(meta['optimizers'])})")
            continue
        sd = ckpt.optimizer_state(name)
        try:
            opt.check_state_dict(sd)
        except ValueError as e:
            result.problems.append(f"optimizer {name!r}: {e}")
            continue
        plan.append(lambda opt=opt, sd=sd: opt.load_state_dict(sd))

    for name, gen in rngs_.items():
        if name not in meta["rngs"]:
            result.problems.append(f"rng {name!r}: not in the checkpoint (it has {list(meta['rngs'])})")
        elif (why := _check_rng_state(meta["rngs"][name])) is not None:
            result.problems.append(f"rng {name!r}: {why}")
        else:
            plan.append(lambda gen=gen, s=meta["rngs"][name]: gen.set_state(s))

    for kind, given in (("models", models_), ("optimizers", optims_), ("rngs", rngs_)):
        result.unused += [f"{kind}/{n}" for n in meta[kind] if n not in given]

    if strict and result.problems:
        raise CheckpointError(
            f"{ckpt.path} does not match the objects given (nothing was loaded):\n  " + "\n  ".join(result.problems)
        )
    for assign in plan:
        assign()
    return result
