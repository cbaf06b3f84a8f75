"""Train, score and export the generators shipped in ``minigan/pretrained/weights/``.

For each name: ``minigan train`` with the recipe below (in its own process, timed), ``minigan
evaluate`` on the checkpoint (10,000 samples against the 10,000 MNIST test images; mode metrics
for the 2-D mixtures), then :func:`minigan.pretrained.export`, which writes the generator and a
sidecar with the exact command, the steps, the training time, the machine and the scores. So
every shipped file says how to make it again, and this script does.

Usage::

    python benchmarks/pretrained.py --data-dir ../shared/data                 # all of them (~40 min, 2 cores)
    python benchmarks/pretrained.py --data-dir ../shared/data mlp-gan cgan    # some
    python benchmarks/pretrained.py --quick --folder /tmp/w                   # a smoke run: glyphs, 3 steps

Set ``OPENBLAS_NUM_THREADS=1`` on a 2-core machine (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402

from minigan import pretrained  # noqa: E402

#: name -> the `minigan train` flags of its recipe (the data set is added: mnist, or glyphs with --quick).
RECIPES: dict[str, list[str]] = {
    "dcgan-fast": ["--model", "dcgan-fast", "--steps", "12000"],  # the fast recipe, its whole 10-minute budget
    "mlp-gan": ["--model", "mlp-gan", "--steps", "12000"],  # the lecture's MLP GAN, trained 15 epochs
    "cgan": ["--model", "cgan", "--steps", "8000"],  # the conditional MLP GAN (chapter 11)
    # The 2-D mixtures of benchmarks/toy2d.py with the parts of its best runs that `minigan train`
    # has flags for (R1 on real data, the hinge loss on the grid, an EMA of G); not its wider nets
    # or cosine learning-rate decay.
    "ring-2d": ["--model", "ring-2d", "--r1-gamma", "0.1", "--ema", "0.999"],
    "grid-2d": ["--model", "grid-2d", "--loss", "hinge", "--r1-gamma", "0.1", "--ema", "0.999", "--steps", "10000"],
}
TOYS = ("ring-2d", "grid-2d")


def make(name: str, a: argparse.Namespace) -> dict[str, object]:
    """Train, evaluate and export ``name``; returns its sidecar."""
    out = Path(a.runs) / name
    flags = list(RECIPES[name])
    if name not in TOYS:
        flags += ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16"] if a.quick else ["--dataset", "mnist"]
        if a.data_dir and not a.quick:
            flags += ["--data-dir", a.data_dir]
    if a.quick:
        if "--steps" in flags:  # the recipe's own step count gives way to the smoke run's
            i = flags.index("--steps")
            del flags[i : i + 2]
        flags += ["--steps", "3", "--sample-every", "0"]
    train = ["minigan", "train", *flags, "--out", str(out), "--overwrite", "--quiet"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", *train], check=True)
    wall = time.perf_counter() - started
    evaluate = ["minigan", "evaluate", "--checkpoint", str(out / "checkpoint.npz"), "--no-parzen"]
    if name not in TOYS:
        evaluate += ["-n", "500" if a.quick else "10000"]
        if a.quick:
            evaluate += ["--dataset", "glyphs"]
        elif a.data_dir:
            evaluate += ["--data-dir", a.data_dir]
    subprocess.run([sys.executable, "-m", *evaluate], check=True)
    scores = json.loads((out / "eval.json").read_text())
    trained = json.loads((out / "metrics.json").read_text())
    command = shlex.join(["minigan", "train", *flags, "--out", f"runs/{name}"])
    keep = {k: v for k, v in scores.items() if k not in ("checkpoint", "seconds")}
    pretrained.export(
        out / "checkpoint.npz",
        name,
        command=command,
        scores=keep,
        folder=a.folder,
        train_seconds=trained.get("train_seconds"),
        command_seconds=round(wall, 1),
        machine={k: v for k, v in machine("numpy").items() if k != "blas_config"},
        date=datetime.date.today().isoformat(),
    )
    return pretrained.info(name, a.folder)


def table(folder: str) -> str:
    """A markdown table of the sidecars in ``folder`` (what benchmarks/README.md shows)."""
    rows = [
        "| name | command | train time | scores | machine (1-min load) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in pretrained.available(folder):
        f = pretrained.info(name, folder)
        s, m = f["scores"], f["machine"]
        if "modes" in s:
            scores = f"{s['modes']} modes, {s['high_quality']:.1f}% high quality, reverse KL {s['reverse_kl']:.3f}"
        else:
            scores = f"IS {s['is']:.2f}, FID {s['fid']:.1f}, precision {s['precision']:.3f}, recall {s['recall']:.3f}"
            if "label_accuracy" in s:
                scores += f", label read back {s['label_accuracy']:.1%} (worst class {s['label_accuracy_min']:.1%})"
        minutes = f"{f['train_seconds'] / 60:.1f} min" if f.get("train_seconds") else "-"
        rows.append(
            f"| {name} | `{f['command']}` | {minutes} | {scores} | {m['cpu']}, {m['cores']} cores "
            f"({m.get('load_avg_1min')}), {f['date']} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", choices=[[], *RECIPES], default=[], help="which (default: all)")
    p.add_argument("--data-dir", help="the folder holding mnist/ (else minigan's search and download)")
    p.add_argument("--folder", default=str(pretrained.WEIGHTS), help="where to export (default: the package's)")
    p.add_argument("--runs", default="runs/pretrained", help="where the training runs go")
    p.add_argument("--quick", action="store_true", help="glyph digits, 3 steps, 500 samples: a smoke run")
    p.add_argument("--table", action="store_true", help="only print the markdown table of --folder's sidecars")
    a = p.parse_args(argv)
    if a.table:
        print(table(a.folder), end="")
        return
    for name in a.names or list(RECIPES):
        facts = make(name, a)
        s = facts["scores"]
        shown = {
            k: s[k] for k in ("is", "fid", "precision", "recall", "label_accuracy", "modes", "high_quality") if k in s
        }
        print(f"{name}: {facts['steps']} steps in {facts['train_seconds']} s; {shown}")
    print(table(a.folder), end="")


if __name__ == "__main__":
    main()
