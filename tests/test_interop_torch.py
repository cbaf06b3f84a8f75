"""minigan.interop.torch: the PyTorch twins compute what minigan computes, and state crosses bit for bit.

- every layer and every registered model (G and D): float64 outputs, input gradients and parameter
  gradients of the twin equal minigan's within 1e-10, in training and eval mode (Dropout compared in
  eval mode, or with p = 0), and the buffers (running statistics, spectral-norm vectors) move alike;
- minigan -> torch -> minigan gives bitwise the same parameters and buffers;
- optimizers: one more step in PyTorch is minigan's step, state round trips bit for bit;
- a run continued for 3 steps in PyTorch ends where 3 more minigan steps end (float32, 1e-5);
- `minigan export --to torch` / `minigan import`, and the errors.

Skipped without PyTorch. On a non-NumPy backend the minigan side runs there and crosses to the host
through ``minigan.to_numpy`` only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import T, host
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.nn as nn
from minigan import backend as B
from minigan import checkpoint, cli, models
from minigan.autograd import Tensor
from minigan.gan.run import TrainConfig, TrainingRun

torch = pytest.importorskip("torch", reason="PyTorch not installed: the bridge is not tested")
bridge = pytest.importorskip("minigan.interop.torch")
from minigan.interop import torch_layers as L  # noqa: E402

TOL = 1e-10


@pytest.fixture
def f64():
    with minigan.default_dtype("float64"):
        yield


def labels_like(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, (n,)).astype(np.int64)


def check_twin(layer, x: np.ndarray, *, labels: np.ndarray | None = None, training: bool = True, grad_x: bool = True):
    """Forward and backward through ``layer`` and its twin: outputs, dx, every parameter's gradient, buffers.

    Returns the largest absolute difference seen (all must be within TOL).
    """
    layer.train(training)
    twin = bridge.to_torch(layer)
    assert twin.training == training
    keys = bridge.state_key_map(layer)
    xm = T(x, requires_grad=grad_x)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=grad_x)
    if labels is None:
        y, yt = layer(xm), twin(xt)
    else:
        y, yt = layer(xm, Tensor(B.asarray(labels))), twin(xt, torch.from_numpy(labels))
    worst = [float(np.max(np.abs(host(y) - yt.detach().numpy()), initial=0.0))]
    g = np.random.default_rng(1).normal(size=tuple(yt.shape))
    y.backward(T(g, requires_grad=False))
    yt.backward(torch.tensor(g))
    if grad_x:
        worst.append(float(np.max(np.abs(host(xm.grad) - xt.grad.numpy()))))
    theirs = dict(twin.named_parameters())
    for name, p in layer.named_parameters():
        worst.append(float(np.max(np.abs(host(p.grad) - theirs[keys[name]].grad.numpy()))))
    tstate = twin.state_dict()
    for name, b in layer.named_buffers():  # running statistics and u, v moved the same way
        worst.append(float(np.max(np.abs(host(b) - tstate[keys[name]].numpy()))))
    assert max(worst) <= TOL, worst
    return max(worst)


# ----------------------------------------------------------------------------
# Every layer
# ----------------------------------------------------------------------------
def image(n=3, c=2, h=7, w=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, h, w))


def flat(n=4, f=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, f))


LAYERS = {
    "dense": (lambda: nn.Dense(5, 3, rng=0), flat),
    "dense-no-bias": (lambda: nn.Dense(5, 3, bias=False, rng=0), flat),
    "relu": (nn.ReLU, flat),
    "leaky-relu": (lambda: nn.LeakyReLU(0.2), flat),
    "tanh": (nn.Tanh, image),
    "sigmoid": (nn.Sigmoid, image),
    "batchnorm-flat": (lambda: nn.Sequential(nn.Dense(5, 4, rng=0), nn.BatchNorm(4, momentum=0.3)), flat),
    "batchnorm-image": (lambda: nn.Sequential(nn.Conv2D(2, 3, 3, rng=0), nn.BatchNorm(3, eps=1e-3)), image),
    "batchnorm-either": (lambda: nn.BatchNorm(2, momentum=0.01, eps=1e-3), image),
    "batchnorm-no-affine": (lambda: nn.BatchNorm(5, affine=False), flat),
    "dropout-p0": (lambda: nn.Dropout(0.0), flat),
    "conv-valid": (lambda: nn.Conv2D(2, 3, 3, rng=0), image),
    "conv-int": (lambda: nn.Conv2D(2, 3, 3, stride=2, padding=1, rng=0), image),
    "conv-same-s1-even": (lambda: nn.Conv2D(2, 3, 4, padding="same", rng=0), image),
    "conv-same-s2": (lambda: nn.Conv2D(2, 3, 3, stride=2, padding="same", rng=0), image),
    "convT-valid": (lambda: nn.Conv2DTranspose(2, 3, 3, stride=2, rng=0), image),
    "convT-valid-k<s": (lambda: nn.Conv2DTranspose(2, 3, 1, stride=2, rng=0), image),
    "convT-same-3x3": (lambda: nn.Conv2DTranspose(2, 3, 3, stride=2, padding="same", rng=0), image),
    "convT-same-4x4": (lambda: nn.Conv2DTranspose(2, 3, 4, stride=2, padding="same", rng=0), image),
    "convT-int-outpad": (lambda: nn.Conv2DTranspose(2, 3, 3, stride=2, padding=1, output_padding=1, rng=0), image),
    "upsample-nearest": (lambda: nn.UpSampling2D(2), image),
    "upsample-bilinear": (lambda: nn.UpSampling2D((2, 3), "bilinear"), image),
    "maxpool": (lambda: nn.MaxPool2D(3, 2, 1), image),
    "maxpool-same": (lambda: nn.MaxPool2D(3, 2, "same"), image),
    "avgpool": (lambda: nn.AvgPool2D(2), image),
    "avgpool-same": (lambda: nn.AvgPool2D(2, 2, "same"), image),
    "flatten": (nn.Flatten, image),
    "reshape-flat": (lambda: nn.Sequential(nn.Dense(5, 6, rng=0), nn.Reshape((2, 3))), flat),
    "reshape-image": (lambda: nn.Reshape((6, 14)), image),
    "minibatch-std": (lambda: nn.MinibatchStdDev(), image),
    "minibatch-std-groups": (lambda: nn.MinibatchStdDev(group_size=2), lambda: flat(n=4)),
    "spectral-dense": (lambda: nn.spectral_norm(nn.Dense(5, 3, rng=0), rng=1), flat),
    "spectral-conv": (lambda: nn.spectral_norm(nn.Conv2D(2, 3, 3, 2, "same", rng=0), rng=1), image),
    "spectral-convT": (lambda: nn.spectral_norm(nn.Conv2DTranspose(2, 3, 3, 2, "same", rng=0), rng=1), image),
    "instancenorm": (lambda: nn.Sequential(nn.Conv2D(2, 3, 3, rng=0), nn.InstanceNorm(3)), image),
    "instancenorm-affine": (lambda: nn.Sequential(nn.Conv2D(2, 3, 3, rng=0), nn.InstanceNorm(3, affine=True)), image),
    "reflection-pad": (lambda: nn.Sequential(nn.ReflectionPad2D((1, 2, 3, 0)), nn.Conv2D(2, 3, 3, rng=0)), image),
    "unet": (lambda: nn.UNet(2, 3, depth=2, width=4, rng=0), lambda: image(h=8, w=12)),
    "unet-instance-deep": (lambda: nn.UNet(2, 1, depth=3, width=2, norm="instance", rng=0), lambda: image(h=16, w=8)),
    "unet-no-norm-shallow": (lambda: nn.UNet(2, 2, depth=1, width=3, norm="none", rng=0), lambda: image(h=8, w=6)),
    "patchgan": (lambda: nn.patch_discriminator(2, width=4, n_layers=2, rng=0), lambda: image(h=8, w=8)),
}


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_matches_its_twin(f64, name, training):
    make, data = LAYERS[name]
    check_twin(make(), data(), training=training)


def test_dropout_in_eval_mode_and_its_twin_is_nn_dropout(f64):
    layer = nn.Dropout(0.4)
    check_twin(layer, flat(), training=False)
    assert type(bridge.to_torch(layer)) is torch.nn.Dropout and bridge.to_torch(layer).p == 0.4


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_embedding_and_label_concat(f64, training):
    emb = nn.Embedding(5, 3, rng=0)
    emb.train(training)
    twin = bridge.to_torch(emb)
    lab = labels_like(6, 5)
    y, yt = emb(Tensor(B.asarray(lab))), twin(torch.from_numpy(lab))
    assert np.max(np.abs(host(y) - yt.detach().numpy())) <= TOL
    g = np.random.default_rng(2).normal(size=(6, 3))
    y.backward(T(g, requires_grad=False))
    yt.backward(torch.tensor(g))
    assert np.max(np.abs(host(emb.weight.grad) - twin.weight.grad.numpy())) <= TOL
    concat = models.LabelConcat(5, 3, rng=B.Generator(0))
    check_twin(concat, flat(n=6), labels=lab, training=training)


@given(
    h=st.integers(3, 9),
    w=st.integers(3, 9),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    transpose=st.booleans(),
    padding=st.sampled_from(["same", "valid", 0, 1]),
)
def test_convolutions_of_any_shape(h, w, k, s, transpose, padding):
    with minigan.default_dtype("float64"):
        if transpose:
            layer = nn.Conv2DTranspose(2, 3, k, stride=s, padding=padding, rng=0)
        else:
            if isinstance(padding, int) and 2 * padding >= k + 1 or k > h + 2 or k > w + 2:
                return  # (the window must fit; minigan refuses the rest, as PyTorch does)
            layer = nn.Conv2D(2, 3, k, stride=s, padding=padding, rng=0)
            oh, ow = layer.output_hw(h, w)
            if oh < 1 or ow < 1:
                return
        if transpose and min(layer.output_hw(h, w)) < 1:
            return
        check_twin(layer, image(n=2, c=2, h=h, w=w))


# ----------------------------------------------------------------------------
# Every registered model, G and D
# ----------------------------------------------------------------------------
def model_case(name: str, training: bool):
    meta = models.info(name)
    kwargs = {}
    if training and "dropout" in meta.defaults:
        kwargs["dropout"] = 0.0  # masks come from different generators: dropout is compared in eval mode
    if "channels" in meta.defaults and meta.role == "generator" and name.startswith("dcgan-fast"):
        kwargs["channels"] = 16  # the same layers, smaller: keeps the file fast
    net = models.build(name, rng=0, **kwargs)
    shape = models.info(name, **kwargs).input_shape
    x = np.random.default_rng(0).normal(size=(4, *shape))
    labels = labels_like(4, meta.defaults["num_classes"]) if name.startswith("cgan") else None
    return net, x, labels


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", models.names())
def test_every_model_matches_its_twin(f64, name, training):
    net, x, labels = model_case(name, training)
    check_twin(net, x, labels=labels, training=training)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", models.names())
def test_round_trip_is_bitwise(name, dtype):
    with minigan.default_dtype(dtype):
        net = models.build(name, rng=3)
    back = bridge.from_torch(bridge.to_torch(net))
    assert type(back) is type(net)
    a, b = net.state_dict(), back.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert [type(m) for _, m in back.named_modules()] == [type(m) for _, m in net.named_modules()]


def test_round_trip_of_every_layer_is_bitwise(f64):
    for name, (make, _) in LAYERS.items():
        layer = make()
        back = bridge.from_torch(bridge.to_torch(layer))
        a, b = layer.state_dict(), back.state_dict()
        assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a), name


def test_the_twins_are_plain_pytorch_where_possible():
    """DCGAN's 4x4 stride-2 'same' is PyTorch's padding=1; the conv GAN's 3x3 one needs the Keras module."""
    g = bridge.to_torch(models.build("dcgan-generator"))
    assert [type(m).__name__ for m in g][:5] == ["Linear", "LeakyReLU", "Unflatten", "ConvTranspose2d", "LeakyReLU"]
    assert g[3].padding == (1, 1) and g[3].output_padding == (0, 0)
    assert isinstance(bridge.to_torch(models.build("conv-generator"))[6], L.KerasConvTranspose2d)
    assert isinstance(bridge.to_torch(models.build("mlp-generator"))[1], torch.nn.BatchNorm1d)
    assert isinstance(bridge.to_torch(models.build("conv-generator"))[4], torch.nn.BatchNorm2d)
    d = bridge.to_torch(models.build("dcgan-fast-discriminator"))
    assert torch.nn.utils.parametrize.is_parametrized(d[0], "weight")


