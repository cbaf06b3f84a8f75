"""The command line's sharp edges (issue 22): unwritable outputs, evaluate's output file,
resuming to a step already reached, files that are not checkpoints, `summary` of a GAN pair,
quiet and offline downloads, the README's quickstart grid.

Each error must be one line on stderr, a non-zero status and no traceback, and must come
before any work (nothing written, nothing computed). Runs are tiny (64 glyph digits,
batches of 16, a few steps) so the file stays fast on two cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minigan import checkpoint, cli

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
