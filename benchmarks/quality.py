"""How good are the images? The seed GANs and losses on MNIST, scored with minigan.metrics.

Each GAN row trains one model with one loss for a fixed number of steps on the first 50,000
MNIST training images (the last 10,000 are held out: the Parzen estimate chooses its sigma on
them, as in the GAN paper), then draws ``--n`` samples (default 10,000) and scores them against
the 10,000 test images with the shipped MNIST classifier (``minigan.metrics``):

- IS (10 splits), FID and KID on the classifier's 128 penultimate features, improved
  precision and recall (k = 3), the number of digit classes covered (>= 1% of the samples);
- the Parzen-window log-likelihood of the test images (pixels in [0, 1], sigma from a log grid
  chosen on the held-out training images), the GAN paper's number (225 +- 2 there);
- the training time (the steps only) and the evaluation time.

Reference rows, scored the same way, say what the numbers mean:

- ``real (train)``: 10,000 real training images instead of samples: the ceiling;
- ``blurred real``: the same images through a 3x3 box blur (sharpness lost, content kept);
- ``one image``: one training image repeated 10,000 times (perfect quality, no diversity);
- ``uniform noise``: pixels uniform in [-1, 1].

The GAN rows (fixed budgets, chosen so the whole table runs in about 30 minutes on an idle
2-core CPU; the DCGAN paper's Adam settings, seed 0):

- ``mlp-gan`` with each loss, 2,000 steps of batch 64 (2.6 epochs): minimax, non-saturating,
  lsgan, hinge; wgan-gp 1,000 steps (5 critic updates each plus the gradient penalty's double
  backward: still about twice the compute of the others);
- ``conv-gan`` (600 steps of 64) and ``dcgan`` (300 steps of 32) with the non-saturating loss:
  their steps cost 6 and 20 times an MLP step, so they get far fewer;
- ``mlp-ns-long``: the MLP GAN with the non-saturating loss for 12,000 steps (15 epochs), to
  show what a longer budget buys.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/quality.py --data-dir /work/shared/data   # the full table
    python benchmarks/quality.py --quick --out /tmp/q     # seconds: tiny budgets, 100 samples
    python benchmarks/quality.py --rows real,mlp-ns       # some rows (--list names them)
    python benchmarks/quality.py --reuse ...              # keep checkpoints already in --out

``--quick`` uses MNIST when it is on disk (else the glyph digits), 100 images and 3 steps per
GAN: a smoke test of the whole pipeline, not a measurement. Checkpoints go to
``<out>/checkpoints/<row>.npz``; with ``--reuse`` a row whose checkpoint reached its step count
is evaluated without training again (its recorded training time is kept).

Read next: ``benchmarks/README.md`` (the table and what it says).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _common import machine, machine_line, write_results  # noqa: E402

from minigan import checkpoint, metrics  # noqa: E402
from minigan.data import DataLoader, load_dataset  # noqa: E402
from minigan.gan.run import TrainConfig, TrainingRun  # noqa: E402


@dataclass(frozen=True)
class GanRow:
    name: str
    model: str
    loss: str
    steps: int
    batch_size: int = 64
    init: str | None = None  # None: the model's default (minigan train's)


#: The GAN rows of the full table, in order.
GAN_ROWS = [
    GanRow("mlp-minimax", "mlp-gan", "minimax", 2000),
    GanRow("mlp-ns", "mlp-gan", "non-saturating", 2000),
    GanRow("mlp-wgan-gp", "mlp-gan", "wgan-gp", 1000),
    GanRow("mlp-lsgan", "mlp-gan", "lsgan", 2000),
    GanRow("mlp-hinge", "mlp-gan", "hinge", 2000),
    GanRow("conv-ns", "conv-gan", "non-saturating", 600),
    # The same with the DCGAN paper's N(0, 0.02) init: this pair collapses (kept as the evidence).
    GanRow("conv-ns-normal-init", "conv-gan", "non-saturating", 600, init="dcgan_normal"),
    GanRow("dcgan-ns", "dcgan", "non-saturating", 300, batch_size=32),
    # What the MLP GAN reaches with a longer budget (15 epochs): the table's best row.
    GanRow("mlp-ns-long", "mlp-gan", "non-saturating", 12000),
]
REFERENCE_ROWS = ["real", "blurred", "one-image", "noise"]
REFERENCE_LABELS = {
    "real": "real (train) - ceiling",
    "blurred": "blurred real (3x3 box)",
    "one-image": "one training image x N",
    "noise": "uniform noise",
}
QUICK_STEPS = 3


def box_blur(images: np.ndarray) -> np.ndarray:
    """3x3 mean filter of (N, 1, 28, 28) images, edges padded by repetition."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")  # (N, 1, 30, 30)
    out = np.zeros_like(images)
    for dy in range(3):
        for dx in range(3):
            out += padded[:, :, dy : dy + 28, dx : dx + 28]
    return out / 9.0