def test_state_key_map_documents_the_renamings():
    keys = bridge.state_key_map(models.build("dcgan-fast-discriminator"))
    assert keys["0.layer.weight"] == "0.parametrizations.weight.original"
    assert keys["0.layer.bias"] == "0.bias" and keys["0.u"] == "0.parametrizations.weight.0._u"
    keys = bridge.state_key_map(models.build("mlp-generator"))
    assert keys["1.gamma"] == "1.weight" and keys["1.running_var"] == "1.running_var"
    twin = bridge.to_torch(models.build("mlp-generator"))
    assert set(twin.state_dict()) - set(keys.values()) == {f"{i}.num_batches_tracked" for i in (1, 4, 7)}


def test_torch_parameters_are_in_minigan_order():
    net = models.build("dcgan-fast-discriminator")
    twin = bridge.to_torch(net)
    ours = [tuple(p.shape) for p in net.parameters()]
    assert [tuple(p.shape) for p in bridge.torch_parameters(twin)] == ours
    assert [tuple(p.shape) for p in twin.parameters()] != ours  # PyTorch lists a parametrized weight last


def test_load_torch_state_and_torch_state_dict_are_inverse():
    net = models.build("cgan-discriminator", rng=1)
    other = models.build("cgan-discriminator", rng=2)
    bridge.load_torch_state(other, bridge.torch_state_dict(net))
    assert all(np.array_equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


# ----------------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------------
OPTIMIZERS = {
    "adam": lambda p: minigan.optim.Adam(p, lr=1e-2, betas=(0.5, 0.9), weight_decay=1e-3),
    "adamw": lambda p: minigan.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "sgd-momentum": lambda p: minigan.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-3),
    "sgd-nesterov": lambda p: minigan.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "sgd": lambda p: minigan.optim.SGD(p, lr=0.1),
    "rmsprop": lambda p: minigan.optim.RMSprop(p, lr=1e-2),
    "rmsprop-centered-momentum": lambda p: minigan.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True),
}


