"""The seed architectures: registry, metadata, shapes, logits, reproducible construction."""

from __future__ import annotations

import numpy as np
import pytest

import minigan
import minigan.nn as nn
from minigan import models

SEEDS = [
    "mlp-discriminator",
    "mlp-generator",
    "conv-discriminator",
    "conv-generator",
    "dcgan-discriminator",
    "dcgan-generator",
    "gaussian-1d-generator",
    "gaussian-1d-discriminator",
]


# Conditional (label-taking) models, registered after the seed models; tested with the trainer.
CONDITIONAL = ["cgan-generator", "cgan-discriminator"]

# The fast MNIST recipe's pair (minigan's own, not a seed), registered last.
FAST = ["dcgan-fast-generator", "dcgan-fast-discriminator"]


def test_registry_lists_every_seed_model():
    assert models.names() == SEEDS + CONDITIONAL + FAST


@pytest.mark.parametrize("name", SEEDS + FAST)
def test_forward_shapes_match_the_metadata(name):
    meta = models.info(name)
    model = models.build(name, rng=0)
    x = minigan.tensor(np.random.default_rng(0).normal(size=(3,) + meta.input_shape))
    y = model(x)
    assert y.shape == (3,) + meta.output_shape
    assert "float32" in str(y.dtype)


@pytest.mark.parametrize("name", SEEDS + FAST)
def test_metadata_is_consistent(name):
    meta = models.info(name)
    assert meta.name == name and meta.role in ("generator", "discriminator")
    assert models.info(meta.pair).pair == name and models.info(meta.pair).role != meta.role
    if meta.role == "generator":
        assert meta.input_shape == (meta.latent_dim,)
        assert meta.output_shape == models.info(meta.pair).input_shape  # G's samples fit D
        assert meta.output in ("tanh", "sigmoid", "linear")
    else:
        assert meta.latent_dim is None and meta.output == "logits" and meta.output_shape == (1,)


@pytest.mark.parametrize("name", [n for n in SEEDS if models.info(n).role == "discriminator"])
def test_discriminators_end_with_a_dense_logit_not_a_sigmoid(name):
    model = models.build(name)
    assert isinstance(list(model)[-1], nn.Dense)
    assert not any(isinstance(m, nn.Sigmoid) for _, m in model.named_modules())


@pytest.mark.parametrize("name", ["mlp-generator", "conv-generator"])
def test_tanh_generators_output_in_range(name):
    G = models.build(name, rng=1)
    z = minigan.tensor(np.random.default_rng(0).normal(size=(4, 32)) * 10)
    y = G(z).numpy()
    assert np.all(np.abs(y) <= 1.0)


@pytest.mark.parametrize("name", SEEDS + FAST)
def test_same_seed_gives_bit_identical_models(name):
    a, b = models.build(name, rng=3).state_dict(), models.build(name, rng=3).state_dict()
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    c = models.build(name, rng=minigan.Generator(4)).state_dict()
    assert any(a[k].tobytes() != c[k].tobytes() for k in a)


def test_options_change_shapes():
    G = models.build("conv-generator", latent_dim=64)
    assert models.info("conv-generator", latent_dim=64).input_shape == (64,)
    assert G[0].in_features == 64
    meta = models.info("dcgan-generator", image_size=24)  # the guide's 128*6*6 seed grid
    G = models.build("dcgan-generator", image_size=24)
    assert G[0].out_features == 128 * 6 * 6 and meta.output_shape == (1, 24, 24)
    D = models.build("dcgan-discriminator", image_size=24)
    y = D(G(minigan.tensor(np.zeros((2, 100)))))
    assert y.shape == (2, 1)


def test_dcgan_models_use_the_dcgan_initialisation():
    G = models.build("dcgan-generator", rng=0)
    w = G[3].weight.numpy()
    assert abs(w.std() - 0.02) < 0.001
    assert models.info("dcgan-generator").defaults["init"] == "dcgan_normal"
    G = models.build("dcgan-generator", rng=0, init="he_normal")
    assert abs(G[3].weight.numpy().std() - 0.02) > 0.005


def test_batchnorm_in_seed_generators_uses_keras_defaults():
    bns = [m for _, m in models.build("mlp-generator").named_modules() if isinstance(m, nn.BatchNorm)]
    assert [b.num_features for b in bns] == [128, 256, 512]
    assert all(b.momentum == 0.01 and b.eps == 1e-3 for b in bns)  # Keras momentum 0.99, eps 1e-3


def test_unknown_names_and_options_are_rejected():
    with pytest.raises(ValueError, match="unknown model 'gan'; choose one of: mlp-discriminator"):
        models.build("gan")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['latent'\]"):
        models.build("mlp-generator", latent=3)
    with pytest.raises(ValueError, match="multiple of 4"):
        models.build("dcgan-generator", image_size=30)
    with pytest.raises(ValueError, match="already registered"):
        models.register("mlp-generator", lambda rng: nn.Sequential(), lambda: None)


def test_register_a_new_model():
    name = "test-tiny-critic"

    def build(rng, hidden=4):
        return nn.Sequential(nn.Dense(2, hidden, rng=rng), nn.ReLU(), nn.Dense(hidden, 1, rng=rng))

    def meta(hidden=4):
        return models.ModelInfo(name, "discriminator", "tiny", (2,), (1,), "logits")

    models.register(name, build, meta)
    try:
        assert name in models.names()
        assert models.summarize(name).total == 2 * 4 + 4 + 4 + 1
        assert models.build(name, hidden=3)[0].out_features == 3
    finally:
        models._REGISTRY.pop(name)
