"""Reliability (issue 9): bad input, numerical blow-ups, interrupted training, untrusted files.

Already covered elsewhere and not repeated here: pickle-bearing and tampered checkpoints,
strict / non-strict checkpoint loading (tests/test_checkpoint.py), corrupt IDX files and
SHA-256 verification of downloads (tests/test_mnist.py), layer shape errors of every layer
(tests/test_nn_layers.py). The fuzz tests are in tests/test_fuzz.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigan
import minigan.functions as F
from minigan import backend as B
from minigan import checkpoint, cli, nn
from minigan.data import DataLoader
from minigan.gan.run import TrainConfig, TrainingRun
from minigan.gan.trainer import GANTrainer, TrainingDiverged
from minigan.optim import SGD, Adam, RMSprop

STRICT = B.get_backend().name == "strict"


def _mlp(sizes, seed=0):
    rng = minigan.Generator(seed)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Dense(a, b, rng=rng), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers[:-1])


def _trainer(g_sizes=(4, 8, 2), d_sizes=(2, 8, 1), data=None, **kw):
    G, D = _mlp(g_sizes, 1), _mlp(d_sizes, 2)
    data = data or (lambda n, rng: rng.normal((n, 2)))
    return GANTrainer(
        G, D, Adam(G.parameters(), lr=1e-3), Adam(D.parameters(), lr=1e-3), data, latent_dim=g_sizes[0],
        batch_size=8, n_fixed=4, **kw,
    )  # fmt: skip


# ----------------------------------------------------------------------------
# 1. Clear errors for bad input
# ----------------------------------------------------------------------------
def test_wrong_channel_count_names_layer_expected_and_received():
    conv = nn.Conv2D(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2D\(3, 4.*expected input of shape \(N, 3, H, W\), got \(2, 1, 8, 8\)"):
        conv(minigan.tensor(np.zeros((2, 1, 8, 8))))
    with pytest.raises(ValueError, match=r"Dense\(4 -> 3\).*\(N, 4\).*got \(2, 5\)"):
        nn.Dense(4, 3)(minigan.tensor(np.zeros((2, 5))))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: nn.Dense(3, 2), (2, 3)),
        (lambda: nn.Conv2D(1, 2, 3), (2, 1, 5, 5)),
        (lambda: nn.Conv2DTranspose(1, 2, 3), (2, 1, 5, 5)),
        (lambda: nn.BatchNorm(3), (2, 3)),
    ],
)
def test_dtype_mismatch_names_layer_and_both_dtypes(layer, shape):
    m = layer()  # float32 weights
    x = minigan.tensor(np.ones(shape), dtype="float64")
    with pytest.raises(TypeError, match=r"input dtype float64 does not match the layer's weights \(float32\); convert"):
        m(x)
    m(minigan.tensor(np.ones(shape)))  # the default dtype is fine


def test_integer_input_to_a_dense_layer_is_refused():
    with pytest.raises(TypeError, match=r"Dense\(3 -> 2\): input dtype int64"):
        nn.Dense(3, 2)(minigan.tensor(np.ones((2, 3), dtype="int64")))


def _other_backend():
    return "numpy" if STRICT else "strict"


def test_mixing_tensors_of_two_backends_names_both():
    a = minigan.tensor([1.0, 2.0])
    with minigan.use_backend(_other_backend()):
        b = minigan.tensor([1.0, 2.0])
    for x, y in ((a, b), (b, a)):
        message = r"mixes tensors of the '(numpy|strict|cupy)' and '(numpy|strict|cupy)'"
        with pytest.raises(minigan.autograd.MixedBackendsError, match=message):
            x + y
    c = minigan.tensor([[1.0, 2.0]])
    with minigan.use_backend(_other_backend()):
        d = minigan.tensor([[1.0], [2.0]])
    with pytest.raises(minigan.BackendError, match=r"(numpy|cupy).*strict|strict.*(numpy|cupy)"):
        F.matmul(c, d)
    assert (a + 1.0).shape == (2,)  # constants are not tensors of another backend


def test_layer_fed_a_tensor_of_another_backend_says_what_to_do():
    layer = nn.Dense(2, 3)
    with minigan.use_backend(_other_backend()):
        x = minigan.tensor([[1.0, 2.0]])
    with pytest.raises(minigan.BackendError, match=r"Dense\(2 -> 3\).*backend.*model.to"):
        layer(x)


def test_generator_discriminator_pair_that_does_not_fit_is_caught_at_construction():
    with pytest.raises(
        ValueError, match=r"generator's output of shape \(8, 3\) does not fit the discriminator.*\(N, 2\)"
    ):
        _trainer(g_sizes=(4, 8, 3), d_sizes=(2, 8, 1))
    with pytest.raises(ValueError, match=r"does not accept noise z of shape \(8, 5\).*latent_dim"):
        G, D = _mlp((4, 2)), _mlp((2, 1))
        GANTrainer(G, D, Adam(G.parameters()), Adam(D.parameters()), lambda n, r: r.normal((n, 2)), latent_dim=5,
                   batch_size=8)  # fmt: skip
    with pytest.raises(ValueError, match=r"one score per sample, shape \(8, 1\).*gave shape \(8, 3\)"):
        _trainer(g_sizes=(4, 8, 2), d_sizes=(2, 8, 3))


def test_real_data_of_another_shape_than_the_generator_output_is_caught():
    loader = DataLoader(np.zeros((32, 3), dtype="float32"), batch_size=8, seed=0)
    with pytest.raises(ValueError, match=r"samples of shape \(2,\) but the real data has shape \(3,\)"):
        _trainer(data=loader)


def test_model_check_at_construction_changes_nothing():
    """Trainers with and without the construction check train identically (no stream, no buffer touched)."""

    def make(check):
        rng = minigan.Generator(3)
        G = nn.Sequential(nn.Dense(4, 8, rng=rng), nn.BatchNorm(8), nn.ReLU(), nn.Dense(8, 2, rng=rng))
        D = nn.Sequential(nn.Dense(2, 8, rng=rng), nn.Dropout(0.3, rng=rng), nn.LeakyReLU(), nn.Dense(8, 1, rng=rng))
        D[1].eval()  # a layer left in another mode than its parent keeps it
        t = GANTrainer(G, D, Adam(G.parameters()), Adam(D.parameters()), lambda n, r: r.normal((n, 2)),
                       latent_dim=4, batch_size=8, check_models=check)  # fmt: skip
        assert D[1].training is False and D.training is True
        return t

    a, b = make(True), make(False)
    for _ in range(2):
        assert a.train_step() == b.train_step()


def test_conditional_labels_out_of_range():
    emb = nn.Embedding(10, 4)
    for bad in ([10], [-1], [3, 12]):
        with pytest.raises(ValueError, match=r"Embedding\(10, 4\): labels must be in \[0, 10\)"):
            with minigan.detect_anomaly() if not B.get_backend().on_host else contextlib.nullcontext():
                emb(minigan.tensor(np.array(bad, dtype="int64")))  # (on a device: checked in anomaly mode)


def test_nan_or_inf_in_loader_data_is_refused_with_the_index():
    x = np.zeros((10, 3), dtype="float32")
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 of 10 examples \(first at index 7\).*nan_to_num"):
        DataLoader(x, batch_size=2)
    x[7, 1], x[2, 0] = 0.0, np.inf
    with pytest.raises(ValueError, match="first at index 2"):
        DataLoader(x, batch_size=2)


def test_trainer_with_stop_on_nan_refuses_a_non_finite_real_batch():
    def data(n, rng):
        x = B.to_numpy(rng.normal((n, 2))).copy()
        x[0, 0] = np.nan
        return x

    t = _trainer(data=data, stop_on_nan=True)
    before = t.D.state_dict()
    with pytest.raises(TrainingDiverged, match="real batch of step 1 contains NaN or Inf.*data is bad"):
        t.train_step()
    for k, v in t.D.state_dict().items():
        assert np.array_equal(v, before[k])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: Adam(p, lr=0.0), r"Adam needs a finite learning rate lr > 0, got 0.0"),
        (lambda p: Adam(p, lr=-1e-3), "lr > 0"),
        (lambda p: Adam(p, lr=float("nan")), "lr > 0"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"betas in \[0, 1\).*\(0.5, 0.999\)"),
        (lambda p: Adam(p, betas=(0.5, -0.1)), r"betas in \[0, 1\)"),
        (lambda p: SGD(p, lr=0), "SGD needs a finite learning rate lr > 0"),
        (lambda p: RMSprop(p, lr=float("inf")), "RMSprop needs a finite learning rate"),
    ],
)
def test_invalid_optimizer_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(nn.Dense(2, 2).parameters())


def test_invalid_batch_sizes():
    with pytest.raises(ValueError, match=r"batch_size=20 is larger than the data set \(10 examples\); use"):
        DataLoader(np.zeros((10, 2)), batch_size=20)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        GANTrainer(*_pair_and_opts(), lambda n, r: r.normal((n, 2)), batch_size=0)


def _pair_and_opts():
    G, D = _mlp((100, 2)), _mlp((2, 1))
    return G, D, Adam(G.parameters()), Adam(D.parameters())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "no-such-model"], "unknown model 'no-such-model'; GAN pairs (as in train --model): mlp-gan"),
        (["train", "--model", "no-such"], "invalid choice: 'no-such'"),
        (["train", "--loss", "no-such"], "invalid choice: 'no-such'"),
        (["train", "--dataset", "no-such"], "invalid choice: 'no-such'"),
        (["train", "--backend", "no-such"], "invalid choice: 'no-such'"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_cli_unknown_names_are_one_line_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err


# ----------------------------------------------------------------------------
# 2. Numerical safety
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_sigmoid_and_bce_are_finite_at_extreme_logits(dtype):
    z = minigan.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype, requires_grad=True)
    ls = F.log_sigmoid(z)
    np.testing.assert_allclose(ls.numpy(), [-1e4, -100.0, -math.log(2.0), 0.0, 0.0], rtol=1e-6, atol=1e-30)
    ls.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [1.0, 1.0, 0.5, 0.0, 0.0], atol=1e-30)
    for target in (0.0, 1.0):
        z.grad = None
        y = minigan.tensor(np.full(5, target), dtype=dtype)
        loss = F.binary_cross_entropy_with_logits(z, y)
        assert np.isfinite(loss.numpy()).all()
        loss.backward()
        assert np.isfinite(z.grad.numpy()).all()


class _LogLayer(nn.Module):
    def forward(self, x):
        return F.log(x)


class _SqrtLayer(nn.Module):
    def forward(self, x):
        return F.sqrt(x)


def test_detect_anomaly_names_the_operation_and_layer_in_the_forward_pass():
    model = nn.Sequential(nn.Dense(2, 3), _LogLayer(), nn.Dense(3, 1))
    x = minigan.tensor([[1.0, -2.0], [0.5, 3.0]])
    assert np.isnan(model(x).numpy()).any()  # off: NaN propagates silently
    with minigan.detect_anomaly():
        assert minigan.is_anomaly_enabled()
        with pytest.raises(minigan.AnomalyError, match=r"Log\.forward produced \d+ NaN.*in layer '1' of Sequential"):
            model(x)
    assert not minigan.is_anomaly_enabled()
    assert np.isnan(model(x).numpy()).any()


def test_detect_anomaly_names_the_operation_in_the_backward_pass():
    inner = nn.Sequential(nn.Dense(2, 2), _SqrtLayer())
    model = nn.Sequential(nn.ReLU(), inner)
    w = inner[0].weight
    w.data = B.asarray(np.zeros((2, 2)))  # sqrt(0) = 0 is finite; its derivative is not
    x = minigan.tensor([[1.0, 2.0]])
    with minigan.detect_anomaly():
        y = model(x).sum()
        with pytest.raises(
            minigan.AnomalyError, match=r"Sqrt\.backward (\(in its Div\) )?produced 2 Inf values.*layer '1\.1'"
        ):
            y.backward()


def test_detect_anomaly_is_scoped_and_restored_after_an_error():
    with pytest.raises(minigan.AnomalyError):
        with minigan.detect_anomaly():
            F.log(minigan.tensor([-1.0]))
    assert not minigan.is_anomaly_enabled()
    from minigan import anomaly

    assert anomaly.module_stack == []


def test_stop_on_nan_stops_before_the_bad_update_and_names_the_network():
    t = _trainer(stop_on_nan=True)
    t.train(2)
    # D diverges: an infinite weight makes D's loss non-finite at step 3.
    w = t.D[0].weight
    w.data = B.asarray(np.where(np.arange(16).reshape(8, 2) == 0, np.inf, B.to_numpy(w.data)).astype("float32"))
    d_before, g_before = t.D.state_dict(), t.G.state_dict()
    with pytest.raises(TrainingDiverged, match=r"diverged at step 3: the discriminator \(D\) (loss|grad_norm)") as e:
        t.train_step()
    assert (e.value.step, e.value.network) == (3, "D")
    for k, v in t.D.state_dict().items():
        assert np.array_equal(v, d_before[k], equal_nan=True), k
    for k, v in t.G.state_dict().items():
        assert np.array_equal(v, g_before[k]), k

    # G diverges: its loss goes NaN in the G phase.
    t = _trainer(stop_on_nan=True)
    g_loss = t.loss.g_loss
    t.loss = dataclasses.replace(t.loss, g_loss=lambda f, r=None: g_loss(f, r) * float("nan"))
    g_before = t.G.state_dict()
    with pytest.raises(TrainingDiverged, match=r"step 1: the generator \(G\) loss is nan.*detect_anomaly") as e:
        t.train_step()
    assert (e.value.step, e.value.network) == (1, "G")
    for k, v in t.G.state_dict().items():
        assert np.array_equal(v, g_before[k]), k


def test_without_stop_on_nan_divergence_is_only_recorded():
    t = _trainer()
    t.D[0].weight.data = B.asarray(np.full((8, 2), np.inf, dtype="float32"))
    record = t.train_step()
    assert not math.isfinite(record["d_loss"])


def _nan_generator_loss_from_step(monkeypatch, bad_step):
    """Make G's loss NaN from training step ``bad_step`` on (1-based), as a real blow-up would."""
    original = GANTrainer.generator_loss

    def generator_loss(self, *args, **kwargs):
        loss = original(self, *args, **kwargs)
        return loss * float("nan") if self.step + 1 >= bad_step else loss

    monkeypatch.setattr(GANTrainer, "generator_loss", generator_loss)