def small_net():
    # (LeakyReLU before BatchNorm: a bias right before a BatchNorm has a zero gradient, whose rounding noise
    # Adam would blow up to a full step in both libraries, differently.)
    return nn.Sequential(
        nn.spectral_norm(nn.Dense(3, 4, rng=0), rng=1), nn.LeakyReLU(0.2), nn.BatchNorm(4), nn.Dense(4, 1, rng=2)
    )


def minigan_step(net, opt, x):
    opt.zero_grad()
    loss = minigan.functions.mean(net(T(x, requires_grad=False, dtype=str(x.dtype))) ** 2)
    loss.backward()
    opt.step()


def torch_step(twin, opt, x):
    opt.zero_grad()
    loss = (twin(torch.tensor(x)) ** 2).mean()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_optimizer_state_continues_exactly(f64, kind):
    """Two minigan steps, then the third in both libraries: the same parameters (float64)."""
    rng = np.random.default_rng(0)
    net = small_net()
    opt = OPTIMIZERS[kind](net.parameters())
    for _ in range(2):
        minigan_step(net, opt, rng.normal(size=(8, 3)))
    twin = bridge.to_torch(net)
    topt = bridge.optimizer_to_torch(opt, net, twin)
    assert type(topt).__name__ == {"adam": "Adam", "adamw": "AdamW"}.get(kind, type(topt).__name__)
    x = rng.normal(size=(8, 3))
    minigan_step(net, opt, x)
    torch_step(twin, topt, x)
    theirs, keys = twin.state_dict(), bridge.state_key_map(net)
    for k, v in net.state_dict().items():
        assert np.max(np.abs(v - theirs[keys[k]].numpy())) <= 1e-12, k
    # ... and back: the optimizer's state crosses bit for bit
    back = bridge.optimizer_from_torch(topt, twin, bridge.from_torch(twin))
    a, b = opt.state_dict(), back.state_dict()
    assert a["hyperparams"] == b["hyperparams"] and a["type"] == b["type"]
    assert a["state"].keys() == b["state"].keys()
    for i, s in a["state"].items():
        for k, v in s.items():
            if k == "step":
                assert b["state"][i][k] == v
            else:  # one step apart in rounding only: the moments went through the same update
                assert np.max(np.abs(v - b["state"][i][k])) <= 1e-12, (i, k)


