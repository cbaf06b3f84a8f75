"""minigan.pretrained: export a run's generator, load it back, sample it from the CLI (.png and .npy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import cli, pretrained
from minigan.autograd import Tensor, no_grad
from minigan.gan import run as R

TINY = ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--quiet", "--sample-every", "0"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    """A folder of shipped generators: dcgan-fast (with its EMA) and cgan, each after 3 steps."""
    folder = tmp_path_factory.mktemp("weights")
    for model in ("dcgan-fast", "cgan"):
        run = tmp_path_factory.mktemp(model)
        assert cli.main(["train", "--model", model, "--steps", "3", *TINY, "--out", str(run)]) == 0
        scores = {"is": 1.0}
        pretrained.export(run / "checkpoint.npz", model, command=f"minigan train --model {model}", scores=scores,
                          folder=folder, seconds=1.5)  # fmt: skip
    return folder


def test_export_writes_the_generator_and_its_sidecar(shipped):
    assert pretrained.available(shipped) == ["cgan", "dcgan-fast"]
    facts = pretrained.info("dcgan-fast", shipped)
    assert facts["command"] == "minigan train --model dcgan-fast" and facts["steps"] == 3
    assert facts["seconds"] == 1.5 and facts["scores"] == {"is": 1.0} and facts["latent_dim"] == 64
    assert len(facts["sha256"]) == 64
    ckpt = minigan.checkpoint.read(shipped / "dcgan-fast.npz")
    assert ckpt.model_names() == ["G"]  # no D, no optimizer state: only what sampling needs


def test_load_gives_the_runs_sampling_generator(shipped, tmp_path):
    G = pretrained.load("dcgan-fast", shipped)
    assert not G.training
    z = Tensor(minigan.Generator(0).normal((4, 64)))
    with no_grad():
        x = minigan.to_numpy(G(z))
    assert x.shape == (4, 1, 28, 28) and np.all(np.abs(x) <= 1.0)
    # The same weights as the run's EMA of G (what `minigan sample --checkpoint` draws from).
    run_state = R.sampling_state(minigan.checkpoint.read(shipped / "dcgan-fast.npz"))
    for k, v in G.state_dict().items():
        np.testing.assert_array_equal(v, run_state[k])


def test_a_damaged_file_and_an_unknown_name_are_refused(shipped, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for f in shipped.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    data = bytearray((folder / "cgan.npz").read_bytes())
    data[-10] ^= 0xFF
    (folder / "cgan.npz").write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedError, match="SHA-256"):
        pretrained.load("cgan", folder)
    with pytest.raises(pretrained.PretrainedError, match="did you mean dcgan-fast"):
        pretrained.load("dcgan_fast", folder)


def test_sample_pretrained_writes_png_and_npy(shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "WEIGHTS", shipped)
    png = tmp_path / "s.png"
    assert cli.main(["sample", "--pretrained", "dcgan-fast", "-n", "8", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    npy = tmp_path / "s.npy"
    assert cli.main(["sample", "--pretrained", "dcgan-fast", "-n", "700", "--out", str(npy)]) == 0
    x = np.load(npy)
    assert x.shape == (700, 1, 28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.std() > 0
    # Drawn in batches of 500, the samples are those of one batch of 700: the noise is drawn at once.
    G = pretrained.load("dcgan-fast", shipped)
    whole = R.sample(G, 700, 64, minigan.Generator(0), batch_size=700)
    np.testing.assert_allclose(x, (whole + 1.0) / 2.0, atol=1e-6)
    labels = tmp_path / "sevens.npy"
    assert cli.main(["sample", "--pretrained", "cgan", "--label", "7", "-n", "5", "--out", str(labels)]) == 0
    assert np.load(labels).shape == (5, 1, 28, 28)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "-n", "4"], "give --checkpoint (a run's) or --pretrained"),
        (["sample", "--pretrained", "dcgan-fast", "--checkpoint", "x.npz"], "one of them"),
        (["sample", "--pretrained", "nope"], "--pretrained: no pretrained generator 'nope'"),
    ],
)
def test_sample_flags_are_checked_in_one_line(shipped, monkeypatch, capsys, argv, message):
    monkeypatch.setattr(pretrained, "WEIGHTS", shipped)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", pretrained.available())
def test_every_shipped_generator_loads_and_matches_its_sidecar(name):
    facts = pretrained.info(name)
    G = pretrained.load(name)  # checks the SHA-256
    assert facts["name"] == name and facts["command"].startswith(("minigan train", "python -m minigan train"))
    assert "scores" in facts and facts["steps"] > 0
    assert json.loads(json.dumps(facts)) == facts and G is not None