def test_diverged_run_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    _nan_generator_loss_from_step(monkeypatch, 4)
    run = TrainingRun(*_tiny_run_args(), stop_on_nan=True)
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(TrainingDiverged, match=r"step 4: the generator \(G\) loss is nan") as e:
        run.train(10, checkpoint_path=path, checkpoint_every=2)
    assert (e.value.step, e.value.network) == (4, "G")
    ckpt = checkpoint.read(path)
    assert ckpt.step == 2  # not overwritten at the divergence
    assert len(ckpt.extra["history"]) == 2


def test_cli_stop_on_nan_is_on_by_default_and_reports_step_network_and_checkpoint(tmp_path, capsys, monkeypatch):
    _nan_generator_loss_from_step(monkeypatch, 4)
    out = tmp_path / "run"
    base = ["train", "--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--quiet", "--sample-every", "0"]
    assert cli.main([*base, "--out", str(out), "--steps", "10", "--checkpoint-every", "1"]) == 3
    err = capsys.readouterr().err
    assert "training diverged at step 4: the generator (G) loss is nan" in err
    assert "last good checkpoint (step 3" in err and "Traceback" not in err
    assert checkpoint.read(out / "checkpoint.npz").step == 3
    # --no-stop-on-nan: the run goes on and records the NaN losses.
    out2 = tmp_path / "run2"
    assert cli.main([*base, "--out", str(out2), "--steps", "5", "--no-stop-on-nan"]) == 0
    history = checkpoint.read(out2 / "checkpoint.npz").extra["history"]
    assert math.isnan(history[-1]["g_loss"])