@pytest.mark.parametrize("kind", ["adam", "sgd-momentum", "rmsprop-centered-momentum"])
def test_optimizer_round_trip_is_bitwise(kind):
    rng = np.random.default_rng(0)
    net = small_net()
    opt = OPTIMIZERS[kind](net.parameters())
    minigan_step(net, opt, rng.normal(size=(8, 3)).astype(np.float32))
    twin = bridge.to_torch(net)
    back = bridge.optimizer_from_torch(bridge.optimizer_to_torch(opt, net, twin), twin, net)
    a, b = opt.state_dict(), back.state_dict()
    assert a["hyperparams"] == b["hyperparams"]
    for i, s in a["state"].items():
        for k, v in s.items():
            assert (b["state"][i][k] == v) if k == "step" else np.array_equal(v, b["state"][i][k])


def test_adam_to_torch_checks_the_type():
    net = small_net()
    with pytest.raises(TypeError, match="expected Adam or AdamW, got SGD"):
        bridge.adam_to_torch(minigan.optim.SGD(net.parameters()), net, bridge.to_torch(net))
    assert isinstance(
        bridge.sgd_to_torch(minigan.optim.SGD(net.parameters()), net, bridge.to_torch(net)), torch.optim.SGD
    )


# ----------------------------------------------------------------------------
# A run continued in PyTorch takes the steps minigan would have taken
# ----------------------------------------------------------------------------
def _losses(name: str):
    sp = torch.nn.functional.softplus
    relu = torch.relu
    if name == "hinge":
        return (lambda r, f: relu(1 - r).mean() + relu(1 + f).mean()), (lambda f: -f.mean())
    assert name == "non-saturating"
    return (lambda r, f: sp(-r).mean() + sp(f).mean()), (lambda f: sp(-f).mean())


