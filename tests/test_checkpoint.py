"""Checkpoints: bitwise round trips (same backend and across numpy <-> strict), resumed runs
continue the same trajectory, and damaged, tampered or unsafe files are rejected before
anything is assigned.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from conftest import host

import minigan
import minigan.functions as F
from minigan import backend as B
from minigan import checkpoint, models, optim
from minigan.checkpoint import CheckpointError


def snapshot(model):
    return {k: v.tobytes() for k, v in model.state_dict().items()}


def train(D, opt, noise, steps):
    """A few discriminator-style steps: dropout masks and the noise generator are consumed."""
    for _ in range(steps):
        x = minigan.Tensor(noise.normal((4, 1, 28, 28)))
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(D(x), minigan.tensor(np.ones((4, 1)))).backward()
        opt.step()


def setup(seed=0):
    D = models.build("conv-discriminator", rng=seed)  # has a Dropout layer with its own generator
    opt = optim.Adam.gan_defaults(D)
    return D, opt, minigan.Generator(100 + seed)


@pytest.fixture
def saved(tmp_path):
    D, opt, noise = setup()
    train(D, opt, noise, 2)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, models={"D": D}, optimizers={"D": opt}, rngs={"noise": noise}, step=2, extra={"lr": 2e-4})
    return path, D, opt, noise


# ----------------------------------------------------------------------------
# round trips
# ----------------------------------------------------------------------------
def test_save_load_round_trip_is_bitwise(saved):
    path, D, opt, noise = saved
    D2, opt2, noise2 = setup(seed=5)
    result = checkpoint.load(path, models={"D": D2}, optimizers={"D": opt2}, rngs={"noise": noise2})
    assert result.step == 2 and result.extra == {"lr": 2e-4} and result.problems == [] and result.unused == []
    assert snapshot(D2) == snapshot(D)
    assert noise2.get_state() == noise.get_state()
    assert D2[7].rng.get_state() == D[7].rng.get_state()  # the Dropout layer's mask generator
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["hyperparams"] == sd2["hyperparams"]
    for k, s in sd["state"].items():
        assert s["step"] == sd2["state"][k]["step"]
        for name in ("exp_avg", "exp_avg_sq"):
            assert s[name].dtype == sd2["state"][k][name].dtype == np.float32
            assert s[name].tobytes() == sd2["state"][k][name].tobytes()


def test_resumed_run_continues_the_same_trajectory(saved):
    path, D, opt, noise = saved
    D2, opt2, noise2 = setup(seed=9)
    checkpoint.load(path, models={"D": D2}, optimizers={"D": opt2}, rngs={"noise": noise2})
    train(D, opt, noise, 3)
    train(D2, opt2, noise2, 3)
    assert snapshot(D2) == snapshot(D)


def test_single_objects_get_default_names(tmp_path):
    D, opt, noise = setup()
    checkpoint.save(tmp_path / "c.npz", D, opt, noise, step=3)
    ckpt = checkpoint.read(tmp_path / "c.npz")
    assert ckpt.model_names() == ["model"] and ckpt.step == 3
    assert set(ckpt.model_state("model")) == set(D.state_dict())
    assert ckpt.rng_state("rng") == noise.get_state()
    assert ckpt.optimizer_state("optimizer")["type"] == "Adam"
    with pytest.raises(CheckpointError, match="no model named 'G'"):
        ckpt.model_state("G")


def _save_on(backend, path):
    with B.use_backend(backend):
        D, opt, noise = setup()
        train(D, opt, noise, 1)
        checkpoint.save(path, models=D, optimizers=opt, rngs=noise, step=1)
        return snapshot(D), opt.state_dict()


def _load_on(backend, path):
    with B.use_backend(backend):
        D, opt, noise = setup(seed=3)
        checkpoint.load(path, models=D, optimizers=opt, rngs=noise)
        assert B.namespace_of(D.parameters()[0].data) == backend
        assert B.namespace_of(opt.state[0]["exp_avg"]) == backend
        return snapshot(D), opt.state_dict()


@pytest.mark.parametrize("src, dst", [("numpy", "strict"), ("strict", "numpy"), ("strict", "strict")])
def test_checkpoint_moves_between_backends_bitwise(tmp_path, src, dst):
    pytest.importorskip("array_api_strict")
    path = tmp_path / "c.npz"
    saved_params, saved_opt = _save_on(src, path)
    loaded_params, loaded_opt = _load_on(dst, path)
    assert loaded_params == saved_params
    for k, s in saved_opt["state"].items():
        assert s["exp_avg_sq"].tobytes() == loaded_opt["state"][k]["exp_avg_sq"].tobytes()


# ----------------------------------------------------------------------------
# mismatches: strict refuses everything, non-strict loads what fits and reports the rest
# ----------------------------------------------------------------------------
def test_strict_mismatch_loads_nothing_and_lists_every_problem(tmp_path):
    G = models.build("mlp-generator", rng=0)
    D = models.build("mlp-discriminator", rng=0)
    path = tmp_path / "c.npz"
    checkpoint.save(path, models={"G": G, "D": D})
    G2 = models.build("mlp-generator", rng=1)
    D2 = models.build("mlp-discriminator", rng=1, in_features=100)  # first layer has another shape
    before_g, before_d = snapshot(G2), snapshot(D2)
    with pytest.raises(CheckpointError, match=r"nothing was loaded[\s\S]*model 'D': mismatched 0.weight"):
        checkpoint.load(path, models={"G": G2, "D": D2})
    assert snapshot(G2) == before_g and snapshot(D2) == before_d  # G matched, but was not loaded either
    with pytest.raises(CheckpointError, match="model 'C': not in the checkpoint"):
        checkpoint.load(path, models={"C": G2})


def test_non_strict_partial_load_reports_the_differences(tmp_path):
    D = models.build("mlp-discriminator", rng=0)
    path = tmp_path / "c.npz"
    checkpoint.save(path, models={"D": D}, rngs={"noise": minigan.Generator(1)})
    D2 = models.build("mlp-discriminator", rng=1, in_features=100)
    result = checkpoint.load(path, models={"D": D2}, strict=False)
    assert result.models["D"]["mismatched"] == ["0.weight: expected (512, 100), got (512, 784)"]
    assert result.models["D"]["missing"] == [] and result.models["D"]["unexpected"] == []
    assert result.unused == ["rngs/noise"]
    assert any("0.weight" in p for p in result.problems)
    full, part = D.state_dict(), D2.state_dict()
    for k in full:
        if k == "0.weight":
            assert part[k].shape == (512, 100)
        else:
            assert part[k].tobytes() == full[k].tobytes()


def test_optimizer_of_another_model_is_rejected(saved):
    path, *_ = saved
    G = models.build("mlp-generator")
    with pytest.raises(CheckpointError, match="optimizer 'D'"):
        checkpoint.load(path, optimizers={"D": optim.Adam(G)})


# ----------------------------------------------------------------------------
# damaged, tampered and unsafe files
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_rejected_and_nothing_is_assigned(saved, keep):
    path, D, opt, noise = saved
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    D2, opt2, noise2 = setup(seed=4)
    before, rng_before = snapshot(D2), noise2.get_state()
    with pytest.raises(CheckpointError, match="corrupt or truncated|not a minigan checkpoint"):
        checkpoint.load(path, models={"D": D2}, optimizers={"D": opt2}, rngs={"noise": noise2})
    assert snapshot(D2) == before and noise2.get_state() == rng_before and opt2.state[0] == {}


def test_flipped_byte_is_rejected(saved):
    path, *_ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("models/D/4.weight.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the array's data
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        checkpoint.read(path)


def _rewrite(path, change):
    """Rewrite a checkpoint's zip with valid CRCs after changing its arrays: only our hashes can tell."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def test_consistently_rewritten_array_fails_its_hash(saved):
    path, *_ = saved

    def change(arrays):
        a = arrays["models/D/0.bias"].copy()
        a[0] += 1.0
        arrays["models/D/0.bias"] = a

    _rewrite(path, change)
    with pytest.raises(CheckpointError, match=r"'models/D/0.bias' fails its SHA-256 check"):
        checkpoint.read(path)


