"""`minigan import --from DIR`: a folder of PyTorch files back into a minigan checkpoint.

The folder is one that `minigan export --to torch` wrote (:mod:`minigan.app.export`), or one that
``examples/ddp_gan.py`` wrote after training on in PyTorch: ``G.pt``, ``D.pt`` (``G_ema.pt``),
``G_optimizer.pt``, ``D_optimizer.pt``, ``fixed.pt`` and ``minigan.json``. Every ``.pt`` file is read
with ``torch.load(..., weights_only=True)``: tensors and plain containers, nothing else is unpickled.

The networks are rebuilt from the run's config (in ``minigan.json``) and loaded through
:func:`minigan.interop.torch.load_torch_state`; the optimizers' state is converted index by index
(the exported optimizers list the parameters in minigan's order). The checkpoint written is an
ordinary one of `minigan train`: `minigan sample`, `minigan evaluate` and `minigan train --resume`
take it. Its random generators are the ones exported (PyTorch drew its own noise meanwhile).

Read next: ``minigan/app/summary.py``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan import checkpoint
from minigan.app.common import UsageError, check_writable, one_line
from minigan.app.export import EXPORT_FORMAT, import_torch
from minigan.backend import Generator
from minigan.gan import run as R
from minigan.nn import Module
from minigan.optim import Adam

__all__ = ["DESCRIPTION", "HELP", "ImportOptions", "add_import_command", "run_import"]

HELP = "turn a folder of PyTorch files (from `minigan export` or examples/ddp_gan.py) into a checkpoint"
DESCRIPTION = (
    "Read the PyTorch state dicts of a folder written by `minigan export --to torch` (or by "
    "examples/ddp_gan.py) with torch.load(..., weights_only=True) and write a minigan checkpoint that "
    "`minigan sample`, `minigan evaluate` and `minigan train --resume` take. Needs PyTorch: "
    "pip install 'minigan[torch]'."
)


@dataclass
class ImportOptions:
    """What `minigan import` takes (``from_`` is ``--from``)."""

    from_: str = ""
    out: str = ""


def add_import_command(subparsers: argparse._SubParsersAction) -> None:
    """Declare `minigan import` and its flags (called by :mod:`minigan.cli`)."""
    p = subparsers.add_parser("import", help=HELP, description=DESCRIPTION)
    p.add_argument("--from", dest="from_", required=True, metavar="DIR", help="the folder of PyTorch files")
    p.add_argument("--out", required=True, help="the checkpoint to write (e.g. runs/x/checkpoint.npz)")
    p.set_defaults(handler=run_import, options_type=ImportOptions)


def _read_meta(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise UsageError(f"--from {folder}: no such folder")
    path = folder / "minigan.json"
    if not path.is_file():
        raise UsageError(f"--from {folder}: not a folder written by `minigan export` (no minigan.json)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--from {path}: unreadable ({one_line(e)})") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise UsageError(f"--from {path}: not a minigan export (format {meta.get('format')!r})")
    return meta


def _load(torch: Any, path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"--from: {path.name} is missing in {path.parent}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(
            f"--from {path}: not a PyTorch file that loads with weights_only=True ({one_line(e)})"
        ) from None


def _set_generators(model: Module, states: dict[str, Any]) -> None:
    """Restore the generators a model's layers hold (Dropout's masks), by dotted path as the checkpoint keys them."""
    for mod_name, m in model.named_modules():
        for attr, value in vars(m).items():
            key = f"{mod_name}.{attr}" if mod_name else attr
            if isinstance(value, Generator) and key in states:
                value.set_state(states[key])


def run_import(options: ImportOptions) -> int:
    """Write the checkpoint ``options.out`` from the folder ``options.from_``; returns the exit status."""
    folder, out = Path(options.from_), Path(options.out)
    meta = _read_meta(folder)
    check_writable(out, "--out", folder=False)
    bridge = import_torch()
    import torch

    extra = meta["extra"]
    try:
        config = R.TrainConfig.from_dict(extra["config"])
        G, D = R.build_models(config)
    except Exception as e:
        raise UsageError(f"--from {folder}/minigan.json: {one_line(e)}") from None
    nets: dict[str, Module] = {"G": G, "D": D}
    if (folder / "G_ema.pt").exists():
        nets["G_ema"] = R.build_models(config)[0]
    betas = (config.beta1, config.beta2)
    opts = {
        "G": Adam(G.parameters(), lr=config.g_lr or config.lr, betas=betas),
        "D": Adam(D.parameters(), lr=config.d_lr or config.lr, betas=betas),
    }
    for name, net in nets.items():
        try:
            bridge.load_torch_state(net, _load(torch, folder / f"{name}.pt"))
        except (ValueError, TypeError) as e:
            raise UsageError(f"--from {folder / f'{name}.pt'}: {one_line(e)}") from None
        _set_generators(net, meta.get("model_generators", {}).get(name, {}))
    for name, opt in opts.items():
        try:
            bridge.load_torch_optimizer_state(opt, _load(torch, folder / f"{name}_optimizer.pt"))
        except (ValueError, TypeError, KeyError) as e:
            raise UsageError(f"--from {folder / f'{name}_optimizer.pt'}: {one_line(e)}") from None
    fixed = _load(torch, folder / "fixed.pt")
    fixed_model = R._FixedBatch(*_fixed_tensors(fixed))
    rngs = {}
    for name, state in meta.get("rngs", {}).items():
        rngs[name] = Generator(0)
        rngs[name].set_state(state)
    step = int(meta["step"])
    if isinstance(extra.get("trainer"), dict):
        extra["trainer"]["step"] = step  # what `train --resume` continues from
    checkpoint.save(out, models={**nets, "fixed": fixed_model}, optimizers=opts, rngs=rngs, step=step, extra=extra)
    print(f"wrote {out} (model {config.model}, step {step})")
    return 0


def _fixed_tensors(fixed: dict[str, Any]) -> tuple[Any, Any]:
    from minigan import backend as B
    from minigan.autograd import Tensor

    def tensor(key: str) -> Any:
        return Tensor(B.asarray(fixed[key].detach().cpu().numpy())) if key in fixed else None

    return tensor("noise"), tensor("labels")