def torch_train_step(G, D, g_opt, d_opt, real, z_d, z_g, loss):
    """One step as minigan's GANTrainer takes it, in PyTorch: a D update, then a G update through a frozen D."""
    d_loss, g_loss = _losses(loss)
    G.train(), D.train()
    with torch.no_grad():  # G is held constant in the D step (minigan: fake.detach())
        fake = G(z_d)
    d_opt.zero_grad()
    d_loss(D(real), D(fake)).backward()
    d_opt.step()
    saved = [b.clone() for b in D.buffers()]  # minigan's `frozen(D)`: D's buffers are put back after the G step
    D.requires_grad_(False)
    g_opt.zero_grad()
    g_loss(D(G(z_g))).backward()
    g_opt.step()
    D.requires_grad_(True)
    with torch.no_grad():
        for b, s in zip(D.buffers(), saved):
            b.copy_(s)


def cancelled_by_batchnorm(net) -> set[str]:
    """The biases right before a BatchNorm, and that BatchNorm's running mean.

    BatchNorm subtracts the batch mean, so such a bias changes nothing: its gradient is zero, and
    what either library computes for it is rounding noise (~1e-9). Adam divides by the noise's own
    size, so both libraries move that bias by up to lr per step, in directions that are noise too;
    the BatchNorm's running mean follows the bias. The function G computes in training mode does
    not depend on them at all.
    """
    out = set()
    layers = list(net._modules.items())
    for (name, layer), (next_name, after) in zip(layers, layers[1:]):
        if isinstance(after, nn.BatchNorm) and getattr(layer, "bias", None) is not None:
            out |= {f"{name}.bias", f"{next_name}.running_mean"}
    return out


