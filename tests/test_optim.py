"""Optimizers: 50-step trajectories against torch.optim (float64, rtol 1e-10), clipping,
state dicts, skipped parameters, and float32 staying float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import T, host

import minigan
import minigan.functions as F
import minigan.nn as nn
from minigan import backend as B
from minigan import optim

# ----------------------------------------------------------------------------
# The shared problem: a small nonlinear regression with three parameters, one unused
# ----------------------------------------------------------------------------
DATA = np.random.default_rng(0)
X = DATA.normal(size=(8, 3))
Y = DATA.normal(size=(8, 2))
W0 = DATA.normal(size=(3, 2))
B0 = DATA.normal(size=(2,))
U0 = DATA.normal(size=(2,))  # never used by the loss: its grad stays None and it must not move


def minigan_loss(w, b):
    return F.mean((F.tanh(T(X, False) @ w) + b - T(Y, False)) ** 2)


def run_minigan(make_opt, steps=50):
    params = [T(W0), T(B0), T(U0)]
    opt = make_opt(params)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        minigan_loss(params[0], params[1]).backward()
        opt.step()
        trajectory.append([host(p).copy() for p in params])
    return trajectory, opt


def run_torch(make_opt, steps=50):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (W0, B0, U0)]
    opt = make_opt(params)
    xt, yt = torch.tensor(X), torch.tensor(Y)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        ((torch.tanh(xt @ params[0]) + params[1] - yt) ** 2).mean().backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


CONFIGS = {
    "sgd": ({"lr": 0.1}, {"lr": 0.1}),
    "sgd-momentum": ({"lr": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9}),
    "sgd-dampening-wd": (
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
    ),
    "sgd-nesterov": (
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    ),
    "adam": ({"lr": 0.01}, {"lr": 0.01}),
    "adam-gan": ({"lr": 2e-4, "betas": (0.5, 0.999)}, {"lr": 2e-4, "betas": (0.5, 0.999)}),
    "adam-l2": ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.01, "weight_decay": 0.1}),
    "adamw": ({"lr": 0.01, "weight_decay": 0.1, "decoupled": True}, {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": ({"lr": 0.01}, {"lr": 0.01}),
    "rmsprop-momentum-wd": (
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01},
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01},
    ),
    "rmsprop-centered": ({"lr": 0.005, "centered": True, "eps": 1e-6}, {"lr": 0.005, "centered": True, "eps": 1e-6}),
}


def factories(name):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: comparison skipped")
    mine, theirs = CONFIGS[name]
    if name.startswith("sgd"):
        return (lambda p: optim.SGD(p, **mine)), (lambda p: torch.optim.SGD(p, **theirs))
    if name == "adamw":
        return (lambda p: optim.Adam(p, **mine)), (lambda p: torch.optim.AdamW(p, **theirs))
    if name.startswith("adam"):
        return (lambda p: optim.Adam(p, **mine)), (lambda p: torch.optim.Adam(p, **theirs))
    return (lambda p: optim.RMSprop(p, **mine)), (lambda p: torch.optim.RMSprop(p, **theirs))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_trajectory_matches_torch_optim_over_50_steps(name):
    make_mine, make_theirs = factories(name)
    with minigan.default_dtype("float64"):
        mine, _ = run_minigan(make_mine)
    theirs = run_torch(make_theirs)
    for step, (a, b) in enumerate(zip(mine, theirs)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_allclose(pa, pb, rtol=1e-10, atol=1e-13, err_msg=f"step {step}, parameter {i}")
    # It actually moved, except the parameter without a gradient.
    assert not np.allclose(mine[-1][0], W0)
    np.testing.assert_array_equal(mine[-1][2], U0)


def test_adam_gan_defaults():
    opt = optim.Adam.gan_defaults([T(W0)])
    assert opt.lr == 2e-4 and opt.betas == (0.5, 0.999) and opt.eps == 1e-8


def test_skipped_parameter_has_no_state_and_no_step():
    _, opt = run_minigan(lambda p: optim.Adam(p, lr=0.01), steps=3)
    assert opt.state[0]["step"] == 3 and opt.state[2] == {}


def test_optimizer_accepts_a_module_and_rejects_bad_input():
    model = nn.Dense(2, 3)
    opt = optim.SGD(model, lr=0.1)
    assert opt.params == model.parameters()
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([model.weight, model.weight])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(model, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(model, betas=(1.0, 0.999))


def test_zero_grad():
    w = T(W0)
    opt = optim.SGD([w])
    minigan_loss(w, T(B0)).backward()
    assert w.grad is not None
    opt.zero_grad()
    assert w.grad is None


# ----------------------------------------------------------------------------
# Clipping
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm, norm_type", [(0.1, 2.0), (100.0, 2.0), (0.05, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    torch = pytest.importorskip("torch")
    with minigan.default_dtype("float64"):
        w, b = T(W0), T(B0)
        minigan_loss(w, b).backward()
        total = optim.clip_grad_norm_([w, b, T(U0)], max_norm, norm_type)
    wt, bt = (torch.tensor(a, requires_grad=True) for a in (W0, B0))
    ((torch.tanh(torch.tensor(X) @ wt) + bt - torch.tensor(Y)) ** 2).mean().backward()
    total_t = torch.nn.utils.clip_grad_norm_([wt, bt], max_norm, norm_type)
    assert math.isclose(total, float(total_t), rel_tol=1e-12)
    np.testing.assert_allclose(host(w.grad), wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(b.grad), bt.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_by_hand():
    w = T([[3.0, 0.0]])
    w.grad = T([[3.0, 4.0]], requires_grad=False)
    assert optim.clip_grad_norm_([w], 1.0) == 5.0
    np.testing.assert_allclose(host(w.grad), [[0.6, 0.8]], rtol=1e-6)


def test_clip_weights_for_wgan_critics():
    model = nn.Dense(20, 20, rng=0, weight_init="normal")
    optim.clip_weights_(model, 0.01)
    for p in model.parameters():
        assert np.abs(host(p)).max() <= 0.01
    assert np.isclose(np.abs(host(model.weight)).max(), 0.01)
    with pytest.raises(ValueError):
        optim.clip_weights_(model, 0.0)


# ----------------------------------------------------------------------------
# State dicts
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Adam(p, lr=0.01),
        lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    ],
    ids=["adam", "sgd", "rmsprop"],
)
def test_state_dict_round_trip_continues_the_same_trajectory(make):
    with minigan.default_dtype("float64"):
        full, _ = run_minigan(make, steps=10)
        first, opt = run_minigan(make, steps=5)
        sd = opt.state_dict()
        assert all(isinstance(v, (int, np.ndarray)) for s in sd["state"].values() for v in s.values())
        params = [T(a) for a in first[-1]]
        opt2 = make(params)
        opt2.lr = 123.0  # overwritten by the load
        opt2.load_state_dict(sd)
        assert opt2.lr == 0.01
        for _ in range(5):
            opt2.zero_grad()
            minigan_loss(params[0], params[1]).backward()
            opt2.step()
    for a, b in zip(full[-1], params):
        assert a.tobytes() == host(b).tobytes()


def test_load_state_dict_validates_before_changing_anything():
    with minigan.default_dtype("float64"):
        _, opt = run_minigan(lambda p: optim.Adam(p, lr=0.01), steps=2)
        sd = opt.state_dict()
        sd["state"]["1"]["exp_avg"] = np.zeros((5,))
        sd["state"]["7"] = {"step": 1}
        fresh = optim.Adam([T(W0), T(B0), T(U0)], lr=0.5)
        with pytest.raises(ValueError, match=r"state 1.exp_avg: shape \(5,\)[\s\S]*parameter '7'"):
            fresh.load_state_dict(sd)
        assert fresh.lr == 0.5 and fresh.state == [{}, {}, {}]
        with pytest.raises(ValueError, match="type 'Adam' != 'SGD'"):
            optim.SGD([T(W0), T(B0), T(U0)]).load_state_dict(opt.state_dict())


# ----------------------------------------------------------------------------
# float32 stays float32
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Adam.gan_defaults(p, weight_decay=1e-4),
        lambda p: optim.AdamW(p),
        lambda p: optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4),
        lambda p: optim.RMSprop(p, lr=5e-5, momentum=0.1, centered=True),
    ],
    ids=["adam", "adamw", "sgd", "rmsprop"],
)
def test_float32_training_step_keeps_everything_float32(make):
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.BatchNorm(8), nn.LeakyReLU(), nn.Dense(8, 1, rng=1))
    opt = make(model)
    x = minigan.tensor(np.random.default_rng(0).normal(size=(6, 4)))
    for _ in range(2):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), minigan.tensor(np.ones((6, 1))))
        loss.backward()
        optim.clip_grad_norm_(model, 0.5)
        opt.step()
    for p in model.parameters():
        assert "float32" in str(p.dtype) and "float32" in str(p.grad.dtype)
    for _, b in model.named_buffers():
        assert "float32" in str(b.dtype)
    for s in opt.state:
        for k, v in s.items():
            if k != "step":
                assert "float32" in str(v.dtype), k
    assert all(v.dtype == np.float32 for s in opt.state_dict()["state"].values() for k, v in s.items() if k != "step")


def test_float64_gradient_does_not_promote_float32_weights():
    layer = nn.Dense(2, 2)  # float32 (the default dtype)
    layer.weight.grad = T(np.ones((2, 2)), requires_grad=False)  # a float64 gradient
    optim.SGD(layer, lr=0.1).step()
    assert "float32" in str(layer.weight.dtype)


class _EveryLayerCritic(nn.Module):
    """A conditional critic that uses every layer type, to follow dtypes through each of them."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2D(1, 4, 3, stride=2, padding="same", rng=0),  # (N, 1, 8, 8) -> (N, 4, 4, 4)
            nn.BatchNorm(4),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3, rng=1),
            nn.MaxPool2D(2, padding="same"),  # -> (N, 4, 2, 2)
            nn.UpSampling2D(2, "bilinear"),  # -> (N, 4, 4, 4)
            nn.Conv2DTranspose(4, 2, 3, stride=2, padding="same", rng=2),  # -> (N, 2, 8, 8)
            nn.BatchNorm(2),
            nn.ReLU(),
            nn.AvgPool2D(2),  # -> (N, 2, 4, 4)
            nn.UpSampling2D(2, "nearest"),  # -> (N, 2, 8, 8)
            nn.MinibatchStdDev(),  # -> (N, 3, 8, 8)
            nn.Flatten(),  # -> (N, 192)
            nn.Dense(192, 16, rng=3),
            nn.BatchNorm(16),
            nn.Tanh(),
            nn.Reshape((4, 4)),  # (N, 16) -> (N, 4, 4)
            nn.Flatten(),  # -> (N, 16)
            nn.Sigmoid(),
        )
        self.embed = nn.Embedding(3, 16, rng=4)
        self.head = nn.Dense(16, 1, rng=5)

    def forward(self, x, labels, seen=None):
        h = x
        for layer in self.body:
            h = layer(h)
            if seen is not None:
                seen.append((repr(layer), h))
        e = self.embed(labels)
        out = self.head(h * e)
        if seen is not None:
            seen += [("embed", e), ("head", out)]
        return out


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Adam.gan_defaults(p, weight_decay=1e-4),
        lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda p: optim.RMSprop(p, lr=5e-5, momentum=0.1, centered=True),
    ],
    ids=["adam", "sgd-nesterov", "rmsprop"],
)
def test_float32_gradient_penalty_step_through_every_layer_stays_float32(make):
    """A float32 critic step with a WGAN-GP penalty (double backward) through every layer type: every
    activation, the input gradient, every parameter gradient, the parameters, the running statistics
    and the optimizer state stay float32 (no float64 creeping in from NumPy float64 scalars)."""
    f32 = B.xp().float32
    D = _EveryLayerCritic()
    opt = make(D)
    rng = np.random.default_rng(0)
    labels = B.asarray(np.array([0, 2, 1, 2]), dtype="int64")
    for _ in range(2):
        x = minigan.Tensor(B.asarray(rng.normal(size=(4, 1, 8, 8)), dtype="float32"), requires_grad=True)
        seen = []
        out = D(x, labels, seen)
        for name, h in seen:
            assert h.dtype == f32, f"activation after {name} is {h.dtype}"
        (gx,) = minigan.grad(out.sum(), [x], create_graph=True)
        assert gx.dtype == f32
        penalty = F.mean((F.sqrt(F.sum(gx * gx, axis=(1, 2, 3)) + 1e-12) - 1.0) ** 2)
        loss = F.mean(out) + 10.0 * penalty
        assert penalty.dtype == f32 and loss.dtype == f32
        opt.zero_grad()
        loss.backward()
        for name, p in D.named_parameters():
            assert p.grad is not None and p.grad.dtype == f32, f"gradient of {name}"
        optim.clip_grad_norm_(D, 1.0)
        opt.step()
    for name, p in D.named_parameters():
        assert p.dtype == f32, name
    for name, b in D.named_buffers():
        assert b.dtype == f32, name
    for s in opt.state:
        for k, v in s.items():
            if k != "step":
                assert v.dtype == f32, k


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Adam(p, lr=np.float64(1e-3), betas=np.array([0.5, 0.999]), eps=np.float64(1e-8)),
        lambda p: optim.AdamW(p, lr=np.float64(1e-3), weight_decay=np.float64(1e-2)),
        lambda p: optim.SGD(p, lr=np.float64(1e-2), momentum=np.float64(0.9), weight_decay=np.float64(1e-4)),
        lambda p: optim.RMSprop(p, lr=np.float64(1e-2), alpha=np.float64(0.9), momentum=np.float64(0.1)),
    ],
    ids=["adam", "adamw", "sgd", "rmsprop"],
)
def test_numpy_scalar_hyperparameters_keep_float32(make):
    """Hyper-parameters computed with NumPy (np.float64 scalars: NEP 50 makes them float64 against float32
    arrays) must not turn float32 parameters or optimizer state into float64; nor may clipping bounds."""
    model = nn.Dense(3, 2, rng=0)
    opt = make(model)
    x = minigan.tensor(np.ones((4, 3)))
    for lr in (None, np.float64(5e-4)):  # a schedule that assigns NumPy numbers
        if lr is not None:
            opt.lr = lr
        opt.zero_grad()
        model(x).sum().backward()
        optim.clip_grad_norm_(model, np.float64(0.1))
        opt.step()
        optim.clip_weights_(model, np.float64(0.5))
    assert all(type(v) in (float, int, bool, tuple) for v in opt.hyperparams().values()), opt.hyperparams()
    for p in model.parameters():
        assert "float32" in str(p.dtype) and "float32" in str(p.grad.dtype)
    for s in opt.state:
        for k, v in s.items():
            if k != "step":
                assert "float32" in str(v.dtype), k


def test_loading_a_state_dict_copies_the_arrays_it_is_given():
    """Adam updates its moments in place: a loaded state dict must not be written into."""
    p = T(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = T(np.full(3, 0.5), False)
    opt.step()
    sd = opt.state_dict()
    before = {k: np.array(v) for k, v in sd["state"]["0"].items() if k != "step"}
    opt2 = optim.Adam([p], lr=0.1)
    opt2.load_state_dict(sd)
    opt2.step()
    for k, v in before.items():
        np.testing.assert_array_equal(sd["state"]["0"][k], v)
