"""`minigan train` and `minigan sample`: outputs, exact resuming, Ctrl-C, misuse.

Every run here is tiny (64 glyph digits, batches of 16, a handful of steps) so the file
stays fast on two cores. The real MNIST is used only by one test that skips without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigan import checkpoint, cli
from minigan.data import DataLoader, load_dataset
from minigan.gan.run import TrainConfig, TrainingRun

TINY = ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--quiet"]
MNIST_DIR = Path("/work/shared/data")


def train(*argv: str) -> int:
    return cli.main(["train", *TINY, *argv])


def weights(path: Path) -> dict[str, np.ndarray]:
    ckpt = checkpoint.read(path)
    return {f"{m}/{k}": v for m in ("G", "D") for k, v in ckpt.model_state(m).items()}


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mlp")
    assert train("--steps", "6", "--sample-every", "3", "--checkpoint-every", "4", "--out", str(out)) == 0
    return out


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cgan")
    assert train("--model", "cgan", "--steps", "3", "--out", str(out)) == 0
    return out


# ----------------------------------------------------------------------------
# A training run and its files
# ----------------------------------------------------------------------------
def test_train_writes_every_file(mlp_run):
    for name in ("samples_0000.png", "samples_0003.png", "samples_0006.png", "progress.gif", "losses.png",
                 "d_outputs.png", "history.csv", "checkpoint.npz", "config.json", "metrics.json"):  # fmt: skip
        assert (mlp_run / name).stat().st_size > 0, name
    metrics = json.loads((mlp_run / "metrics.json").read_text())
    assert metrics["steps"] == 6 and metrics["dataset"] == "glyphs" and metrics["model"] == "mlp-gan"
    for key in ("d_real", "d_fake", "d_loss", "g_loss", "wall_seconds", "train_seconds"):
        assert np.isfinite(metrics[key]), key
    assert 0.0 < metrics["d_real"] < 1.0 and 0.0 < metrics["d_fake"] < 1.0
    config = json.loads((mlp_run / "config.json").read_text())
    assert (config["lr"], config["beta1"], config["batch_size"], config["init"]) == (2e-4, 0.5, 16, "dcgan_normal")
    assert config["generator"] == {"name": "mlp-generator", "kwargs": {"init": "dcgan_normal"}}
    lines = (mlp_run / "history.csv").read_text().splitlines()
    assert lines[0].startswith("step,d_loss") and len(lines) == 7
    ckpt = checkpoint.read(mlp_run / "checkpoint.npz")
    assert ckpt.step == 6 and len(ckpt.extra["history"]) == 6


def test_sample_writes_a_png(mlp_run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "grid.png"
    assert cli.main(["sample", "--checkpoint", str(mlp_run / "checkpoint.npz"), "-n", "16", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (4 * 30 + 2, 4 * 30 + 2)  # 4 x 4 cells of 28 + 2 pixels of padding
    assert str(out) in capsys.readouterr().out


def test_cgan_trains_and_samples_one_class(cgan_run, tmp_path):
    from PIL import Image

    metrics = json.loads((cgan_run / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["model"] == "cgan"
    with Image.open(cgan_run / "samples_0003.png") as im:
        assert im.size == (10 * 30 + 2, 10 * 30 + 2)  # 100 fixed samples, one column per class
    out = tmp_path / "sevens.png"
    assert (
        cli.main(["sample", "--checkpoint", str(cgan_run / "checkpoint.npz"), "--label", "7", "--out", str(out)]) == 0
    )
    assert out.stat().st_size > 0


def test_ring_2d_writes_scatter_and_mode_metrics(tmp_path):
    out = tmp_path / "ring"
    argv = ["--model", "ring-2d", "--steps", "4", "--batch-size", "32", "--sample-every", "0", "-q", "--out", str(out)]
    assert cli.main(["train", *argv]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_modes"] == 8 and 0 <= metrics["modes"] <= 8 and "high_quality" in metrics
    assert (out / "scatter.png").exists() and (out / "progress.gif").exists()


def test_gaussian_1d_delegates_to_the_experiment(tmp_path):
    out = tmp_path / "g"
    assert cli.main(["train", "--model", "gaussian-1d", "--steps", "10", "--mu", "2", "--sigma", "0.5", "-q",
                     "--out", str(out)]) == 0  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert (config["mu"], config["sigma"]) == (2.0, 0.5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"gen_mean", "gen_std", "d_real"} <= set(metrics)


@pytest.mark.skipif(not (MNIST_DIR / "mnist").is_dir(), reason="needs MNIST in /work/shared/data")
def test_train_on_real_mnist(tmp_path):
    out = tmp_path / "mnist"
    assert cli.main(["train", "--dataset", "mnist", "--data-dir", str(MNIST_DIR), "--no-download", "--limit", "64",
                     "--batch-size", "16", "--steps", "1", "-q", "--out", str(out)]) == 0  # fmt: skip
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "mnist"


# ----------------------------------------------------------------------------
# Resuming
# ----------------------------------------------------------------------------
def test_resume_gives_bitwise_the_same_weights(mlp_run, tmp_path):
    """6 steps straight == 3 steps, then --resume up to 6 (the loader crosses an epoch: 4 batches each)."""
    out = tmp_path / "b"
    assert train("--steps", "3", "--out", str(out)) == 0
    assert train("--steps", "6", "--out", str(out), "--resume", "--checkpoint-every", "2") == 0
    a, b = weights(mlp_run / "checkpoint.npz"), weights(out / "checkpoint.npz")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    ha, hb = (checkpoint.read(p / "checkpoint.npz").extra["history"] for p in (mlp_run, out))
    assert ha == hb
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6


@pytest.fixture(scope="module")
def glyphs64():
    return load_dataset("glyphs", n=64)


def _tiny_run(ds, seed: int = 0) -> TrainingRun:
    config = TrainConfig.for_model("mlp-gan", batch_size=16, seed=seed)
    loader = DataLoader(ds.images.reshape(64, -1), batch_size=16, seed=seed, drop_last=True)
    return TrainingRun(config, loader)


def test_ctrl_c_saves_a_checkpoint_at_a_step_boundary(tmp_path, glyphs64):
    """A real SIGINT during step 2 stops the loop after that step; resuming matches a straight run."""
    reference = _tiny_run(glyphs64)
    reference.train(4)

    def press_ctrl_c(run, record):
        if run.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # handled: the loop finishes the step, saves, then stops

    path = tmp_path / "checkpoint.npz"
    interrupted = _tiny_run(glyphs64)
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under `nohup ... &`
    with pytest.raises(KeyboardInterrupt):
        interrupted.train(4, on_step=press_ctrl_c, checkpoint_path=path)
    assert checkpoint.read(path).step == 2
    resumed = _tiny_run(glyphs64)
    resumed.restore(path)
    resumed.train(4)
    for (k, a), b in zip(reference.G.state_dict().items(), resumed.G.state_dict().values()):
        assert np.array_equal(a, b), k
    assert signal.getsignal(signal.SIGINT) is before  # the handler was put back


# ----------------------------------------------------------------------------
# Misuse: one line, non-zero status, no traceback
# ----------------------------------------------------------------------------
def _check_one_line_error(capsys, argv, message):
    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("minigan") and message in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "nope"], "invalid choice: 'nope'"),
        (["train", "--lr", "-0.1"], "must be a positive number"),
        (["train", "--lr", "0"], "must be a positive number"),
        (["train", "--batch-size", "0"], "must be >= 1"),
        (["train", "--steps", "0"], "must be >= 1"),
        (["train", "--steps", "5", "--epochs", "1"], "not allowed with argument"),
        (["train", "--beta1", "1.5"], "--beta1 must be in [0, 1)"),
        (["train", "--mu", "1"], "--mu applies to gaussian-1d"),
        (["train", "--model", "ring-2d", "--dataset", "mnist"], "--dataset applies to the image models"),
        (["train", "--model", "gaussian-1d", "--resume"], "--resume does not apply to gaussian-1d"),
        (["sample"], "--checkpoint"),
        (["sample", "--checkpoint", "no/such/file.npz"], "no checkpoint at no/such/file.npz"),
    ],
)
def test_misuse_is_one_line(capsys, argv, message):
    _check_one_line_error(capsys, argv, message)


def test_misuse_with_files(capsys, tmp_path, mlp_run, cgan_run, monkeypatch):
    empty = tmp_path / "empty"
    _check_one_line_error(capsys, ["train", "--resume", "--out", str(empty)], "--resume: no checkpoint at")
    _check_one_line_error(capsys, ["train", *TINY, "--limit", "8", "--out", str(empty)], "larger than the data set")
    _check_one_line_error(capsys, ["train", *TINY, "--out", str(mlp_run)], "already holds a checkpoint")
    _check_one_line_error(capsys, ["train", "--out", str(mlp_run), "--resume", "--lr", "0.1"], "--lr 0.1 differs")
    ckpt = str(mlp_run / "checkpoint.npz")
    _check_one_line_error(capsys, ["sample", "--checkpoint", ckpt, "--label", "3"], "needs a conditional model")
    ckpt = str(cgan_run / "checkpoint.npz")
    _check_one_line_error(capsys, ["sample", "--checkpoint", ckpt, "--label", "10"], "must be in 0..9")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    _check_one_line_error(capsys, ["sample", "--checkpoint", str(bad)], "--checkpoint: ")
    # MNIST asked for, offline, with no files anywhere
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    argv = ["train", "--dataset", "mnist", "--data-dir", str(empty), "--no-download", "--out", str(tmp_path / "m")]
    _check_one_line_error(capsys, argv, "--dataset mnist:")


def test_misuse_as_a_subprocess(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "minigan", "train", "--batch-size", "0"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv", [["summary"], ["train"], ["sample", "--checkpoint", "c.npz"], ["evaluate", "--checkpoint", "c.npz"]]
)
def test_the_options_dataclass_has_the_parsers_defaults(argv):
    """minigan.app takes a dataclass, with a field per flag: calling it from Python or from the
    command line must run the same defaults."""
    import dataclasses

    args = cli.build_parser().parse_args(argv)
    options = cli.command_options(args)  # a flag without a field would raise TypeError here
    fields = {f.name for f in dataclasses.fields(options)}
    assert fields == set(vars(args)) - {"command", "handler", "options_type"}
    given = {"checkpoint": "c.npz"}
    assert options == type(options)(**{k: v for k, v in given.items() if k in fields})


def test_help_documents_every_flag(capsys):
    parser = cli.build_parser()
    for command in ("train", "sample", "evaluate"):
        assert cli.main([command, "--help"]) == 0
        text = capsys.readouterr().out
        sub = parser._subparsers._group_actions[0].choices[command]
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, flag
            if action.option_strings and action.help != "==SUPPRESS==":
                assert action.help, action.option_strings