@pytest.mark.parametrize("model, loss", [("mlp-gan", "non-saturating"), ("dcgan-fast", "hinge")])
def test_three_steps_in_pytorch_are_three_steps_in_minigan(tmp_path, model, loss):
    """A checkpoint after 2 steps, then 3 steps in minigan and 3 in PyTorch: the same networks (float32)."""
    shape = (784,) if model == "mlp-gan" else (1, 28, 28)

    def data(n, rng):
        return rng.uniform((n, *shape), -1.0, 1.0)

    config = TrainConfig.for_model(model, batch_size=8, loss=loss, ema=0.0)
    run = TrainingRun(config, data)
    run.train(2)
    path = tmp_path / "checkpoint.npz"
    run.save(path)

    ours = TrainingRun(config, data)  # minigan: three more steps
    ours.restore(path)
    ours.train(5)

    theirs = TrainingRun(config, data)  # PyTorch: the same checkpoint, the same numbers drawn
    theirs.restore(path)
    t = theirs.trainer
    G, D = bridge.to_torch(theirs.G), bridge.to_torch(theirs.D)
    g_opt = bridge.adam_to_torch(theirs.g_opt, theirs.G, G)
    d_opt = bridge.adam_to_torch(theirs.d_opt, theirs.D, D)
    latent = config.resolved_latent_dim()
    for _ in range(3):
        real = torch.from_numpy(B.to_numpy(data(config.batch_size, t.data_rng)))
        z_d = torch.from_numpy(B.to_numpy(t.noise_rng.normal((config.batch_size, latent))))
        z_g = torch.from_numpy(B.to_numpy(t.noise_rng.normal((config.batch_size, latent))))
        torch_train_step(G, D, g_opt, d_opt, real, z_d, z_g, loss)

    worst = 0.0
    for mine, twin in ((ours.G, G), (ours.D, D)):
        keys = bridge.state_key_map(mine)
        state = twin.state_dict()
        for k, v in mine.state_dict().items():
            d = float(np.max(np.abs(v - state[keys[k]].numpy())))
            if k in cancelled_by_batchnorm(mine):
                assert d <= 3 * 3 * config.lr, k  # noise steps: at most lr per step (Adam), a few running-mean moves
            else:
                worst = max(worst, d)
    print(f"{model}: largest difference {worst:.2e}")
    assert worst <= 1e-5, worst  # measured: 1.2e-7 for both
    assert int(g_opt.state[bridge.torch_parameters(G)[0]]["step"]) == 5


# ----------------------------------------------------------------------------
# minigan export --to torch / minigan import
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fast")
    argv = ["train", "--model", "dcgan-fast", "--dataset", "glyphs", "--limit", "64", "--batch-size", "8"]
    assert cli.main([*argv, "--steps", "2", "--quiet", "--out", str(out)]) == 0
    return out


