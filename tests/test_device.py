"""The host/device boundary: what a GPU needs of the code, checked on every backend.

On CuPy an array lives in GPU memory: NumPy cannot read it (``numpy.asarray`` raises), it may
not meet a host array in an operation, and every read-back (a loss for a progress bar) makes
Python wait for the GPU. The strict backend emulates exactly that on the CPU, so these tests,
run on it in CI, hold the code to what a GPU demands:

- the strict backend's arrays refuse implicit conversion, as CuPy's do;
- a training step moves nothing between host and device: losses, D outputs and gradient
  norms stay on the device and come back in one transfer when first read;
- the random numbers of a step are drawn on the device, with the same seeding rules;
- each backend-specific branch (thread splits, buffer sizes, ``out=``) runs here on purpose;
- a missing GPU is one clear line, with the fix.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minigan
import minigan.functions as F
from minigan import backend as B
from minigan import nn
from minigan.data import DataLoader
from minigan.gan.trainer import GANTrainer, StepRecord
from minigan.optim import Adam

RUNNING = B.get_backend().name
PACKAGE = pathlib.Path(minigan.__file__).parent


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


# ----------------------------------------------------------------------------
# The strict backend refuses what CuPy refuses
# ----------------------------------------------------------------------------
def test_numpy_asarray_of_a_strict_array_raises_in_a_fresh_process():
    code = "import numpy, minigan\nx = minigan.tensor([1.0, 2.0])\nnumpy.asarray(x.data)\n"
    r = run_python(code, MINIGAN_BACKEND="strict")
    assert r.returncode != 0
    assert "Can't convert array" in r.stderr and "NumPy array" in r.stderr, r.stderr


def test_strict_arrays_do_not_mix_with_host_arrays_and_come_back_only_through_to_host():
    with minigan.use_backend("strict"):
        x = B.to_device(np.arange(3.0))
        with pytest.raises(RuntimeError, match="NumPy array"):
            np.asarray(x)
        with pytest.raises(TypeError):
            float(x)  # not a 0-d array
        with pytest.raises((TypeError, ValueError)):
            x + np.ones(3)  # a host array in a device operation, as CuPy refuses it
        assert not B.get_backend().on_host
        np.testing.assert_array_equal(B.to_host(x), [0.0, 1.0, 2.0])
        # Arrays the namespace creates from sizes land on the same emulated device.
        assert (B.xp().zeros(3) + x).shape == (3,)


def test_no_package_code_relies_on_attributes_that_cupy_arrays_lack():
    """cupy.ndarray (14.x) has no ``__array_namespace__``, ``mT`` or ``to_device``; array-api-strict's
    arrays do, so the strict backend cannot catch their use: this reading of the source does."""
    lacking = {"__array_namespace__", "mT", "to_device", "__buffer__"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "backend.py":
            continue  # the one place that deals with each library's own arrays
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name) and node.value.id == "B"):
                name = node.attr  # (B.to_device is the backend's own function, not an array's method)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value  # hasattr(x, "__array_namespace__")
            if name in lacking:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    assert not found, "attributes CuPy arrays lack:\n" + "\n".join(found)


def test_is_array_recognises_the_active_backend_by_type():
    assert B.is_array(B.to_device([1.0]))
    assert not B.is_array(minigan.tensor([1.0]))  # a Tensor is not an array
    assert not B.is_array([1.0]) and not B.is_array(1.0)
    if not B.get_backend().on_host:
        assert not B.is_array(np.ones(2))  # host data is not a device array


# ----------------------------------------------------------------------------
# Counting transfers
# ----------------------------------------------------------------------------
def test_transfers_are_counted_at_the_two_doors():
    with B.count_transfers() as moved:
        x = B.to_device(np.ones(4, dtype=np.float32))
        y = x * 2.0
        assert moved.to_device == 1 and moved.to_host == 0
        assert float(B.to_host(y).sum()) == 8.0
        assert F.sum(minigan.Tensor(y)).item() == 8.0
    assert (moved.to_device, moved.to_host) == (1, 2)
    assert "to_host=2" in repr(moved)


def _images(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 1, 8, 8)).astype(np.float32)


def _trainer(loss: str = "ns", **kwargs) -> GANTrainer:
    """A small image GAN with BatchNorm in G and Dropout in D, fed by a data set kept on the device."""
    G = nn.Sequential(nn.Dense(8, 32, rng=1), nn.BatchNorm(32), nn.LeakyReLU(0.2), nn.Dense(32, 64, rng=2), nn.Tanh())
    G = nn.Sequential(G, nn.Reshape((1, 8, 8)))
    D = nn.Sequential(
        nn.Flatten(), nn.Dense(64, 32, rng=3), nn.LeakyReLU(0.2), nn.Dropout(0.3, rng=4), nn.Dense(32, 1, rng=5)
    )
    # 16 batches an epoch: the steps measured below stay inside the first epoch (a new epoch
    # uploads its order, one small transfer per epoch).
    loader = DataLoader(_images(256), batch_size=16, seed=0, drop_last=True, on_device=True)
    return GANTrainer(
        G, D, Adam(G.parameters(), lr=2e-4), Adam(D.parameters(), lr=2e-4), loader,
        loss=loss, latent_dim=8, batch_size=16, **kwargs,
    )  # fmt: skip


@pytest.fixture
def no_implicit_reads(monkeypatch):
    """On the strict backend, make float()/int()/bool() of an array on the emulated device raise:
    CuPy allows them but waits for the GPU, so inside a training step they are hidden syncs."""
    if RUNNING != "strict":
        yield
        return
    import array_api_strict

    Array = type(array_api_strict.asarray(0.0))
    device = B.xp().device
    for dunder in ("__float__", "__int__", "__bool__", "__index__", "__complex__"):
        original = getattr(Array, dunder)

        def guarded(self, _original=original, _name=dunder):
            if self.device == device:
                raise AssertionError(f"{_name} of a device array: an implicit read-back (a GPU sync)")
            return _original(self)

        monkeypatch.setattr(Array, dunder, guarded)
    yield


@pytest.mark.parametrize(
    "loss, kwargs",
    [
        ("ns", {}),
        ("wgan-gp", {"d_steps": 2, "instance_noise": 0.1}),
        ("hinge", {"r1_gamma": 1.0, "label_smoothing": 0.0}),
        ("wgan", {}),
    ],
)
def test_a_training_step_moves_nothing_between_host_and_device(loss, kwargs, no_implicit_reads):
    trainer = _trainer(loss, **kwargs)
    trainer.train_step()  # the first step puts the data set and the epoch's order on the device
    with B.count_transfers() as moved:
        records = [trainer.train_step() for _ in range(2)]
    assert (moved.to_host, moved.to_device) == (0, 0), moved
    # The numbers are still there, and come back in one transfer for all waiting records.
    assert all(isinstance(r, StepRecord) for r in records)
    with B.count_transfers() as moved:
        d_loss = records[-1]["d_loss"]
        first = dict(records[0])
    assert moved.to_host == 1
    assert isinstance(d_loss, float) and np.isfinite(d_loss)
    assert set(first) >= {"step", "d_loss", "g_loss", "d_real", "d_fake", "d_acc", "d_grad_norm", "g_grad_norm"}
    assert all(isinstance(v, (int, float)) for v in first.values())


def test_a_conditional_step_on_a_device_moves_nothing(no_implicit_reads):
    if B.get_backend().on_host:
        pytest.skip("on NumPy the Embedding layer checks its labels' range, a read-back that costs nothing there")

    class CondG(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.net = nn.Embedding(3, 4, rng=0), nn.Dense(12, 16, rng=1)

        def forward(self, z, y):
            return F.tanh(self.net(F.concat([z, self.emb(y)], axis=1)))

    class CondD(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.net = nn.Embedding(3, 4, rng=2), nn.Dense(20, 1, rng=3)

        def forward(self, x, y):
            return self.net(F.concat([x, self.emb(y)], axis=1))

    labels = np.arange(48) % 3
    loader = DataLoader(_images(48).reshape(48, 64)[:, :16], labels, batch_size=16, seed=0, on_device=True)
    G, D = CondG(), CondD()
    trainer = GANTrainer(
        G, D, Adam(G.parameters()), Adam(D.parameters()), loader, latent_dim=8, batch_size=16, num_classes=3
    )
    trainer.train_step()
    with B.count_transfers() as moved:
        trainer.train_step()
    assert (moved.to_host, moved.to_device) == (0, 0), moved


def test_a_mixture_data_source_step_moves_nothing(no_implicit_reads):
    from minigan.data import toy

    G = nn.Sequential(nn.Dense(2, 16, rng=1), nn.LeakyReLU(0.2), nn.Dense(16, 2, rng=2))
    D = nn.Sequential(nn.Dense(2, 16, rng=3), nn.LeakyReLU(0.2), nn.Dense(16, 1, rng=4))
    trainer = GANTrainer(G, D, Adam(G.parameters()), Adam(D.parameters()), toy.ring_2d(), latent_dim=2, batch_size=32)
    trainer.train_step()  # the mixture's means go to the device once
    with B.count_transfers() as moved:
        trainer.train_step()
    assert (moved.to_host, moved.to_device) == (0, 0), moved


def test_lazy_records_give_the_same_history_as_reading_every_step():
    eager, lazy = _trainer(), _trainer()
    read_each = [dict(eager.train_step()) for _ in range(3)]  # read back after every step
    for _ in range(3):
        lazy.train_step()
    assert [dict(r) for r in lazy.history] == read_each
    assert lazy.history[0] == read_each[0]  # a StepRecord compares equal to the plain dict


def test_records_wait_on_the_device_at_most_read_back_every_steps():
    trainer = _trainer()
    trainer.read_back_every = 2
    trainer.train_step()
    with B.count_transfers() as moved:
        trainer.train_step()  # the second waiting record: both come back, unasked
    assert moved.to_host == 1
    assert not trainer._waiting.records


def test_stop_on_nan_still_stops_before_the_bad_update():
    trainer = _trainer(stop_on_nan=True)
    trainer.train_step()
    w = trainer.D.parameters()[0]
    w.data = w.data * float("nan")
    before = [B.to_host(p.data).copy() for p in trainer.G.parameters()]
    with pytest.raises(minigan.gan.trainer.TrainingDiverged, match="discriminator"):
        trainer.train_step()
    for p, b in zip(trainer.G.parameters(), before):
        np.testing.assert_array_equal(B.to_host(p.data), b)


def test_deferred_stop_on_nan_checks_when_the_numbers_come_back(tmp_path):
    trainer = _trainer(stop_on_nan="deferred")
    trainer.train_step()
    w = trainer.D.parameters()[0]
    w.data = w.data * float("nan")
    with B.count_transfers() as moved:
        record = trainer.train_step()  # no read-back, so no check yet
    assert moved.to_host == 0
    with pytest.raises(minigan.gan.trainer.TrainingDiverged, match="step 2: the discriminator") as e:
        record["d_loss"]
    assert (e.value.step, e.value.network) == (2, "D")


def test_deferred_stop_on_nan_stops_before_a_checkpoint_is_written(tmp_path):
    from minigan.gan.run import TrainConfig, TrainingRun

    run = TrainingRun(TrainConfig(model="ring-2d", batch_size=32), toy_ring(), {}, stop_on_nan="deferred")
    path = tmp_path / "checkpoint.npz"
    run.train(2, checkpoint_path=path)
    saved = path.read_bytes()
    w = run.trainer.D.parameters()[0]
    w.data = w.data * float("nan")
    with pytest.raises(minigan.gan.trainer.TrainingDiverged, match="step 3"):
        run.train(4, checkpoint_path=path, checkpoint_every=1)
    assert path.read_bytes() == saved  # the last good checkpoint is kept


def toy_ring():
    from minigan.data import toy

    return toy.ring_2d()


def test_stop_on_nan_takes_true_false_or_deferred():
    with pytest.raises(ValueError, match="'deferred'"):
        _trainer(stop_on_nan="later")


# ----------------------------------------------------------------------------
# Random numbers on the device
# ----------------------------------------------------------------------------
def test_generator_draws_land_on_the_active_backend_without_a_counted_transfer():
    g = minigan.Generator(5)
    with B.count_transfers() as moved:
        draws = [g.normal((3,)), g.uniform((3,)), g.bernoulli((3,), 0.5), g.integers(0, 4, (3,))]
    assert (moved.to_host, moved.to_device) == (0, 0)
    assert all(B.is_array(d) for d in draws)
    assert B.to_host(draws[3]).dtype == np.int64


def test_generator_state_restores_the_same_device_draws():
    g = minigan.Generator(11)
    g.normal((2,))
    state = g.get_state()
    a = B.to_host(g.normal((4,)))
    g.set_state(state)
    np.testing.assert_array_equal(B.to_host(g.normal((4,))), a)


def test_initial_weights_are_drawn_on_the_host_and_equal_on_every_backend():
    g = minigan.Generator(3)
    assert isinstance(g.host_normal((2, 2)), np.ndarray) and isinstance(g.host_uniform((2,)), np.ndarray)
    with minigan.use_backend("numpy"):
        a = B.to_host(nn.Dense(3, 2, rng=7).weight.data)
    with minigan.use_backend("strict"):
        b = B.to_host(nn.Dense(3, 2, rng=7).weight.data)
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------
# Backend-specific branches, each run here on purpose
# ----------------------------------------------------------------------------
def test_column_buffer_is_cache_sized_on_the_host_and_large_on_a_device():
    with minigan.use_backend("numpy"):
        assert B.column_buffer_bytes() == B.COLUMN_BUFFER_BYTES
    with minigan.use_backend("strict"):
        assert B.column_buffer_bytes() == 1 << 30  # the GPU's setting: one large multiply


def test_split_batch_uses_threads_only_on_the_host(monkeypatch):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(B, "NUM_THREADS", 2)
    with minigan.use_backend("numpy"):
        B.split_batch(10, lambda lo, hi: calls.append((lo, hi)), work=1 << 21)
    assert sorted(calls) == [(0, 5), (5, 10)]  # the thread path: two chunks covering the batch
    calls.clear()
    with minigan.use_backend("strict"):
        B.split_batch(10, lambda lo, hi: calls.append((lo, hi)), work=1 << 21)
    assert calls == [(0, 10)]  # a device: one call
    calls.clear()
    with minigan.use_backend("numpy"):
        B.split_batch(10, lambda lo, hi: calls.append((lo, hi)), work=10)
    assert calls == [(0, 10)]  # too little work to pay for a thread


def test_maximum_into_writes_over_its_first_argument_where_the_library_can():
    with minigan.use_backend("numpy"):
        a = np.array([-1.0, 2.0])
        assert B.maximum_into(a, 0.0) is a and a.tolist() == [0.0, 2.0]
    with minigan.use_backend("strict"):
        a = B.to_device([-1.0, 2.0])
        out = B.maximum_into(a, 0.0)
        assert out is not a and B.to_host(out).tolist() == [0.0, 2.0]


def test_the_conv_kernels_agree_on_a_host_and_on_a_device():
    """The chunked host path (small buffers, threads) against the device path (one chunk)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3))

    def run(backend: str, buffer_bytes: int) -> list[np.ndarray]:
        with minigan.use_backend(backend), minigan.default_dtype("float64"):
            xt, wt = minigan.tensor(x, requires_grad=True), minigan.tensor(w, requires_grad=True)
            y = F.conv2d(xt, wt, stride=2, padding="same")
            F.sum(y * y).backward()
            return [B.to_host(a) for a in (y.data, xt.grad.data, wt.grad.data)]

    old = B.COLUMN_BUFFER_BYTES
    try:
        B.COLUMN_BUFFER_BYTES = 4096  # forces several chunks on the host
        host = run("numpy", 4096)
    finally:
        B.COLUMN_BUFFER_BYTES = old
    device = run("strict", 1 << 30)
    for a, b in zip(host, device):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------