def reference_images(name: str, train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The 'samples' of a reference row: real, blurred, one repeated image, or noise."""
    real = train[:n]
    if name == "real":
        return real
    if name == "blurred":
        return box_blur(real)
    if name == "one-image":
        return np.repeat(train[:1], n, axis=0)
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=real.shape).astype(np.float32)


def train_gan(row: GanRow, images: np.ndarray, steps: int, ckpt: Path, reuse: bool, dataset: str) -> TrainingRun:
    """Train (or, with ``reuse``, reload) one GAN row; its checkpoint is written to ``ckpt``."""
    config = TrainConfig.for_model(
        row.model, loss=row.loss, batch_size=row.batch_size, steps=steps, seed=0, init=row.init
    )
    lo, hi = config.spec.value_range
    data = (images + 1.0) * ((hi - lo) / 2.0) + lo  # [-1, 1] -> the generator's range (DCGAN: [0, 1])
    data = data.reshape(len(data), -1) if config.spec.flat else data  # (N, 1, 28, 28) -> (N, 784) for MLPs
    loader = DataLoader(data.astype(np.float32), batch_size=row.batch_size, seed=0, drop_last=True)
    # The data set's name lets `minigan evaluate --checkpoint` pick the reference images.
    run = TrainingRun(
        config, loader, {"name": dataset, "split": "train (held-out part excluded)", "n_images": len(images)}
    )
    if reuse and ckpt.exists() and checkpoint.read(ckpt).step == steps:
        run.restore(ckpt)
        print(f"{row.name}: reusing {ckpt} ({steps} steps, trained in {run.train_seconds:.0f} s)", flush=True)
        return run
    started = time.perf_counter()

    def log(r: TrainingRun, record: dict[str, Any]) -> None:
        if r.step % max(1, steps // 5) == 0:
            print(
                f"  {row.name} step {r.step}/{steps}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
                f"[{time.perf_counter() - started:.0f} s]",
                flush=True,
            )

    run.train(steps, on_step=log, checkpoint_path=ckpt, checkpoint_every=0)
    return run


def table(rows: list[dict[str, Any]], command: str, mi: dict[str, Any]) -> str:
    head = (
        "| row | model | loss | steps (batch) | train time | IS | FID | KID | precision | recall "
        "| Parzen LL (nats) | classes |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lines = []
    for r in rows:
        steps = f"{r['steps']:,} ({r['batch_size']})" if r.get("steps") else "-"
        train = f"{r['train_seconds'] / 60:.1f} min" if r.get("train_seconds") else "-"
        parzen = f"{r['parzen_ll']:.0f} +- {r['parzen_sem']:.0f}" if "parzen_ll" in r else "-"
        lines.append(
            f"| {r['row']} | {r.get('model', '-')} | {r.get('loss', '-')} | {steps} | {train} "
            f"| {r['is']:.2f} +- {r['is_std']:.2f} | {r['fid']:.2f} | {r['kid']:.3g} "
            f"| {r['precision']:.3f} | {r['recall']:.3f} | {parzen} | {r['classes_covered']}/10 |"
        )
    n = rows[0]["n_fake"] if rows else 0
    foot = (
        f"\n{n:,} samples per row against {rows[0]['n_real']:,} test images; Parzen sigma chosen on the last "
        f"{n:,} training images (held out from GAN training).\n\nCommand: `{command}`\n\n{machine_line(mi)}\n"
    )
    return head + "\n".join(lines) + "\n" + foot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets and 100 samples (seconds; a smoke test)")
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $MINIGAN_DATA, the cache)")
    p.add_argument("--n", type=int, default=None, help="samples per row (default 10000; quick 100)")
    p.add_argument("--rows", default=None, help="comma-separated row names (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    p.add_argument("--reuse", action="store_true", help="evaluate existing checkpoints in --out instead of retraining")
    p.add_argument("--out", default="bench_results", help="output folder (quality.json, quality.md, checkpoints/)")
    args = p.parse_args(argv)

    names = REFERENCE_ROWS + [r.name for r in GAN_ROWS]
    if args.list:
        for r in REFERENCE_ROWS:
            print(f"{r:12s}  reference: {REFERENCE_LABELS[r]}")
        for g in GAN_ROWS:
            print(f"{g.name:12s}  {g.model}, {g.loss}, {g.steps} steps of batch {g.batch_size}")
        return 0
    wanted = names if args.rows is None else args.rows.split(",")
    unknown = [w for w in wanted if w not in names]
    if unknown:
        p.error(f"unknown rows {unknown}; choose from {', '.join(names)}")
    n = args.n or (100 if args.quick else 10000)

    dataset = "auto" if args.quick else "mnist"
    # The quick run loads only what it uses: glyph digits are generated one by one.
    train = load_dataset(dataset, "train", data_dir=args.data_dir, download=False, n=2 * n if args.quick else None)
    test = load_dataset(train.name, "test", data_dir=args.data_dir, download=False, n=n)
    held_out = train.images[-n:]  # Parzen's validation set: never seen by the GANs
    gan_images = train.images[:-n]
    print(f"data: {train.name} ({len(gan_images)} training images for the GANs, {n} held out, {len(test)} test)")
    mi = machine("numpy")
    out = Path(args.out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    # Phase 1: train every GAN row (checkpoints in out/checkpoints). Phase 2: score every row.
    runs: dict[str, tuple[GanRow, TrainingRun]] = {}
    for name in wanted:
        if name in REFERENCE_ROWS:
            continue
        g = next(r for r in GAN_ROWS if r.name == name)
        if args.quick:
            g = GanRow(g.name, g.model, g.loss, QUICK_STEPS, 16)
        runs[name] = (g, train_gan(g, gan_images, g.steps, out / "checkpoints" / f"{name}.npz", args.reuse, train.name))

    clf = metrics.load_classifier("mnist")
    print(f"classifier: test accuracy {clf.info.get('test_accuracy')} ({clf.info.get('command')})", flush=True)
    ref = metrics.reference(test.images, clf, parzen_test=test.images, parzen_validation=held_out, name="test")
    rows: list[dict[str, Any]] = []
    for name in wanted:
        started = time.perf_counter()
        if name in REFERENCE_ROWS:
            images = reference_images(name, gan_images, n, seed=0)
            row: dict[str, Any] = {"row": REFERENCE_LABELS[name], "kind": "reference"}
        else:
            g, run = runs[name]
            cfg = run.config
            images = metrics.generate(
                run.G, n, cfg.resolved_latent_dim(), value_range=cfg.spec.value_range, num_classes=cfg.spec.num_classes
            )
            row = {"row": name, "kind": "gan", "model": g.model, "loss": g.loss, "steps": g.steps}
            row.update(batch_size=g.batch_size, train_seconds=round(run.train_seconds, 1))
        values = metrics.evaluate_images(images, ref, clf)
        row.update(values)
        row["eval_seconds"] = round(time.perf_counter() - started, 1)
        row["classifier_test_accuracy"] = clf.info.get("test_accuracy")
        row["machine"] = mi
        rows.append(row)
        print(
            f"{row['row']}: IS {row['is']:.2f}  FID {row['fid']:.2f}  KID {row['kid']:.4f}  "
            f"P {row['precision']:.3f}  R {row['recall']:.3f}  Parzen {row['parzen_ll']:.1f} "
            f"(sigma {row['parzen_sigma']:.3f})  classes {row['classes_covered']}  [{row['eval_seconds']:.0f} s eval]",
            flush=True,
        )
    command = "python benchmarks/quality.py " + " ".join(sys.argv[1:] if argv is None else argv)
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if threads:
        command = f"OPENBLAS_NUM_THREADS={threads} {command}"
    for r in rows:
        r["command"] = command
    write_results("quality", out, rows, table(rows, command, mi))
    return 0


if __name__ == "__main__":
    sys.exit(main())