def test_export_then_import_gives_back_the_checkpoint(fast_run, tmp_path, capsys):
    folder = tmp_path / "torch"
    assert (
        cli.main(["export", "--checkpoint", str(fast_run / "checkpoint.npz"), "--to", "torch", "--out", str(folder)])
        == 0
    )
    names = {p.name for p in folder.iterdir()}
    assert {
        "G.pt",
        "D.pt",
        "G_ema.pt",
        "G_optimizer.pt",
        "D_optimizer.pt",
        "fixed.pt",
        "models.py",
        "minigan.json",
    } <= names
    back = tmp_path / "back.npz"
    assert cli.main(["import", "--from", str(folder), "--out", str(back)]) == 0
    a, b = checkpoint.read(fast_run / "checkpoint.npz"), checkpoint.read(back)
    assert sorted(a.model_names()) == sorted(b.model_names()) and a.step == b.step
    for m in a.model_names():
        sa, sb = a.model_state(m), b.model_state(m)
        assert list(sa) == list(sb)
        assert all(sa[k].dtype == sb[k].dtype and np.array_equal(sa[k], sb[k]) for k in sa), m
        assert a.metadata["models"][m]["generators"] == b.metadata["models"][m]["generators"]
    for o in ("G", "D"):
        oa, ob = a.optimizer_state(o), b.optimizer_state(o)
        assert oa["hyperparams"] == ob["hyperparams"] and oa["state"].keys() == ob["state"].keys()
        for i, s in oa["state"].items():
            assert all(np.array_equal(v, ob["state"][i][k]) for k, v in s.items())
    assert a.metadata["rngs"] == b.metadata["rngs"] and a.extra == b.extra
    # the imported checkpoint is a run's: sample from it, and resume training from it
    assert cli.main(["sample", "--checkpoint", str(back), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    back.rename(resumed / "checkpoint.npz")
    argv = ["train", "--model", "dcgan-fast", "--dataset", "glyphs", "--limit", "64", "--batch-size", "8"]
    assert cli.main([*argv, "--steps", "3", "--quiet", "--resume", "--out", str(resumed)]) == 0
    assert checkpoint.read(resumed / "checkpoint.npz").step == 3


def test_the_generated_models_py_needs_only_torch(fast_run, tmp_path):
    folder = tmp_path / "torch"
    assert cli.main(["export", "--checkpoint", str(fast_run / "checkpoint.npz"), "--out", str(folder)]) == 0
    code = (
        "import sys; sys.modules['minigan'] = None\n"  # minigan cannot be imported: plain PyTorch only
        "import numpy as np, torch, models\n"
        "run = models.load()\n"
        "z = torch.from_numpy(np.load('z.npy'))\n"
        "np.save('y.npy', run['G'].eval()(z).detach().numpy())\n"
        "print(sorted(run), type(run['G_optimizer']).__name__, models.STEP)\n"
    )
    z = np.random.default_rng(0).normal(size=(4, 64)).astype(np.float32)
    np.save(folder / "z.npy", z)
    r = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Adam 2" in r.stdout
    G = models.build("dcgan-fast-generator")
    G.load_state_dict(checkpoint.read(fast_run / "checkpoint.npz").model_state("G"))
    G.eval()
    with minigan.no_grad():
        ours = host(G(Tensor(B.asarray(z))))
    assert np.max(np.abs(ours - np.load(folder / "y.npy"))) <= 1e-5


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------
class Mine(nn.Module):
    def forward(self, x):
        return x


def test_a_layer_without_a_twin_is_named():
    with pytest.raises(TypeError, match=r"^1 \(Mine\) has no PyTorch twin"):
        bridge.to_torch(nn.Sequential(nn.Dense(2, 2, rng=0), Mine()))
    with pytest.raises(TypeError, match=r"^1 \(GELU\): has no minigan twin"):
        bridge.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GELU()))
    with pytest.raises(TypeError, match="dilation"):
        bridge.from_torch(torch.nn.Conv2d(2, 2, 3, dilation=2))
    with pytest.raises(TypeError, match="momentum"):
        bridge.from_torch(torch.nn.BatchNorm1d(3, momentum=None))


