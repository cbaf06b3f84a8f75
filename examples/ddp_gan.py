"""A minigan GAN, trained on in PyTorch on several processes with DistributedDataParallel (DDP).

Two processes on one CPU, talking through the gloo backend::

    torchrun --nproc_per_node 2 examples/ddp_gan.py --steps 20          # a fresh mlp-gan, on glyph digits

or continuing a run of ``minigan train``, and coming back to minigan afterwards::

    minigan export --checkpoint runs/x/checkpoint.npz --to torch --out runs/x/torch
    torchrun --nproc_per_node 2 examples/ddp_gan.py --from runs/x/torch --steps 200 --out runs/x/ddp
    minigan import --from runs/x/ddp --out runs/y/checkpoint.npz        # sample, evaluate, train --resume

Without ``--from`` the first process makes the starting point itself, exactly so: a ``minigan train``
run of 0 steps, exported by ``minigan export`` (into ``--out``/start).

What changes when a GAN is trained on several processes:

- **The data are sharded.** Each process sees its own part of every epoch
  (``DistributedSampler``: the same shuffled order everywhere, each process taking every
  world_size-th example), and draws its own noise. The run's batch size (128, say) is the *global*
  batch: each of the 2 processes takes 64.
- **DDP averages gradients, nothing else.** Every process holds a full copy of G and of D. After
  ``loss.backward()`` DDP all-reduces the gradients (their mean over the processes) before the
  optimizer steps, so every copy takes the same step and the copies stay identical: the step is
  the one a single process would take with the global batch (each process's loss is a mean over
  its half, and the mean of the halves' gradients is the gradient of the mean). G and D are
  wrapped separately, so each network's gradients are averaged on their own: the D step is
  synchronised once (the D loss's backward) and the G step once (the G loss's backward).
  In the G step the gradient flows *through* D; D is frozen there and called unwrapped
  (``D.module``), so that its parameters get no gradients and no all-reduce is started for them.
  In the D step the fakes are made under ``torch.no_grad()``: G is a constant there (minigan's
  ``fake.detach()``), so G's DDP wrapper expects no backward.
- **BatchNorm statistics are per process.** In training mode a BatchNorm normalises with the
  statistics of the batch it sees: here each process's half batch, not the global batch, and each
  process's running averages move toward its own half's. DDP keeps the buffers in step by
  broadcasting process 0's at the start of every forward pass (``broadcast_buffers=True``), so the
  running statistics that are saved are process 0's. ``torch.nn.SyncBatchNorm`` instead computes
  the statistics over the global batch (one more all-reduce per BatchNorm and forward pass):
  ``G = torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)`` before wrapping. PyTorch implements it
  for GPUs only (one process per GPU, the nccl backend), so this CPU example keeps per-process
  statistics and says how far apart they end.
  The spectral-norm vectors u and v of D are buffers too, broadcast the same way.
- **Every process runs the same program.** Only process 0 writes files and prints; at the end the
  processes compare their parameters (``all_gather``) and say whether they are identical.

Read next: ``minigan/interop/torch.py`` (how each minigan layer becomes a PyTorch one) and
``tutorials/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as tF
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# ----------------------------------------------------------------------------
# The starting point: an export folder of `minigan export --to torch`
# ----------------------------------------------------------------------------


def make_start(folder: Path, model: str, seed: int, batch_size: int) -> None:
    """A fresh run of ``minigan train`` (0 steps), exported: what ``--from`` would otherwise point at."""
    from minigan.app.export import ExportOptions, run_export
    from minigan.gan.run import TrainConfig, TrainingRun

    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig.for_model(model, seed=seed, batch_size=batch_size, dataset="glyphs")
    run = TrainingRun(config, data=None)
    run.save(folder / "checkpoint.npz")
    run_export(ExportOptions(checkpoint=str(folder / "checkpoint.npz"), out=str(folder)))


def load_export(folder: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The folder's generated ``models.py`` (plain PyTorch), its networks and optimizers, and minigan.json."""
    spec = importlib.util.spec_from_file_location(f"exported_models_{os.getpid()}", folder / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.load(folder), json.loads((folder / "minigan.json").read_text())


# ----------------------------------------------------------------------------
# The losses minigan trains with (minigan/gan/losses.py), on logits or scores
# ----------------------------------------------------------------------------
LOSSES = {
    "non-saturating": (lambda r, f: tF.softplus(-r).mean() + tF.softplus(f).mean(), lambda f: tF.softplus(-f).mean()),
    "minimax": (lambda r, f: tF.softplus(-r).mean() + tF.softplus(f).mean(), lambda f: -tF.softplus(f).mean()),
    "hinge": (lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), lambda f: -f.mean()),
    "lsgan": (lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--from", dest="from_", help="an export folder (minigan export --to torch); default: a fresh run"
    )
    parser.add_argument("--model", default="mlp-gan", help="without --from: the model of the fresh run (mlp-gan)")
    parser.add_argument("--steps", type=int, default=20, help="training steps (one D and one G update each)")
    parser.add_argument("--batch-size", type=int, default=64, help="without --from: the global batch size (64)")
    parser.add_argument("--images", type=int, default=2048, help="glyph digits to train on (2048)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/ddp", help="folder for the files `minigan import` reads (runs/ddp)")
    args = parser.parse_args()

    # torchrun starts one process per --nproc_per_node and tells each its rank in the environment.
    dist.init_process_group("gloo")  # gloo: the collective operations on CPU tensors (nccl is for GPUs)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cpu")
    torch.manual_seed(args.seed)  # (nothing below draws from it; each process's noise has its own generator)

    out = Path(args.out)
    folder = Path(args.from_) if args.from_ else out / "start"
    if not args.from_:
        if rank == 0:
            make_start(folder, args.model, args.seed, args.batch_size)
        dist.barrier()  # the others wait until process 0 has written the folder
    models, nets, meta = load_export(folder)
    config = meta["extra"]["config"]
    G, D = nets["G"].to(device), nets["D"].to(device)
    g_opt, d_opt = nets["G_optimizer"], nets["D_optimizer"]
    ema = nets.get("G_ema")
    d_loss_fn, g_loss_fn = LOSSES[config["loss"]] if config["loss"] in LOSSES else (None, None)
    if d_loss_fn is None or config.get("d_steps") not in (None, 1) or config.get("g_steps", 1) != 1:
        raise SystemExit(f"ddp_gan: this example trains {', '.join(LOSSES)} with one D and one G update per step")
    conditional = models.NUM_CLASSES is not None

    # Two DDP wrappers: each averages the gradients of its own network. DDP also broadcasts process 0's
    # parameters and buffers when it wraps, so every process starts from the same networks.
    G_ddp, D_ddp = DDP(G), DDP(D)

    # The data: glyph digits as minigan makes them, sharded between the processes.
    from minigan.data.glyphs import glyph_digits

    lo, hi = config["value_range"]
    x, labels = glyph_digits(args.images, seed=args.seed, value_range=(lo, hi))
    x = torch.from_numpy(x)
    if models.IMAGE_SHAPE is not None and config["model"] in ("mlp-gan", "cgan"):
        x = x.reshape(len(x), -1)  # the MLP models take flat vectors
    data = TensorDataset(x, torch.from_numpy(labels))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed, drop_last=True)
    per_process = config["batch_size"] // world
    loader = DataLoader(data, batch_size=per_process, sampler=sampler, drop_last=True)
    noise = torch.Generator().manual_seed(args.seed * 1000 + rank)  # each process its own noise

    def z_and_labels(n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, models.LATENT_DIM, generator=noise).to(device)
        y = torch.randint(0, models.NUM_CLASSES, (n,), generator=noise).to(device) if conditional else None
        return z, y

    def call(net: Any, inputs: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return net(inputs) if y is None else net(inputs, y)

    epoch, batches = 0, iter(())
    start_step = int(meta["step"])
    for step in range(start_step, start_step + args.steps):
        try:
            real, real_labels = next(batches)
        except StopIteration:
            sampler.set_epoch(epoch)  # a new shuffle every epoch, the same on every process
            epoch += 1
            batches = iter(loader)
            real, real_labels = next(batches)
        real, real_labels = real.to(device), (real_labels.to(device) if conditional else None)
        G_ddp.train(), D_ddp.train()

        # D step: one all-reduce of D's gradients (in backward), then the same Adam step everywhere.
        z, y = z_and_labels(per_process)
        with torch.no_grad():
            fake = call(G_ddp, z, y)
        d_loss = d_loss_fn(call(D_ddp, real, real_labels), call(D_ddp, fake, y))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()

        # G step through a frozen D: only G's gradients are all-reduced; D's buffers are put back.
        saved = [b.clone() for b in D.buffers()]
        D.requires_grad_(False)
        z, y = z_and_labels(per_process)
        g_loss = g_loss_fn(call(D, call(G_ddp, z, y), y))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)
        with torch.no_grad():
            for b, s in zip(D.buffers(), saved):
                b.copy_(s)
            if ema is not None:  # the moving average of G, as minigan.gan.ema.EMA (with its warm-up)
                t = meta["extra"].get("ema_updates") or 0
                beta = min(config["ema"], (1.0 + t) / (10.0 + t))
                for avg, live in zip(ema.parameters(), G.parameters()):
                    avg.mul_(beta).add_(live, alpha=1.0 - beta)
                for avg, live in zip(ema.buffers(), G.buffers()):
                    avg.copy_(live)
                meta["extra"]["ema_updates"] = t + 1
        if rank == 0 and (step + 1 - start_step) % max(1, args.steps // 5) == 0:
            print(f"step {step + 1}: d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}", flush=True)

    # Are the copies identical? Gather every process's parameters and compare with process 0's.
    report = {}
    for name, net in (("G", G), ("D", D)):
        for what, tensors in (("parameters", models.minigan_parameter_order(net)), ("buffers", list(net.buffers()))):
            flat = torch.cat([t.detach().reshape(-1).double() for t in tensors]) if tensors else torch.zeros(1)
            everyone = [torch.zeros_like(flat) for _ in range(world)]
            dist.all_gather(everyone, flat)
            report[f"{name} {what}"] = max(float((e - everyone[0]).abs().max()) for e in everyone)
    identical = report["G parameters"] == 0.0 and report["D parameters"] == 0.0
    if rank == 0:
        print(
            f"parameters identical on all {world} processes: {identical} "
            f"(largest difference: G {report['G parameters']:.3g}, D {report['D parameters']:.3g}); "
            f"buffers differ by up to G {report['G buffers']:.3g}, D {report['D buffers']:.3g} "
            "(each process's BatchNorm statistics of its own half batch)"
        )
        write_export(folder, out, G, D, ema, g_opt, d_opt, meta, args.steps)
        print(f"wrote {out} (step {start_step + args.steps}): minigan import --from {out} --out CHECKPOINT")
    dist.barrier()
    dist.destroy_process_group()
    return 0 if identical else 1


def write_export(
    start: Path, out: Path, G: Any, D: Any, ema: Any, g_opt: Any, d_opt: Any, meta: dict, steps: int
) -> None:
    """The folder `minigan import` reads: the networks' and optimizers' state dicts, and minigan.json updated."""
    out.mkdir(parents=True, exist_ok=True)
    states = {"G": G.state_dict(), "D": D.state_dict(), "G_optimizer": g_opt.state_dict()}
    states["D_optimizer"] = d_opt.state_dict()
    if ema is not None:
        states["G_ema"] = ema.state_dict()
    for name, state in states.items():
        torch.save(state, out / f"{name}.pt")
    if start.resolve() != out.resolve():
        for name in ("fixed.pt", "models.py"):
            shutil.copy(start / name, out / name)
    meta["step"] += steps
    trainer = meta["extra"].get("trainer")
    if isinstance(trainer, dict):  # what `minigan train --resume` continues from
        trainer.update(
            step=meta["step"], d_updates=trainer["d_updates"] + steps, g_updates=trainer["g_updates"] + steps
        )
    (out / "minigan.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
