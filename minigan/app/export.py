"""`minigan export --to torch`: a run's networks and optimizers as PyTorch files, ready to go on there.

``minigan export --checkpoint runs/x/checkpoint.npz --to torch --out runs/x/torch`` writes into the folder:

- ``G.pt``, ``D.pt`` (and ``G_ema.pt`` when the run kept a moving average of G): the state dicts of
  the PyTorch twins (:func:`minigan.interop.torch.to_torch`), written with ``torch.save``;
- ``G_optimizer.pt``, ``D_optimizer.pt``: the optimizers' state dicts (Adam's moments and step
  counts), indexed in minigan's parameter order;
- ``fixed.pt``: the fixed noise (and labels) of the run's progress images;
- ``models.py``: plain PyTorch that rebuilds the networks and the optimizers and loads the files
  (``models.load(folder)``), with no minigan needed;
- ``minigan.json``: what PyTorch files cannot say and `minigan import` needs to write a
  checkpoint again: the run's config and history, the step, the random generators' states.

Every ``.pt`` file holds tensors and plain containers only, so it is read with
``torch.load(..., weights_only=True)``, which unpickles nothing else.

`minigan import` (:mod:`minigan.app.import_`) goes back. The bridge itself, layer by layer, is
:mod:`minigan.interop.torch`; this module is the files around it.

Read next: ``minigan/app/import_.py``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan import checkpoint
from minigan.app.common import UsageError, check_writable, one_line, read_run_checkpoint
from minigan.atomic import atomic_write
from minigan.gan import run as R
from minigan.nn import Module
from minigan.optim import Adam, Optimizer

__all__ = [
    "DESCRIPTION",
    "EXPORT_FORMAT",
    "HELP",
    "ExportOptions",
    "add_export_command",
    "import_torch",
    "run_export",
    "run_networks",
]

HELP = "write a run's networks and optimizers as PyTorch files (--to torch)"
DESCRIPTION = (
    "Convert the generator, discriminator and optimizers of a `minigan train` checkpoint into PyTorch: "
    "state dicts saved with torch.save, and a models.py that rebuilds the networks in plain PyTorch and loads "
    "them. `minigan import --from DIR` turns the folder (or one written by examples/ddp_gan.py) back into a "
    "checkpoint. Needs PyTorch: pip install 'minigan[torch]'."
)

#: ``minigan.json``'s format name and version.
EXPORT_FORMAT, EXPORT_VERSION = "minigan-torch-export", 1


@dataclass
class ExportOptions:
    """What `minigan export` takes (the flags of the same names)."""

    checkpoint: str = ""
    to: str = "torch"
    out: str = ""


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    """Declare `minigan export` and its flags (called by :mod:`minigan.cli`)."""
    p = subparsers.add_parser("export", help=HELP, description=DESCRIPTION)
    p.add_argument("--checkpoint", required=True, help="the checkpoint.npz of a training run")
    p.add_argument("--to", choices=("torch",), default="torch", help="the library to export to (torch)")
    p.add_argument("--out", required=True, help="the folder to write the files into (made if missing)")
    p.set_defaults(handler=run_export, options_type=ExportOptions)


def import_torch() -> Any:
    """:mod:`minigan.interop.torch`, or a one-line UsageError saying how to install PyTorch."""
    try:
        from minigan.interop import torch as bridge
    except ImportError:
        raise UsageError("PyTorch is not installed: pip install 'minigan[torch]'") from None
    return bridge


def run_networks(ckpt: checkpoint.Checkpoint) -> tuple[dict[str, Module], dict[str, Optimizer]]:
    """The minigan networks (``G``, ``D``, ``G_ema`` if kept) and optimizers of a run's checkpoint, loaded.

    Built from the checkpoint's config as :class:`~minigan.gan.run.TrainingRun` builds them.
    """
    config = R.TrainConfig.from_dict(ckpt.extra["config"])
    G, D = R.build_models(config)
    nets = {"G": G, "D": D}
    if "G_ema" in ckpt.model_names():
        nets["G_ema"] = R.build_models(config)[0]
    betas = (config.beta1, config.beta2)
    opts: dict[str, Optimizer] = {
        "G": Adam(G.parameters(), lr=config.g_lr or config.lr, betas=betas),
        "D": Adam(D.parameters(), lr=config.d_lr or config.lr, betas=betas),
    }
    for name, net in nets.items():
        net.load_state_dict(ckpt.model_state(name))
    for name, opt in opts.items():
        opt.load_state_dict(ckpt.optimizer_state(name))
    return nets, opts


def run_export(options: ExportOptions) -> int:
    """Write the PyTorch files of ``options.checkpoint`` into ``options.out``; returns the exit status."""
    out = Path(options.out)
    check_writable(out, "--out", folder=True)
    bridge = import_torch()
    import torch

    ckpt = read_run_checkpoint(Path(options.checkpoint), what="--checkpoint")
    if ckpt.extra["config"].get("model") not in R.GAN_MODELS:
        raise UsageError(f"--checkpoint: model {ckpt.extra['config'].get('model')!r} cannot be exported")
    try:
        nets, opts = run_networks(ckpt)
    except Exception as e:
        raise UsageError(f"--checkpoint: {one_line(e)}") from None
    twins = {name: bridge.to_torch(net) for name, net in nets.items()}
    torch_opts = {name: bridge.optimizer_to_torch(opt, nets[name], twins[name]) for name, opt in opts.items()}

    out.mkdir(parents=True, exist_ok=True)
    for name, twin in twins.items():
        _save(torch, twin.state_dict(), out / f"{name}.pt")
    for name, topt in torch_opts.items():
        _save(torch, topt.state_dict(), out / f"{name}_optimizer.pt")
    fixed = {k: torch.from_numpy(v) for k, v in ckpt.model_state("fixed").items()}
    _save(torch, fixed, out / "fixed.pt")
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "step": ckpt.step,
        "extra": ckpt.extra,
        "rngs": ckpt.metadata["rngs"],
        "model_generators": {name: ckpt.metadata["models"][name].get("generators", {}) for name in nets},
        "optimizers": {name: type(topt).__name__ for name, topt in torch_opts.items()},
        "dtype": str(next(iter(twins["G"].parameters())).dtype).removeprefix("torch."),
    }
    (out / "minigan.json").write_text(json.dumps(meta, indent=1) + "\n")
    with atomic_write(out / "models.py") as f:
        f.write(models_source(bridge, nets, torch_opts, ckpt, meta["dtype"]).encode())
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if p.suffix in ('.pt', '.py', '.json')))} to {out}")
    return 0


def _save(torch: Any, obj: Any, path: Path) -> None:
    with atomic_write(path) as f:  # a crash leaves the previous file, never half of one
        torch.save(obj, f)


def models_source(
    bridge: Any, nets: dict[str, Module], torch_opts: dict[str, Any], ckpt: checkpoint.Checkpoint, dtype: str
) -> str:
    """The generated ``models.py``: the twins' constructors in plain PyTorch, the optimizers, ``load()``."""
    config = ckpt.extra["config"]
    builders = "\n\n".join(
        f"def build_{name}() -> nn.Module:\n    return {bridge.torch_source(net)}\n" for name, net in nets.items()
    )
    optimizers = {name: (type(t).__name__, _hyper(t)) for name, t in torch_opts.items()}
    return f'''"""PyTorch networks and optimizers from `minigan export` (model {config["model"]}, step {ckpt.step}).

Plain PyTorch, no minigan needed. In the folder of this file::

    import torch, models
    run = models.load()            # {{"G": ..., "D": ..., "G_optimizer": ..., "D_optimizer": ...}}
    z = torch.randn(16, models.LATENT_DIM)
    images = run["G"].eval()(z)

``load`` rebuilds each network (``build_G``, ...), loads ``NAME.pt`` with ``torch.load(...,
weights_only=True)``, and makes each optimizer on the network's parameters in minigan's order
(``minigan_parameter_order``), the order its saved state (``NAME_optimizer.pt``) is indexed by.
The few modules below that are not in ``torch.nn`` (Keras' 'same' padding at a stride, ...) come
from ``minigan/interop/torch_layers.py``.
"""

{bridge.layers_source()}

from pathlib import Path  # noqa: E402

from torch.nn.utils.parametrizations import spectral_norm  # noqa: E402, F401

MODEL = {config["model"]!r}
STEP = {ckpt.step}
LATENT_DIM = {config["latent_dim_resolved"]}
NUM_CLASSES = {config.get("num_classes")!r}
IMAGE_SHAPE = {tuple(config["image_shape"]) if config.get("image_shape") else None!r}
DTYPE = torch.{dtype}


{builders}

BUILDERS = {{{", ".join(f"{n!r}: build_{n}" for n in nets)}}}
#: network -> (torch.optim class name, hyper-parameters)
OPTIMIZERS = {optimizers!r}


def build_optimizer(name: str, module: nn.Module) -> torch.optim.Optimizer:
    """The optimizer of network ``name``, on ``module``'s parameters in minigan's order."""
    kind, hyper = OPTIMIZERS[name]
    return getattr(torch.optim, kind)(minigan_parameter_order(module), **hyper)


def load(folder: str | Path | None = None, map_location: str = "cpu") -> dict[str, Any]:
    """The networks and optimizers, with the saved weights and state (``folder``: this file's by default)."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    out: dict[str, Any] = {{}}
    for name, build in BUILDERS.items():
        net = build().to(DTYPE)
        net.load_state_dict(torch.load(folder / f"{{name}}.pt", map_location=map_location, weights_only=True))
        out[name] = net
    for name in OPTIMIZERS:
        opt = build_optimizer(name, out[name])
        opt.load_state_dict(torch.load(folder / f"{{name}}_optimizer.pt", map_location=map_location, weights_only=True))
        out[f"{{name}}_optimizer"] = opt
    return out
'''


def _hyper(topt: Any) -> dict[str, Any]:
    """The hyper-parameters a torch optimizer was made with (those minigan has)."""
    from minigan.interop.torch import OPTIMIZER_HYPERPARAMS

    group = topt.param_groups[0]
    return {k: group[k] for k in OPTIMIZER_HYPERPARAMS[type(topt).__name__]}
