"""What does the adversarial term add? Image-to-image GANs on MNIST against their L1-only baselines.

For each task, the same U-Net generator is trained twice from the same initial weights and data
order, for the same number of steps: once as pix2pix (``PairedTrainer``: a PatchGAN
discriminator on (input, output) pairs plus ``l1_weight`` x L1) and once on the L1 term alone
(``adversarial=False``). Then, on test digits:

- **class preservation**: the shipped digit classifier (``metrics.load_classifier``) reads the
  output as the target's digit (the translation kept what the digit is);
- **PSNR** and **SSIM** of the output against the target (``metrics.image``); L1 on the hole for
  inpainting;
- wall time of the training, and a grid of input | GAN output | L1-only output | target.

Tasks (``minigan.data.paired``): ``outlines`` (Sobel edges -> digit), ``super-resolution`` (7x7
block averages, repeated to 28x28 -> digit), ``inpainting`` (a central 12x12 hole -> digit; G
fills the hole only, the known pixels are pasted back, L1 on the hole), and ``cyclegan``:
handwritten MNIST digits <-> the built-in typeset glyph digits, unpaired (``CycleTrainer``),
scored by class preservation in both directions (the translated digit must still read as its
source's class) and the cycle reconstruction error.

Usage::

    python benchmarks/variations.py --data-dir ../shared/data          # every task, default steps
    python benchmarks/variations.py --tasks outlines --steps 3000
    python benchmarks/variations.py --quick --out /tmp/v               # a smoke run (glyphs, seconds)

Offline without MNIST it uses the glyph digits and says so. Writes ``variations.json``,
``variations.md`` and ``<task>.png`` to ``--out``.

Read next: ``minigan/gan/translation.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, machine_line, write_results  # noqa: E402

import minigan  # noqa: E402
from minigan import metrics, nn  # noqa: E402
from minigan.data import glyph_digits, load_dataset, paired  # noqa: E402
from minigan.gan import CycleTrainer, PairedTrainer  # noqa: E402
from minigan.optim import Adam  # noqa: E402
from minigan.viz import save_image_grid  # noqa: E402

TASKS = ("outlines", "super-resolution", "inpainting", "cyclegan")


def make_inputs(task: str, images: Any) -> tuple[Any, Any]:
    """(inputs, masks or None) of a paired task for target ``images``."""
    if task == "outlines":
        return paired.outlines(images), None
    if task == "super-resolution":
        return paired.upsample_nearest(paired.downsample(images, 4), 4), None
    if task == "inpainting":
        return paired.with_hole(images, 12)
    raise ValueError(task)


def networks(args: argparse.Namespace, in_g: int, out_g: int, seed: int) -> tuple[Any, Any]:
    G = nn.UNet(in_g, out_g, depth=2, width=args.width, norm="batch", rng=seed)
    D = nn.patch_discriminator(in_g + out_g, width=args.width, n_layers=2, norm="instance", rng=seed + 1)
    return G, D


def adam(module: Any, lr: float) -> Adam:
    return Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))


def paired_task(task: str, args: argparse.Namespace, train: Any, test: Any, clf: Any) -> dict[str, Any]:
    (y_train, _), (y_test, test_labels) = train, test
    x_train, m_train = make_inputs(task, y_train)
    x_test, m_test = make_inputs(task, y_test)
    row: dict[str, Any] = {"task": task, "steps": args.steps}
    outputs = {}
    for kind in ("gan", "l1"):
        G, D = networks(args, 1, 1, seed=0)  # the same initial weights for both
        trainer = PairedTrainer(
            G, D, adam(G, args.lr), adam(D, args.lr), x_train, y_train, masks=m_train,
            composite=m_train is not None, l1_weight=args.l1_weight, adversarial=kind == "gan",
            batch_size=args.batch, seed=0,
        )  # fmt: skip
        t0 = time.perf_counter()
        trainer.train(args.steps)
        row[f"{kind}_seconds"] = time.perf_counter() - t0
        out = trainer.translate(x_test, m_test)
        outputs[kind] = out
        row[f"{kind}_class"] = float((clf.probs(out).argmax(axis=1) == test_labels).mean())
        row[f"{kind}_psnr"] = float(np.mean(metrics.psnr(out, y_test)))
        row[f"{kind}_ssim"] = float(np.mean(metrics.ssim(out, y_test)))
        if m_test is not None:
            row[f"{kind}_hole_l1"] = float(np.mean(metrics.masked_l1(out, y_test, m_test)))
        print(f"  {task} {kind}: {row[f'{kind}_seconds']:.0f} s, class {row[f'{kind}_class']:.3f}", flush=True)
    row["input_class"] = float((clf.probs(x_test).argmax(axis=1) == test_labels).mean())
    row["input_psnr"] = float(np.mean(metrics.psnr(x_test, y_test)))
    row["input_ssim"] = float(np.mean(metrics.ssim(x_test, y_test)))
    k = 8  # input | GAN | L1 only | target, one row each
    grid = np.concatenate([x_test[:k], outputs["gan"][:k], outputs["l1"][:k], y_test[:k]])
    save_image_grid(grid, Path(args.out) / f"{task}.png", nrow=k)
    return row


def cyclegan_task(args: argparse.Namespace, train: Any, test: Any, glyphs: Any, clf: Any) -> dict[str, Any]:
    (a_train, _), (a_test, a_labels) = train, test
    (b_train, _), (b_test, b_labels) = glyphs
    # Each D judges single images of its domain (1 channel), not pairs as in pix2pix.
    G_ab = nn.UNet(1, 1, depth=2, width=args.width, norm="batch", rng=0)
    G_ba = nn.UNet(1, 1, depth=2, width=args.width, norm="batch", rng=2)
    D_a, D_b = nn.patch_discriminator(1, args.width, rng=4), nn.patch_discriminator(1, args.width, rng=5)
    g_opt = Adam(G_ab.parameters() + G_ba.parameters(), lr=args.lr, betas=(0.5, 0.999))
    trainer = CycleTrainer(
        G_ab, G_ba, D_a, D_b, g_opt, adam(D_a, args.lr), adam(D_b, args.lr), a_train, b_train,
        batch_size=args.batch, seed=0,
    )  # fmt: skip
    t0 = time.perf_counter()
    trainer.train(args.steps)
    row: dict[str, Any] = {"task": "cyclegan", "steps": args.steps, "gan_seconds": time.perf_counter() - t0}
    ab, ba = trainer.translate(a_test, "ab"), trainer.translate(b_test, "ba")
    row["class_ab"] = float((clf.probs(ab).argmax(axis=1) == a_labels).mean())
    row["class_ba"] = float((clf.probs(ba).argmax(axis=1) == b_labels).mean())
    row["cycle_l1_a"] = float(np.mean(np.abs(trainer.translate(ab, "ba") - a_test)))
    row["cycle_l1_b"] = float(np.mean(np.abs(trainer.translate(ba, "ab") - b_test)))
    k = 8
    grid = np.concatenate([a_test[:k], ab[:k], b_test[:k], ba[:k]])
    save_image_grid(grid, Path(args.out) / "cyclegan.png", nrow=k)
    print(f"  cyclegan: {row['gan_seconds']:.0f} s, class A->B {row['class_ab']:.3f}, B->A {row['class_ba']:.3f}")
    return row


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def markdown(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    head = (
        machine_line(info["machine"]) + f"\n\nData: {info['data']}; U-Net width {info['width']}, "
        f"batch {info['batch']}, L1 weight {info['l1_weight']}, Adam {info['lr']} (0.5, 0.999). "
        "Class: the shipped classifier reads the output as the target's digit.\n\n"
        "| task | steps | class GAN | class L1 only | class input | PSNR GAN / L1 only / input (dB) "
        "| SSIM GAN / L1 only / input | train s GAN / L1 only |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lines = []
    for r in rows:
        if r["task"] == "cyclegan":
            continue
        lines.append(
            f"| {r['task']} | {r['steps']} | {_pct(r['gan_class'])} | {_pct(r['l1_class'])} | {_pct(r['input_class'])} "
            f"| {_num(r['gan_psnr'])} / {_num(r['l1_psnr'])} / {_num(r['input_psnr'])} "
            f"| {_num(r['gan_ssim'], '.3f')} / {_num(r['l1_ssim'], '.3f')} / {_num(r['input_ssim'], '.3f')} "
            f"| {r['gan_seconds']:.0f} / {r['l1_seconds']:.0f} |"
        )
    text = head + "\n".join(lines) + "\n"
    for r in rows:
        if r["task"] == "cyclegan":
            text += (
                f"\nCycleGAN (the training digits <-> glyph digits, {r['steps']} steps, {r['gan_seconds']:.0f} s): "
                "class kept "
                f"A->B {_pct(r['class_ab'])}, B->A {_pct(r['class_ba'])}; cycle L1 {r['cycle_l1_a']:.3f} (A), "
                f"{r['cycle_l1_b']:.3f} (B).\n"
            )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--steps", type=int, default=2000, help="training steps of each model")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=32, help="U-Net and PatchGAN width")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--l1-weight", type=float, default=100.0)
    p.add_argument("--n-test", type=int, default=1000, help="test digits scored")
    p.add_argument("--data-dir", default=None, help="a folder holding mnist/ (else the cache, then glyphs)")
    p.add_argument("--quick", action="store_true", help="glyph digits, tiny networks, a few steps")
    p.add_argument("--out", default="runs/benchmarks/variations")
    args = p.parse_args(argv)
    minigan.set_backend("numpy")
    n_train = None
    if args.quick:
        args.steps, args.batch, args.width, args.n_test, n_train = 3, 4, 4, 16, 64
    name = "glyphs" if args.quick else "auto"
    train = load_dataset(name, "train", data_dir=args.data_dir, n=n_train)
    test = load_dataset(name, "test", data_dir=args.data_dir, n=args.n_test)
    data = f"{train.name} ({len(train)} train, {min(len(test), args.n_test)} test digits)"
    if train.name == "glyphs" and not args.quick:
        print("MNIST not found (give --data-dir): using the built-in glyph digits", flush=True)
    train, test = (train.images, train.labels), (test.images[: args.n_test], test.labels[: args.n_test])
    clf = metrics.load_classifier("mnist")
    rows = []
    for task in args.tasks:
        print(f"{task}:", flush=True)
        if task == "cyclegan":
            n = len(train[0])
            glyph_train = glyph_digits(n, seed=1)
            glyph_test = glyph_digits(args.n_test, seed=2, split="test")
            rows.append(cyclegan_task(args, train, test, (glyph_train, glyph_test), clf))
        else:
            rows.append(paired_task(task, args, train, test, clf))
    info = {"machine": machine("numpy"), "data": data, "width": args.width, "batch": args.batch}
    info.update(l1_weight=args.l1_weight, lr=args.lr)
    write_results("variations", args.out, [{**r, "machine": info["machine"]} for r in rows], markdown(rows, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
