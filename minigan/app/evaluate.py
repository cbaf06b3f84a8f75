"""`minigan evaluate`: score the generator of a checkpoint and write ``eval.json`` beside it.

The scoring itself is :func:`minigan.metrics.evaluate_checkpoint` (IS, FID, KID,
precision/recall, class coverage, Parzen log-likelihood; the mode counts for the 2-D toys).
This module checks, before the half-minute of scoring, that the output can be written and that
the metrics' classifier can judge what the generator makes, then prints one line of scores.

Read next: ``minigan/app/summary.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan import checkpoint, metrics
from minigan.app.common import (
    UsageError,
    check_writable,
    one_line,
    read_run_checkpoint,
    refuse_run_file,
    shape_text,
    write_json,
)
from minigan.data import mnist

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "EvaluateOptions", "run_evaluate"]

HELP = "score a checkpoint's generator: IS, FID, KID, precision/recall, coverage, Parzen LL"
DESCRIPTION = (
    "Draw --n samples from the generator of a `minigan train` checkpoint and score them with the "
    "classifier-based metrics of minigan.metrics against the first --n test images of the data set the run "
    "trained on (MNIST, or the glyph digits; both judged by the MNIST classifier shipped with minigan)."
)
EPILOG = """\
what is measured (image models; see minigan/metrics/scores.py for the definitions):
  is, is_std           Inception Score of the samples under the shipped MNIST classifier (1..10)
  fid                  Frechet distance of the classifier's 128 features, samples vs test images
  kid, kid_std         kernel (MMD^2) distance of the same features, unbiased
  precision, recall    k-NN manifold precision and recall (k = 3) of the features
  classes_covered, kl_to_uniform   mode coverage of the ten digits
  parzen_ll, parzen_sem, parzen_sigma   Parzen-window log-likelihood of the test images (nats,
                       pixels in [0, 1], sigma chosen on the last N training images), as in the
                       GAN paper (225 +- 2 there); --no-parzen skips it
2-D toy models (ring-2d, grid-2d): modes, high_quality, reverse_kl of N samples instead.

FID is biased at small N: compare values measured with the same --n only.

examples:
  minigan evaluate --checkpoint runs/quickstart/checkpoint.npz      # writes runs/quickstart/eval.json
  minigan evaluate --checkpoint runs/dcgan/checkpoint.npz --n 2000 --no-parzen --data-dir /data
"""


@dataclass
class EvaluateOptions:
    """What `minigan evaluate` takes (the flags of the same names)."""

    checkpoint: str
    n: int = 10000
    dataset: str | None = None
    data_dir: str | None = None
    no_parzen: bool = False
    seed: int = 0
    out: str | None = None


def run_evaluate(options: EvaluateOptions) -> int:
    """Score the checkpoint's generator, print the scores and write them as JSON; returns the exit status."""
    path = Path(options.checkpoint)
    # Checked first: scoring takes a while (~35 s at the default --n), and would be lost.
    out = Path(options.out) if options.out is not None else path.parent / "eval.json"
    refuse_run_file(out, "--out")
    check_writable(out, "--out", folder=False)
    check_can_score(read_run_checkpoint(path, what="--checkpoint"), options.dataset)
    started = time.perf_counter()
    try:
        values = metrics.evaluate_checkpoint(
            path,
            options.n,
            data_dir=options.data_dir,
            dataset=options.dataset,
            parzen=not options.no_parzen,
            seed=options.seed,
        )
    except mnist.MNISTNotFound as e:
        raise UsageError(f"--dataset mnist: {e.summary()}") from None
    except (mnist.DatasetUnavailable, mnist.IDXError, OSError) as e:
        raise UsageError(f"--dataset: {one_line(e)}") from None
    except ValueError as e:  # a checkpoint that does not fit its own config, too few images, ...
        raise UsageError(f"--checkpoint: {one_line(e)}") from None
    values["checkpoint"] = str(path)
    values["seconds"] = round(time.perf_counter() - started, 2)
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, values)
    print(f"{values['model']} step {values['step']}, {options.n} samples vs {values['dataset']}: {scores_line(values)}")
    print(f"wrote {out}")
    return 0


def check_can_score(ckpt: checkpoint.Checkpoint, dataset: str | None) -> None:
    """A UsageError unless the metrics can judge this generator against ``dataset`` (or the run's own)."""
    config = ckpt.extra["config"]
    trained_on = (ckpt.extra.get("dataset") or {}).get("name")
    image_model = bool(config.get("image_shape"))
    if image_model and list(config["image_shape"]) != [1, 28, 28]:
        raise UsageError(
            f"--checkpoint: the metrics' classifier judges (1, 28, 28) digits; "
            f"this generator makes {shape_text(config['image_shape'])}"
        )
    if str(config.get("dataset", "")).startswith("csv:"):
        raise UsageError("--checkpoint: no metrics for csv: points yet (they count the modes of ring-2d / grid-2d)")
    if image_model and dataset is None and trained_on not in (None, "mnist", "glyphs"):
        raise UsageError(f"--checkpoint: no classifier for {trained_on!r} yet; pass --dataset mnist or glyphs")


def scores_line(values: dict[str, Any]) -> str:
    """The scores in one line: the image metrics, or the mode counts of a 2-D toy."""
    if "fid" not in values:
        return f"modes {values['modes']}/{values['n_modes']}  high quality {values['high_quality']:.1f}%"
    line = (
        f"IS {values['is']:.2f} +- {values['is_std']:.2f}  FID {values['fid']:.2f}  KID {values['kid']:.4f}  "
        f"precision {values['precision']:.3f}  recall {values['recall']:.3f}  "
        f"classes {values['classes_covered']}/10"
    )
    if "label_accuracy" in values:
        line += (
            f"  drawn class read back {values['label_accuracy']:.1%} (worst class {values['label_accuracy_min']:.1%})"
        )
    if "parzen_ll" in values:
        line += f"  Parzen LL {values['parzen_ll']:.1f} +- {values['parzen_sem']:.1f}"
    return line