# ----------------------------------------------------------------------------
# 3. Interrupted training loses nothing
# ----------------------------------------------------------------------------
def _tiny_run_args(seed=0):
    from minigan.data import load_dataset

    ds = load_dataset("glyphs", n=64)
    config = TrainConfig.for_model("mlp-gan", batch_size=16, seed=seed)
    return config, DataLoader(ds.images.reshape(64, -1), batch_size=16, seed=seed, drop_last=True)


def _tiny_run(seed=0):
    return TrainingRun(*_tiny_run_args(seed))


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    def send_sigterm(run, record):
        if run.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # handled: the step finishes, a checkpoint is written

    path = tmp_path / "checkpoint.npz"
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        _tiny_run().train(5, on_step=send_sigterm, checkpoint_path=path)
    assert checkpoint.read(path).step == 2
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler was put back


def _weights(path):
    ckpt = checkpoint.read(path)
    return {f"{m}/{k}": v for m in ("G", "D") for k, v in ckpt.model_state(m).items()}


@pytest.mark.skipif(STRICT, reason="runs `minigan train` in subprocesses on numpy, where bitwise equality is promised")
def test_sigkill_at_a_random_point_then_resume_gives_bitwise_the_same_weights(tmp_path):
    steps = 24
    base = [sys.executable, "-m", "minigan", "train", "--dataset", "glyphs", "--limit", "256", "--batch-size", "32",
            "--checkpoint-every", "2", "--quiet", "--sample-every", "0", "--backend", "numpy"]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MINIGAN_BACKEND": "numpy"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run([*base, "--out", str(straight), "--steps", str(steps)], env=env, check=True, timeout=120)

    proc = subprocess.Popen([*base, "--out", str(killed), "--steps", str(steps)], env=env)
    try:
        ckpt = killed / "checkpoint.npz"
        deadline = time.monotonic() + 60
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.Random(os.getpid()).uniform(0.0, 0.5))  # somewhere in the middle of the run
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed: make it longer"
    killed_at = checkpoint.read(killed / "checkpoint.npz").step
    assert 2 <= killed_at < steps and killed_at % 2 == 0

    subprocess.run([*base, "--out", str(killed), "--steps", str(steps), "--resume"], env=env, check=True, timeout=120)
    a, b = _weights(straight / "checkpoint.npz"), _weights(killed / "checkpoint.npz")
    assert a.keys() == b.keys() and checkpoint.read(killed / "checkpoint.npz").step == steps
    for k in a:
        assert np.array_equal(a[k], b[k]), k
