"""Generators the project trained, shipped with the package: sample from a trained GAN in a second.

Each one is two files in ``minigan/pretrained/weights/``:

- ``NAME.npz``: a ``minigan train`` checkpoint stripped down to the generator's sampling weights
  (the EMA of G when the run kept one) and the run's config, so everything that reads a run's
  checkpoint reads it too (``minigan sample --checkpoint``, ``minigan evaluate``);
- ``NAME.json``: how it was made: the command, the steps, the training time and machine, the
  scores ``minigan evaluate`` gave it, and the SHA-256 of the ``.npz`` (checked at every load).

They are made by ``python benchmarks/pretrained.py``, which trains each one with the command in
its sidecar and calls :func:`export`; anyone can rerun it and compare.

    >>> G = minigan.pretrained.load("dcgan-fast")          # doctest: +SKIP
    >>> minigan sample --pretrained dcgan-fast -n 64 --out digits.png

Read next: ``minigan/app/sample.py`` (how a generator's samples are drawn and saved).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from minigan import checkpoint
from minigan.gan import run as R
from minigan.nn.module import Module

__all__ = ["WEIGHTS", "PretrainedError", "available", "export", "info", "load", "path"]

#: The folder of the shipped generators (package data).
WEIGHTS = Path(__file__).resolve().parent / "weights"


class PretrainedError(ValueError):
    """An unknown name, or a shipped file that does not match its recorded SHA-256."""


def available(folder: str | os.PathLike | None = None) -> list[str]:
    """The names of the shipped generators (those with both their ``.npz`` and ``.json``), sorted."""
    folder = Path(folder) if folder is not None else WEIGHTS
    return sorted(p.stem for p in folder.glob("*.json") if p.with_suffix(".npz").is_file())


def info(name: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The sidecar of ``name``: command, steps, seconds, machine, scores, ``sha256``."""
    return json.loads(_file(name, ".json", folder).read_text())


def path(name: str, folder: str | os.PathLike | None = None) -> Path:
    """The checkpoint file of ``name``, after checking its SHA-256 against the sidecar."""
    npz = _file(name, ".npz", folder)
    expected = info(name, folder)["sha256"]
    actual = hashlib.sha256(npz.read_bytes()).hexdigest()
    if actual != expected:
        raise PretrainedError(
            f"pretrained {name!r}: {npz} has SHA-256 {actual[:12]}..., its sidecar says {expected[:12]}...: "
            "the file is damaged or was replaced; reinstall minigan or rerun benchmarks/pretrained.py"
        )
    return npz


def load(name: str, folder: str | os.PathLike | None = None) -> Module:
    """The generator ``name``, with its weights, in eval mode: ``load("dcgan-fast")(z)``.

    Its input: noise of size ``info(name)["latent_dim"]`` (and labels for a conditional model);
    its output: what the run's model makes (images ``(N, C, H, W)`` in ``info(name)["value_range"]``,
    or points).
    """
    ckpt = checkpoint.read(path(name, folder))
    G = R.build_generator(ckpt.extra["config"])
    G.load_state_dict(R.sampling_state(ckpt))
    G.eval()
    return G


def export(
    run_checkpoint: str | os.PathLike,
    name: str,
    *,
    command: str,
    scores: dict[str, Any],
    folder: str | os.PathLike | None = None,
    **facts: Any,
) -> Path:
    """Write ``name.npz`` (the generator of a ``minigan train`` checkpoint) and ``name.json``.

    ``command``: the command that trained it; ``scores``: what ``minigan evaluate`` (or, for a 2-D
    mixture, its mode metrics) gave it; ``facts``: anything else for the sidecar (seconds, machine).
    Returns the ``.npz`` path.
    """
    folder = Path(folder) if folder is not None else WEIGHTS
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoint.read(run_checkpoint)
    config = ckpt.extra["config"]
    G = R.build_generator(config)
    G.load_state_dict(R.sampling_state(ckpt))
    npz = folder / f"{name}.npz"
    extra = {"config": config, "dataset": ckpt.extra.get("dataset"), "pretrained": name}
    checkpoint.save(npz, models={"G": G}, step=ckpt.step, extra=extra)
    sidecar = {
        "name": name,
        "model": config["model"],
        "command": command,
        "steps": ckpt.step,
        "latent_dim": config["latent_dim_resolved"],
        "value_range": config.get("value_range"),
        "image_shape": config.get("image_shape"),
        "scores": scores,
        **facts,
        "sha256": hashlib.sha256(npz.read_bytes()).hexdigest(),
    }
    (folder / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return npz


def _file(name: str, suffix: str, folder: str | os.PathLike | None) -> Path:
    names = available(folder)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        shipped = ", ".join(names) if names else "none"
        raise PretrainedError(f"no pretrained generator {name!r}{hint} (shipped: {shipped})")
    return (Path(folder) if folder is not None else WEIGHTS) / f"{name}{suffix}"
