"""The command line's sharp edges (issue 22): unwritable outputs, evaluate's output file,
resuming to a step already reached, files that are not checkpoints, `summary` of a GAN pair,
quiet and offline downloads, the README's quickstart grid.

Each error must be one line on stderr, a non-zero status and no traceback, and must come
before any work (nothing written, nothing computed). Runs are tiny (64 glyph digits,
batches of 16, a few steps) so the file stays fast on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigan import checkpoint, cli
from minigan.app import common

REPO = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--quiet"]


def train(*argv: str) -> int:
    return cli.main(["train", *TINY, *argv])


def one_line_error(capsys, argv: list[str], *messages: str) -> str:
    """Run the CLI, expect a non-zero status and one stderr line holding every message."""
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status != 0, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("minigan"), err
    for message in messages:
        assert message in err, err
    return err


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file's (size, mtime in ns): equal snapshots mean nothing was written."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert train("--steps", "3", "--out", str(out)) == 0
    return out


# ----------------------------------------------------------------------------
# 4. Files that are not minigan checkpoints
# ----------------------------------------------------------------------------
@pytest.fixture
def not_checkpoints(tmp_path) -> dict[str, Path]:
    from minigan.viz import save_image_grid

    readme = tmp_path / "README.md"
    readme.write_text("# a README\n\nnot a checkpoint\n")
    png = save_image_grid(np.zeros((4, 1, 28, 28), np.float32), tmp_path / "grid.png")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    meta_only = tmp_path / "meta_only.npz"
    np.savez(meta_only, __metadata__=np.zeros(3, np.uint8))
    return {"readme": readme, "png": Path(png), "plain": plain, "meta_only": meta_only}


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("readme", "not a minigan checkpoint (not an .npz archive)"),
        ("png", "not a minigan checkpoint (not an .npz archive)"),
        ("plain", "not a minigan checkpoint (no __metadata__ entry)"),
        ("meta_only", "not a minigan checkpoint (no __digest__ entry)"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_named_so(not_checkpoints, kind, reason):
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.read(not_checkpoints[kind])
    assert reason in str(info.value) and "pickle" not in str(info.value)


def test_not_a_checkpoint_in_every_command(capsys, tmp_path, not_checkpoints):
    for path in not_checkpoints.values():
        one_line_error(capsys, ["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")],
                       "--checkpoint: ", "not a minigan checkpoint")  # fmt: skip
        one_line_error(capsys, ["evaluate", "--checkpoint", str(path), "--out", str(tmp_path / "e.json")],
                       "--checkpoint: ", "not a minigan checkpoint")  # fmt: skip
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "e.json").exists()
    out = tmp_path / "resumed"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes(not_checkpoints["readme"].read_bytes())
    one_line_error(capsys, ["train", *TINY, "--out", str(out), "--resume"], "--resume: ", "not an .npz archive")


def test_a_real_pickle_is_still_refused_as_one(tmp_path):
    import pickle

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(checkpoint.CheckpointError, match="pickled Python objects"):
        checkpoint.read(path)


# ----------------------------------------------------------------------------
# 1. Unwritable outputs fail first, in one line
# ----------------------------------------------------------------------------
def blocked(tmp_path: Path) -> Path:
    """A path under a regular file: it cannot be created, not even by root."""
    afile = tmp_path / "afile"
    afile.write_text("I am a file\n")
    return afile / "out"


def test_train_into_an_unwritable_folder_fails_before_training(capsys, tmp_path, monkeypatch):
    from minigan.data import loader

    def no_data(*args, **kwargs):
        raise AssertionError("the data set was loaded before --out was checked")

    monkeypatch.setattr("minigan.data.load_dataset", no_data)  # first: it reads loader's lazily
    monkeypatch.setattr(loader, "load_dataset", no_data)
    out = blocked(tmp_path)
    one_line_error(capsys, ["train", *TINY, "--steps", "2", "--out", str(out)], f"--out {out}", "is a file")
    one_line_error(capsys, ["train", *TINY, "--out", str(out / "deeper")], "afile is a file, not a folder")
    one_line_error(capsys, ["train", "--model", "gaussian-1d", "-q", "--out", str(out)], "cannot write there")
    one_line_error(capsys, ["train", *TINY, "--out", str(tmp_path / "afile")], "that is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_train_into_a_read_only_folder(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line_error(capsys, ["train", *TINY, "--out", str(ro / "run")], "cannot write there", "ermission")
    finally:
        ro.chmod(0o755)


def test_a_permission_error_is_one_line_for_root_too(capsys, tmp_path, monkeypatch):
    """What a read-only folder gives a normal user, simulated (root may write anywhere)."""

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(common.tempfile, "mkstemp", denied)
    out = tmp_path / "run"
    one_line_error(capsys, ["train", *TINY, "--out", str(out)], f"--out {out}: cannot write there (Permission denied)")
    assert not out.exists()


def test_sample_and_evaluate_check_their_output_first(capsys, tmp_path, run_dir, monkeypatch):
    from minigan import metrics

    def no_scores(*args, **kwargs):
        raise AssertionError("scored before --out was checked")

    monkeypatch.setattr(metrics, "evaluate_checkpoint", no_scores)
    ckpt = str(run_dir / "checkpoint.npz")
    out = blocked(tmp_path)
    one_line_error(capsys, ["sample", "--checkpoint", ckpt, "--out", str(out / "s.png")], "is a file, not a folder")
    one_line_error(capsys, ["evaluate", "--checkpoint", ckpt, "--out", str(out / "e.json")], "is a file, not a folder")
    one_line_error(capsys, ["sample", "--checkpoint", ckpt, "--out", str(tmp_path)], "that is a folder")
    one_line_error(capsys, ["evaluate", "--checkpoint", ckpt, "--out", str(tmp_path)], "that is a folder")


# ----------------------------------------------------------------------------
# 2. evaluate writes eval.json beside the checkpoint, never over a run's own files
# ----------------------------------------------------------------------------
def test_evaluate_writes_eval_json_beside_the_checkpoint(capsys, tmp_path, run_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the old default, metrics.json in the current folder, would land here
    before = (run_dir / "metrics.json").read_bytes()
    ckpt = str(run_dir / "checkpoint.npz")
    assert cli.main(["evaluate", "--checkpoint", ckpt, "--n", "10", "--no-parzen"]) == 0
    assert str(run_dir / "eval.json") in capsys.readouterr().out
    values = json.loads((run_dir / "eval.json").read_text())
    assert values["n"] == 10 and values["checkpoint"] == ckpt
    assert (run_dir / "metrics.json").read_bytes() == before  # the training metrics are untouched
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["metrics.json", "history.csv", "config.json", "checkpoint.npz", "samples_0003.png"])
def test_evaluate_and_sample_refuse_a_training_file(capsys, run_dir, name, monkeypatch):
    from minigan import metrics

    monkeypatch.setattr(metrics, "evaluate_checkpoint", lambda *a, **k: pytest.fail("scored a refused --out"))
    before = snapshot(run_dir)
    ckpt = str(run_dir / "checkpoint.npz")
    target = str(run_dir / name)
    one_line_error(capsys, ["evaluate", "--checkpoint", ckpt, "--out", target], "a file of the training run")
    one_line_error(capsys, ["sample", "--checkpoint", ckpt, "--out", target], "a file of the training run")
    assert snapshot(run_dir) == before


def test_a_training_file_name_elsewhere_is_fine(tmp_path, run_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a run folder: metrics.json here is just a name
    assert cli.main(["sample", "--checkpoint", str(run_dir / "checkpoint.npz"), "-n", "4", "--out", "losses.png"]) == 0
    assert (tmp_path / "losses.png").stat().st_size > 0


# ----------------------------------------------------------------------------
# 3. --resume to a step the checkpoint has already reached
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--steps", "2"],
            "the checkpoint is already at step 3; --steps is the total step count, pass --steps 5 to train 2 more",
        ),  # fmt: skip
        (["--steps", "3"], "pass --steps 6 to train 3 more"),
        ([], "the checkpoint is already at step 3, the run's target; pass --steps N (the total, above 3)"),
    ],
)
def test_resume_to_a_step_already_reached_writes_nothing(capsys, run_dir, argv, message):
    before = snapshot(run_dir)
    one_line_error(capsys, ["train", *TINY, "--out", str(run_dir), "--resume", *argv], message)
    assert snapshot(run_dir) == before


def test_resume_with_too_few_epochs(capsys, tmp_path):
    out = tmp_path / "epochs"
    assert train("--epochs", "2", "--out", str(out)) == 0  # 64 images, batches of 16: 8 steps
    before = snapshot(out)
    one_line_error(capsys, ["train", *TINY, "--out", str(out), "--resume", "--epochs", "1"],
                   "already at step 8 (epoch 2)", "pass --epochs 3 to train 1 more")  # fmt: skip
    assert snapshot(out) == before


# ----------------------------------------------------------------------------
# 5. `minigan summary` knows the names `train --model` takes
# ----------------------------------------------------------------------------
def test_summary_of_a_gan_pair_shows_both_tables(capsys):
    assert cli.main(["summary", "mlp-gan"]) == 0
    out = capsys.readouterr().out
    assert 'Model: "mlp-gan generator (mlp-generator)"' in out and "Total params: 574,608" in out
    assert 'Model: "mlp-gan discriminator (mlp-discriminator)"' in out and "Total params: 566,273" in out
    assert out.index("generator (") < out.index("discriminator (")


@pytest.mark.parametrize("model", ["mlp-gan", "conv-gan", "dcgan", "cgan", "ring-2d", "grid-2d"])
def test_summary_counts_what_train_builds(capsys, model):
    from minigan.gan.run import TrainConfig, build_models
    from minigan.nn.summary import count_params

    assert cli.main(["summary", model]) == 0
    totals = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Total params:")]
    G, D = build_models(TrainConfig.for_model(model))
    assert totals == [f"Total params: {sum(count_params(net)):,}" for net in (G, D)]


@pytest.mark.parametrize("model, g_total", [("gaussian-1d", 2), ("mixture-1d", 4 * 32 + 32 + 32 * 32 + 32 + 33)])
def test_summary_of_the_1d_experiments(capsys, model, g_total):
    assert cli.main(["summary", model]) == 0
    out = capsys.readouterr().out
    assert f"Total params: {g_total:,}" in out and "Total params: 1,153" in out  # gaussian-1d-discriminator


def test_summary_pair_takes_latent_dim(capsys):
    assert cli.main(["summary", "mlp-gan", "--latent-dim", "100"]) == 0
    assert f"Total params: {574_608 + 68 * 128:,}" in capsys.readouterr().out


def test_summary_typo_suggests_and_lists_both_families(capsys):
    err = one_line_error(capsys, ["summary", "mlp-gam"], "unknown model 'mlp-gam' (did you mean mlp-gan?)")
    for name in ("mlp-gan", "dcgan", "cgan", "ring-2d", "mlp-generator", "dcgan-discriminator"):
        assert name in err
    one_line_error(capsys, ["summary", "dcgan-generater"], "did you mean dcgan-generator?")
    one_line_error(capsys, ["summary", "zzzz"], "unknown model 'zzzz'; GAN pairs")


# ----------------------------------------------------------------------------
# 6. Downloads: quiet, and one try when there is no network at all
# ----------------------------------------------------------------------------
def _fail_with(monkeypatch, error: Exception) -> list[str]:
    """Every download raises ``error``; returns the list of URLs asked for."""
    from minigan.data import mnist

    asked: list[str] = []

    def fetch(url: str, folder, timeout: float):
        asked.append(url)
        raise error

    monkeypatch.setattr(mnist, "_fetch", fetch)
    return asked


MIRRORS = ["https://a.example/mnist/", "https://b.example/mnist/", "https://c.example/mnist/"]


def test_no_network_stops_after_the_first_mirror(tmp_path, monkeypatch, caplog):
    import socket

    import requests

    from minigan.data import mnist

    asked = _fail_with(monkeypatch, requests.ConnectionError(socket.gaierror(-2, "Name or service not known")))
    with caplog.at_level("WARNING", logger="minigan.data"), pytest.raises(mnist.MNISTNotFound) as info:
        mnist.fetch_mnist("train", cache_dir=tmp_path, mirrors=MIRRORS, data_dir=tmp_path)
    assert asked == [MIRRORS[0] + "train-images-idx3-ubyte.gz"]
    assert info.value.offline and len(info.value.attempts) == 1
    assert "no network" in info.value.attempts[0] and "other 2 mirror(s) not tried" in info.value.attempts[0]
    assert info.value.summary().endswith("and no network to download it")
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1 and "no network" in failures[0]


@pytest.mark.parametrize("kind", ["http-404", "refused"])
def test_a_server_side_failure_still_tries_every_mirror(tmp_path, monkeypatch, kind):
    import requests

    from minigan.data import mnist

    error = (
        requests.HTTPError("404 Client Error: Not Found")
        if kind == "http-404"
        else requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))  # that one server
    )
    asked = _fail_with(monkeypatch, error)
    with pytest.raises(mnist.MNISTNotFound) as info:
        mnist.fetch_mnist("train", cache_dir=tmp_path, mirrors=MIRRORS, data_dir=tmp_path)
    assert len(asked) == 3 and len(info.value.attempts) == 3 and not info.value.offline


def _offline_auto_train(tmp_path, monkeypatch, *flags: str) -> int:
    import socket

    import requests

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    _fail_with(monkeypatch, requests.ConnectionError(socket.gaierror(-3, "Temporary failure in name resolution")))
    argv = ["train", "--dataset", "auto", "--limit", "64", "--batch-size", "16", "--steps", "1", *flags]
    return cli.main([*argv, "--sample-every", "0", "--out", str(tmp_path / "run")])


def test_quiet_hides_the_download_lines(tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO")
    assert _offline_auto_train(tmp_path, monkeypatch, "--quiet") == 0
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "downloading" in m or "failed" in m], messages
    # the substitution itself is still announced (once): who asked for MNIST must notice
    assert [m for m in messages if "using the built-in glyph digits" in m and "no network" in m]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["dataset"] == "glyphs"


def test_without_quiet_one_download_line_and_one_failure(tmp_path, monkeypatch, caplog, capsys):
    import logging

    caplog.set_level("INFO")
    assert _offline_auto_train(tmp_path, monkeypatch) == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if m.startswith("downloading")]) == 1, messages
    assert len([m for m in messages if "failed: no network" in m]) == 1, messages
    assert logging.getLogger("minigan.data.download").level == logging.NOTSET  # --quiet's level did not stick


def test_the_header_comes_before_the_progress_bar(tmp_path, monkeypatch):
    """On a terminal the bar is drawn on stderr without a newline: a header printed after its
    creation would land on the bar's line."""
    import tqdm

    events: list[str] = []

    class Terminal:
        def write(self, text: str) -> int:
            if text.strip():
                events.append("stdout: " + text.strip())
            return len(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return True

    class Bar:
        def __init__(self, *args, **kwargs) -> None:
            events.append("bar")

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    monkeypatch.setattr(sys, "stdout", Terminal())
    argv = ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--steps", "2"]
    assert cli.main(["train", *argv, "--out", str(tmp_path / "run")]) == 0
    header = next(i for i, e in enumerate(events) if e.startswith("stdout: training mlp-gan"))
    assert header < events.index("bar"), events


# ----------------------------------------------------------------------------
# 7. The README: Python version, virtual environment, and the script behind its picture
# ----------------------------------------------------------------------------
def test_readme_quickstart_starts_with_a_venv():
    readme = (REPO / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") :]
    venv = quickstart.index("python3 -m venv .venv && . .venv/bin/activate")
    assert "Python >= 3.11" in quickstart[:venv]
    # the two quickstart commands, unchanged, after it
    assert venv < quickstart.index("pip install -e . && minigan train --out runs/quickstart")
    assert venv < quickstart.index("pip install -e '.[test]' && pytest -m \"not slow\"")
    assert "python_requires = >=3.11" in (REPO / "setup.cfg").read_text()  # what the README says


def test_make_readme_grid_runs_the_quickstart_command(tmp_path):
    """The script with a 2-step override (the real run takes minutes): it copies the last grid."""
    script = REPO / "docs" / "make_readme_grid.py"
    source = script.read_text()
    assert '["minigan", "train", "--out", "runs/quickstart"]' in source  # the README's command
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("MINIGAN_DATA", None)
    out, dest = tmp_path / "quickstart", tmp_path / "grid.png"
    argv = ["--steps", "2", "--out", str(out), "--dest", str(dest), "--", "--no-download", "--limit", "256"]
    r = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"running: minigan train --out {out} --steps 2 --no-download --limit 256" in r.stdout
    assert dest.read_bytes() == (out / "samples_0002.png").read_bytes()
    # a second run into the same folder fails as the CLI says, and leaves the picture alone
    dest.write_bytes(b"old")
    r = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "already holds a checkpoint" in r.stderr and dest.read_bytes() == b"old"