def test_unsupported_optimizers_are_refused():
    net = small_net()
    twin = bridge.to_torch(net)
    with pytest.raises(ValueError, match="amsgrad"):
        bridge.optimizer_from_torch(torch.optim.Adam(bridge.torch_parameters(twin), amsgrad=True), twin, net)
    with pytest.raises(TypeError, match="Adagrad has no minigan twin"):
        bridge.optimizer_from_torch(torch.optim.Adagrad(twin.parameters()), twin, net)
    with pytest.raises(ValueError, match="parameters"):
        bridge.load_torch_optimizer_state(minigan.optim.Adam(net.parameters()), {"param_groups": [{"params": [0]}]})


def test_load_torch_state_reports_every_difference():
    net = nn.Sequential(nn.Dense(2, 3, rng=0), nn.BatchNorm(3))
    state = bridge.torch_state_dict(net)
    state["0.weight"] = torch.zeros(4, 2)
    state["9.weight"] = torch.zeros(1)
    del state["1.running_var"]
    with pytest.raises(ValueError, match="unexpected keys 9.weight"):
        bridge.load_torch_state(net, state)
    del state["9.weight"]
    with pytest.raises(ValueError, match="(?s)missing: 1.running_var.*mismatched: 0.weight"):
        bridge.load_torch_state(net, state)


def test_cli_errors_are_one_line(fast_run, tmp_path, capsys):
    def error(*argv):
        assert cli.main(list(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("minigan: error: ") and "\n" not in err, err
        return err

    assert "no checkpoint at" in error(
        "export", "--checkpoint", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "x")
    )
    (tmp_path / "bad.npz").write_bytes(b"not a checkpoint")
    assert "--checkpoint" in error("export", "--checkpoint", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "x"))
    (tmp_path / "file").write_text("")
    assert "give a folder" in error(
        "export", "--checkpoint", str(fast_run / "checkpoint.npz"), "--out", str(tmp_path / "file")
    )
    assert "no such folder" in error("import", "--from", str(tmp_path / "nope"), "--out", str(tmp_path / "c.npz"))
    assert "no minigan.json" in error("import", "--from", str(tmp_path), "--out", str(tmp_path / "c.npz"))
    folder = tmp_path / "torch"
    assert cli.main(["export", "--checkpoint", str(fast_run / "checkpoint.npz"), "--out", str(folder)]) == 0
    (folder / "D.pt").unlink()
    assert "D.pt is missing" in error("import", "--from", str(folder), "--out", str(tmp_path / "c.npz"))
    (folder / "D.pt").write_bytes(b"garbage")
    assert "weights_only" in error("import", "--from", str(folder), "--out", str(tmp_path / "c.npz"))
    capsys.readouterr()


def test_without_torch_the_cli_says_how_to_install_it(fast_run, tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from minigan import cli\n"
        f"ckpt, out = {str(fast_run / 'checkpoint.npz')!r}, {str(tmp_path / 'x')!r}\n"
        "sys.exit(cli.main(['export', '--checkpoint', ckpt, '--out', out]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pip install 'minigan[torch]'" in r.stderr, r.stderr


def test_import_minigan_and_the_interop_package_do_not_import_torch():
    code = (
        "import sys, minigan, minigan.interop, minigan.cli\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'torch'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


# ----------------------------------------------------------------------------
# The distributed example (examples/ddp_gan.py): two processes end with identical parameters
# ----------------------------------------------------------------------------
@pytest.mark.slow
def test_ddp_example_on_two_processes(tmp_path):
    pytest.importorskip("torch.distributed")
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        str(root / "examples" / "ddp_gan.py"),
    ]
    r = subprocess.run(
        [*cmd, "--steps", "4", "--images", "256", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "parameters identical on all 2 processes: True (largest difference: G 0, D 0)" in r.stdout, r.stdout
    assert cli.main(["import", "--from", str(out), "--out", str(tmp_path / "c.npz")]) == 0
    assert checkpoint.read(tmp_path / "c.npz").step == 4
