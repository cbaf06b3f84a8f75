"""Keras-style summaries: the seed architectures' counts exactly, the table format, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import minigan.nn as nn
from minigan import cli, models

# (total, trainable, non-trainable) from the seed material (Keras model.summary() tables).
SEED_COUNTS = {
    "mlp-discriminator": (566_273, 566_273, 0),
    "mlp-generator": (574_608, 572_816, 1_792),
    "conv-discriminator": (93_825, 93_825, 0),
    "conv-generator": (260_737, 260_353, 384),
}
# Counted by hand from the layer sizes (see minigan/models.py).
OTHER_COUNTS = {
    # conv 1*64*9+64, conv 64*64*9+64, dense 64*7*7+1
    "dcgan-discriminator": (640 + 36_928 + 3_137, 640 + 36_928 + 3_137, 0),
    # dense 100*6272+6272, 2 x convT 128*128*16+128, conv 128*9+1
    "dcgan-generator": (633_472 + 2 * 262_272 + 1_153,) * 2 + (0,),
    "gaussian-1d-generator": (2, 2, 0),
    "gaussian-1d-discriminator": (64 + 1_056 + 33, 64 + 1_056 + 33, 0),
}


@pytest.mark.parametrize("name", list(SEED_COUNTS) + list(OTHER_COUNTS))
def test_model_totals_exact(name):
    s = models.summarize(name)
    assert (s.total, s.trainable, s.non_trainable) == {**SEED_COUNTS, **OTHER_COUNTS}[name]
    table = str(s)
    total, trainable, non_trainable = {**SEED_COUNTS, **OTHER_COUNTS}[name]
    assert f"Total params: {total:,}\n" in table
    assert f"Trainable params: {trainable:,}\n" in table
    assert f"Non-trainable params: {non_trainable:,}\n" in table


def test_table_rows_names_shapes_and_counts():
    s = models.summarize("conv-generator")
    rows = [(r.name, r.type, r.output_shape, r.trainable, r.non_trainable) for r in s.rows]
    assert rows[:5] == [
        ("dense", "Dense", (None, 1152), 32 * 1152 + 1152, 0),
        ("leaky_re_lu", "LeakyReLU", (None, 1152), 0, 0),
        ("reshape", "Reshape", (None, 128, 3, 3), 0, 0),
        ("conv2d_transpose", "Conv2DTranspose", (None, 128, 7, 7), 128 * 128 * 9 + 128, 0),
        ("batch_norm", "BatchNorm", (None, 128, 7, 7), 256, 256),
    ]
    assert rows[6][:3] == ("conv2d_transpose_1", "Conv2DTranspose", (None, 64, 14, 14))
    assert rows[-1][:3] == ("tanh", "Tanh", (None, 1, 28, 28))
    table = str(s)
    assert table.startswith('Model: "conv-generator"\n')
    assert " conv2d_transpose_1 (Conv2DTranspose)  (None, 64, 14, 14)" in table
    assert "73,792" in table


def test_discriminator_summary_notes_logits():
    assert "logits" in str(models.summarize("conv-discriminator")).splitlines()[-1]
    assert "logits" not in str(models.summarize("conv-generator"))


def test_summary_has_no_side_effects():
    G = models.build("mlp-generator")
    G.train()
    before = {k: v.tobytes() for k, v in G.state_dict().items()}
    D = models.build("conv-discriminator")
    D[7].eval()  # a mixed state must be restored as it was
    rng_state = D[7].rng.get_state()
    G.summarize((32,))
    D.summarize((1, 28, 28))
    assert all(m.training for _, m in G.named_modules())
    assert [m.training for _, m in D.named_modules()] == [True] * 8 + [False] + [True]
    assert {k: v.tobytes() for k, v in G.state_dict().items()} == before
    assert D[7].rng.get_state() == rng_state


def test_frozen_parameters_count_as_non_trainable():
    model = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm(4), nn.Dense(4, 2))
    model[0].requires_grad_(False)
    s = model.summarize((3,))
    assert (s.total, s.trainable, s.non_trainable) == (16 + 16 + 10, 8 + 10, 16 + 8)


def test_nested_sequentials_are_flattened_and_other_modules_are_one_row():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(2, 3)
            self.b = nn.Dense(3, 2)

        def forward(self, x):
            return self.b(self.a(x))

    model = nn.Sequential(nn.Sequential(nn.Dense(2, 2), nn.ReLU()), Block())
    s = model.summarize((2,))
    assert [(r.name, r.params) for r in s.rows] == [("dense", 6), ("re_lu", 0), ("block", 9 + 8)]


def test_summary_prints(capsys):
    nn.Sequential(nn.Dense(4, 1)).summary((4,), name="tiny")
    out = capsys.readouterr().out
    assert 'Model: "tiny"' in out and "dense (Dense)" in out and "Total params: 5" in out


def test_summary_with_wrong_input_shape_names_the_layer():
    with pytest.raises(ValueError, match=r"Dense\(784 -> 512\).*got \(2, 100\)"):
        models.build("mlp-discriminator").summarize((100,))


def test_summary_of_label_inputs():
    s = nn.Sequential(nn.Embedding(10, 4), nn.Flatten()).summarize((3,), dtype="int64")
    assert s.rows[0].output_shape == (None, 3, 4) and s.total == 40


# ----------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SEED_COUNTS) + list(OTHER_COUNTS))
def test_cli_summary_prints_the_seed_totals(capsys, name):
    """`minigan summary NAME` for the seed pairs, the DCGAN pair and the 1-D models."""
    assert cli.main(["summary", name]) == 0
    out = capsys.readouterr().out
    total, trainable, non_trainable = {**SEED_COUNTS, **OTHER_COUNTS}[name]
    assert f"Total params: {total:,}" in out
    assert f"Trainable params: {trainable:,}" in out
    assert f"Non-trainable params: {non_trainable:,}" in out


def test_cli_list_and_options(capsys):
    assert cli.main(["summary", "--list"]) == 0
    listing = capsys.readouterr().out
    from minigan.gan.run import MODEL_NAMES

    # the single networks, then the GAN pairs `minigan train --model` takes
    assert [line.split()[0] for line in listing.splitlines()] == [*models.names(), *MODEL_NAMES]
    assert cli.main(["summary", "conv-generator", "--latent-dim", "100"]) == 0
    assert f"Total params: {260_737 + 68 * 1152:,}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "nope"], "unknown model 'nope'"),
        (["summary"], "needs a model NAME"),
        (["summary", "mlp-discriminator", "--latent-dim", "3"], "applies to generators"),
        (["summary", "mlp-generator", "--latent-dim", "0"], "must be >= 1"),
    ],
)
def test_cli_misuse_is_one_line_and_status_2(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("minigan: error: ") and message in err and err.count("\n") == 1


def test_cli_as_a_subprocess():
    env = dict(os.environ)
    r = subprocess.run(
        [sys.executable, "-m", "minigan", "summary", "mlp-generator"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "Total params: 574,608" in r.stdout
    assert "Trainable params: 572,816" in r.stdout
    assert "Non-trainable params: 1,792" in r.stdout
    r = subprocess.run([sys.executable, "-m", "minigan", "summary", "nope"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "unknown model" in r.stderr
    r = subprocess.run([sys.executable, "-m", "minigan", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "summary" in r.stdout