# Without a GPU: one clear line
# ----------------------------------------------------------------------------
def test_the_cli_says_in_one_line_that_cupy_is_missing(tmp_path):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    cmd = [sys.executable, "-m", "minigan", "summary", "conv-generator"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MINIGAN_BACKEND": "cupy"}, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "minigan[gpu]" in lines[0] and "--backend numpy" in lines[0]
    cmd = [sys.executable, "-m", "minigan", "train", "--backend", "cupy", "--steps", "1", "--out", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "minigan[gpu-cuda13]" in r.stderr and "--backend numpy" in r.stderr


def test_gpu_extras_carry_version_floors():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(PACKAGE.parent / "setup.cfg")
    extras = cfg["options.extras_require"]
    floor = ".".join(map(str, B.CUPY_MIN_VERSION))
    assert extras["gpu"].strip() == f"cupy-cuda12x>={floor}"
    assert extras["gpu-cuda13"].strip() == f"cupy-cuda13x>={floor}"


def test_the_cupy_generator_branch_with_a_stand_in_for_curand(monkeypatch):
    """The CuPy branch of Generator (per-draw Philox keys from the host stream) cannot run without a
    GPU; here a stand-in ``cupy`` module with a NumPy Philox behind ``cupy.random.RandomState``
    forces it, to check the seeding rules: same state, same draws; bounds and dtypes right."""
    import types

    class FakeRandomState:
        def __init__(self, seed, method=None):
            assert method == "philox"  # the counter-based generator: seeding it is cheap
            self.seed(seed)

        def seed(self, seed):
            self._rng = np.random.Generator(np.random.Philox(seed))

        def standard_normal(self, size, dtype):
            return self._rng.standard_normal(size).astype(dtype)

        def random_sample(self, size, dtype):
            return self._rng.random(size).astype(dtype)

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(curand=types.SimpleNamespace(CURAND_RNG_PSEUDO_PHILOX4_32_10="philox"))
    fake.random = types.SimpleNamespace(RandomState=FakeRandomState)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(B, "_active", B.Backend("cupy", np, np.ndarray, on_host=False))

    g = minigan.Generator(7)
    state = g.get_state()
    first = [g.normal((3, 2), mean=1.0, std=2.0), g.uniform((4,), -1.0, 1.0), g.bernoulli((50,), 0.3, value=2.0)]
    ints = g.integers(3, 6, (1000,))
    g.set_state(state)
    again = [g.normal((3, 2), mean=1.0, std=2.0), g.uniform((4,), -1.0, 1.0), g.bernoulli((50,), 0.3, value=2.0)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # the host stream's state fixes the device draws
    assert first[0].dtype == np.float32 and ints.dtype == np.int64
    assert ints.min() == 3 and ints.max() == 5
    assert set(np.unique(first[2]).tolist()) <= {0.0, 2.0}
    assert np.all((first[1] >= -1.0) & (first[1] < 1.0))
    assert not np.array_equal(g.normal((3, 2)), g.normal((3, 2)))  # each draw takes a new key


def test_the_cli_still_prints_the_losses_read_back_once_per_interval(tmp_path, capsys, monkeypatch):
    from minigan import cli

    # Without a terminal: a line with the losses at every sample interval.
    out = tmp_path / "plain"
    args = ["train", "--model", "ring-2d", "--steps", "20", "--sample-every", "10", "--out", str(out)]
    assert cli.main(args) == 0
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("step ")]
    assert len(lines) == 2 and all("d_loss" in s and "D(G(z))" in s for s in lines)
    # On a terminal: the progress bar shows them, read back every --log-every steps (the per-step NaN
    # check is off, so that the records are the only per-step reads).
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    reads = {}
    for every in (1, 5):
        run = [*args[:-1], str(tmp_path / f"bar{every}"), "--log-every", str(every), "--no-stop-on-nan"]
        with B.count_transfers() as moved:
            assert cli.main(run) == 0
        reads[every] = moved.to_host
        bar = capsys.readouterr().err
        assert "d_loss" in bar and "g_loss" in bar
    assert reads[1] - reads[5] >= 15  # 20 read-backs of the records against 4: the rest is the same