def test_edited_metadata_fails_its_digest(saved):
    path, *_ = saved

    def change(arrays):
        meta = json.loads(arrays["__metadata__"].tobytes())
        meta["step"] = 10**6
        arrays["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    _rewrite(path, change)
    with pytest.raises(CheckpointError, match="digest mismatch"):
        checkpoint.read(path)


def test_extra_and_missing_entries_are_rejected(saved):
    path, *_ = saved
    _rewrite(path, lambda arrays: arrays.update({"models/D/evil": np.zeros(3)}))
    with pytest.raises(CheckpointError, match="do not match the metadata"):
        checkpoint.read(path)


class _Boom:
    """Unpickling this would create a file: the test proves it never happens."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_bearing_npz_is_refused_without_running_code(saved, tmp_path):
    path, *_ = saved
    marker = tmp_path / "pwned"
    obj = np.empty(1, dtype=object)
    obj[0] = _Boom(str(marker))
    _rewrite(path, lambda arrays: arrays.update({"models/D/0.bias": obj}))
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        checkpoint.read(path)
    assert not marker.exists()


def test_loading_opens_the_file_with_allow_pickle_false(saved, monkeypatch):
    """Every np.load of a checkpoint passes allow_pickle=False (and nothing re-enables it later)."""
    path, *_ = saved
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle", "default"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    checkpoint.read(path)
    D, opt, noise = setup(seed=1)
    checkpoint.load(path, models={"D": D}, optimizers={"D": opt}, rngs={"noise": noise})
    assert calls and all(flag is False for flag in calls), calls


def test_plain_pickle_file_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        checkpoint.read(path)
    assert not marker.exists()


def test_other_files_are_not_checkpoints(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a minigan checkpoint"):
        checkpoint.read(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="not an .npz"):
        checkpoint.read(tmp_path / "single.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError):
        checkpoint.read(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        checkpoint.read(tmp_path / "missing.npz")


# ----------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------
def test_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temp_file(saved, monkeypatch):
    path, D, opt, noise = saved
    good = path.read_bytes()
    with pytest.raises(ValueError, match="JSON"):
        checkpoint.save(path, models={"D": D}, extra={"bad": object()})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of writing

    monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, models={"D": D})
    assert path.read_bytes() == good
    assert os.listdir(path.parent) == [path.name]
    checkpoint.read(path)


def test_save_validates_arguments(tmp_path):
    D, *_ = setup()
    with pytest.raises(ValueError, match="step"):
        checkpoint.save(tmp_path / "c.npz", D, step=-1)
    with pytest.raises(TypeError):
        checkpoint.save(tmp_path / "c.npz", models={"D": "not a model"})
    with pytest.raises(ValueError, match="names"):
        checkpoint.save(tmp_path / "c.npz", models={"a/b": D})
    assert not (tmp_path / "c.npz").exists()


def test_loaded_parameters_keep_their_dtype(saved):
    path, *_ = saved
    with minigan.default_dtype("float64"):
        D64 = models.build("conv-discriminator")
    checkpoint.load(path, models={"D": D64})  # float32 file into a float64 model: values cast, exactly
    assert "float64" in str(D64.parameters()[0].dtype)
    D32 = setup()[0]
    checkpoint.load(path, models={"D": D32})
    np.testing.assert_array_equal(host(D64.parameters()[0]), host(D32.parameters()[0]).astype(np.float64))
