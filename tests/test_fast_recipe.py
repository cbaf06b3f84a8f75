"""The fast MNIST recipe's parts: the EMA of G (arithmetic, on-device updates, checkpoints, sampling),
two learning rates, R1 and DiffAugment from a TrainConfig, and `minigan train --model dcgan-fast`.

Runs are tiny (64 glyph digits or random images, batches of 8-16, a few steps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import host

import minigan.nn as nn
from minigan import backend as B
from minigan import checkpoint, cli, models
from minigan.data import DataLoader
from minigan.gan.ema import EMA
from minigan.gan.run import GAN_MODELS, TrainConfig, TrainingRun, sampling_state

TINY = ["--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--quiet"]


# ----------------------------------------------------------------------------
# EMA
# ----------------------------------------------------------------------------
def test_ema_is_an_exponential_moving_average_with_warmup():
    G = nn.Sequential(nn.Dense(2, 3, rng=0), nn.BatchNorm(3))
    ema = EMA(G, beta=0.9)
    expected = [host(p).copy() for p in G.parameters()]
    for t in range(30):
        for p in G.parameters():
            p.data = p.data + 1.0  # a "training step"
        G[1].running_mean.data = G[1].running_mean.data + 2.0
        beta = min(0.9, (1 + t) / (10 + t))
        assert ema.decay() == beta
        ema.update()
        expected = [beta * e + (1 - beta) * host(p) for e, p in zip(expected, G.parameters())]
    for e, p in zip(expected, ema.average.parameters()):
        np.testing.assert_allclose(host(p), e, rtol=1e-5)
    # Buffers are copied, not averaged; the live module is untouched by the average.
    np.testing.assert_array_equal(host(ema.average[1].running_mean), host(G[1].running_mean))
    assert ema.updates == 30 and not ema.average.training
    assert all(not p.requires_grad for p in ema.average.parameters())


def test_ema_without_warmup_and_bad_beta():
    G = nn.Dense(2, 2, rng=0)
    ema = EMA(G, beta=0.5, warmup=False)
    w0 = host(G.weight).copy()
    G.weight.data = G.weight.data * 0.0
    ema.update()
    np.testing.assert_allclose(host(ema.average.weight), 0.5 * w0, rtol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        EMA(G, beta=1.0)


def test_ema_update_reads_nothing_back():
    G = nn.Sequential(nn.Dense(4, 8, rng=0), nn.BatchNorm(8), nn.Dense(8, 2, rng=1))
    ema = EMA(G, beta=0.99)
    with B.count_transfers() as moved:
        for _ in range(5):
            ema.update()
    assert (moved.to_host, moved.to_device) == (0, 0)


# ----------------------------------------------------------------------------
# The recipe in a TrainingRun
# ----------------------------------------------------------------------------
def _images(n: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1.0, 1.0, size=(n, 1, 28, 28)).astype("float32")


def _fast_run(seed: int = 0, **overrides) -> TrainingRun:
    config = TrainConfig.for_model("dcgan-fast", batch_size=8, seed=seed, **overrides)
    return TrainingRun(config, DataLoader(_images(), batch_size=8, seed=seed, drop_last=True))


def test_dcgan_fast_is_registered_with_its_recipe():
    spec = GAN_MODELS["dcgan-fast"]
    config = TrainConfig.for_model("dcgan-fast")
    assert config.ema > 0 and config.loss == "hinge" and config.batch_size == 32 and config.lr == 5e-4
    assert config.g_lr is None and config.d_lr is None and config.augment == ""  # --lr sets both
    D = models.build(spec.discriminator, rng=0)
    assert sum(isinstance(m, nn.SpectralNorm) for _, m in D.named_modules()) == 3
    plain = models.build(spec.discriminator, rng=0, spectral_norm=False)
    assert not any(isinstance(m, nn.SpectralNorm) for _, m in plain.named_modules())
    assert models.info(spec.generator).latent_dim == 64


def test_two_learning_rates_r1_and_augment_reach_the_trainer():
    run = _fast_run(g_lr=1e-4, d_lr=4e-4, r1_gamma=0.5, augment="color,cutout")
    assert run.g_opt.lr == 1e-4 and run.d_opt.lr == 4e-4
    assert run.trainer.r1_gamma == 0.5 and run.trainer.augment.policy == ["color", "cutout"]
    run.train(1)
    assert "r1" in run.trainer.history[0]
    off = _fast_run(ema=0.0, augment="")
    assert off.ema is None and off.trainer.augment is None and off.sampler is off.G


def test_checkpoint_holds_the_ema_and_resumes_bitwise(tmp_path):
    """With augmentation on, so that its random stream is saved and restored too."""
    straight = _fast_run(augment="color,translation,cutout")
    straight.train(4)
    path = tmp_path / "checkpoint.npz"
    first = _fast_run(augment="color,translation,cutout")
    first.train(2, checkpoint_path=path)
    second = _fast_run(augment="color,translation,cutout")
    second.restore(path)
    assert second.ema.updates == 2
    second.train(4)
    for a, b in ((straight.G, second.G), (straight.D, second.D), (straight.ema.average, second.ema.average)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            np.testing.assert_array_equal(x, y, err_msg=name)
    second.save(path)
    ckpt = checkpoint.read(path)
    assert "G_ema" in ckpt.model_names()
    state = sampling_state(ckpt)
    for name, x in second.ema.average.state_dict().items():
        np.testing.assert_array_equal(state[name], x)
    # The progress images come from the average.
    assert not np.array_equal(second.sample_fixed(), host(second.trainer.sample_fixed()))


# ----------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------
def test_cli_trains_dcgan_fast_and_samples_from_the_ema(tmp_path):
    out = tmp_path / "fast"
    assert cli.main(["train", *TINY, "--model", "dcgan-fast", "--steps", "2", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["ema"] == 0.999 and config["augment"] == "" and config["model"] == "dcgan-fast"
    assert "G_ema" in checkpoint.read(out / "checkpoint.npz").model_names()
    ckpt = str(out / "checkpoint.npz")
    assert cli.main(["sample", "--checkpoint", ckpt, "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    # A resumed run keeps its recipe: a different flag is refused with one line.
    resume = ["--steps", "3", "--out", str(out), "--resume", "--ema", "0.9"]
    assert cli.main(["train", *TINY, "--model", "dcgan-fast", *resume]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ema", "1.5"], "--ema must be in [0, 1)"),
        (["--r1-gamma", "-1"], "--r1-gamma must be >= 0"),
        (["--augment", "flip"], "--augment: DiffAugment policy"),
        (["--model", "ring-2d", "--augment", "cutout"], "--augment applies to the image models"),
    ],
)
def test_cli_refuses_bad_recipe_flags(tmp_path, capsys, argv, message):
    assert cli.main(["train", "--quiet", "--out", str(tmp_path / "x"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_augment_none_turns_it_off(tmp_path):
    out = tmp_path / "plain"
    assert cli.main(["train", *TINY, "--model", "dcgan-fast", "--steps", "1", "--augment", "cutout", "--ema", "0",
                     "--out", str(out / "a")]) == 0  # fmt: skip
    assert json.loads((out / "a" / "config.json").read_text())["augment"] == "cutout"
    assert cli.main(["train", *TINY, "--model", "dcgan-fast", "--steps", "1", "--augment", "none", "--ema", "0",
                     "--out", str(out)]) == 0  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["augment"] == "" and config["ema"] == 0.0
    assert "G_ema" not in checkpoint.read(out / "checkpoint.npz").model_names()
    assert Path(out / "metrics.json").exists()


# ----------------------------------------------------------------------------
# A wall-time budget
# ----------------------------------------------------------------------------
def test_deadline_ends_training_at_a_step_boundary(tmp_path):
    import time

    run = _fast_run()
    run.train(3, deadline=time.perf_counter() + 3600.0)  # far away: the target is reached
    assert run.step == 3 and not run.time_limited
    run.train(10, deadline=time.perf_counter(), checkpoint_path=tmp_path / "c.npz")  # already passed
    assert run.step == 3 and run.time_limited
    assert run.metrics()["stopped_by_time_limit"] and run.metrics()["target_steps"] == run.config.steps
    assert checkpoint.read(tmp_path / "c.npz").step == 3


def test_cli_max_minutes_stops_early_and_resume_continues(tmp_path, capsys):
    out = tmp_path / "budget"
    argv = ["train", *TINY[:-1], "--model", "dcgan-fast", "--steps", "2", "--out", str(out)]
    assert cli.main([*argv, "--max-minutes", "1e-9"]) == 0  # 60 ns: over before the first step
    assert "--max-minutes 1e-09 reached at step 0 of 2" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 0 and metrics["stopped_by_time_limit"]
    assert cli.main([*argv, "--resume", "--quiet"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 2
