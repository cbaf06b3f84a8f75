"""Discriminator rejection sampling (minigan.gan.rejection): exact with the optimal discriminator."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigan
import minigan.functions as F
from minigan import nn
from minigan.gan.rejection import rejection_sample

MU, SIGMA = 0.5, 0.7  # the "data": N(0.5, 0.7^2); the generator: N(0, 1)


class IdentityG(nn.Module):
    """G(z) = z: its samples follow N(0, 1) exactly."""

    def forward(self, z):
        return z


class OptimalD(nn.Module):
    """The optimal discriminator's logit, log p_data(x) - log p_g(x), written out."""

    def forward(self, x):
        log_data = -((x - MU) ** 2) * (0.5 / SIGMA**2) - math.log(SIGMA)
        log_g = -(x**2) * 0.5
        return F.sum(log_data - log_g, axis=1, keepdims=True)


def test_with_the_optimal_discriminator_the_accepted_samples_follow_the_data():
    G, D = IdentityG(), OptimalD()
    result = rejection_sample(G, D, 4000, 1, minigan.Generator(0), gamma=0.0, eps=1e-9)
    x = result.samples[:, 0]
    assert x.shape == (4000,)
    # N(0.5, 0.7^2) from N(0, 1): mean and standard deviation within a few standard errors
    assert abs(x.mean() - MU) < 4 * SIGMA / math.sqrt(len(x))
    assert abs(x.std() - SIGMA) < 0.04
    # Acceptance is 1/M of the exact rejection sampler: M = max p_data / p_g
    xs = np.linspace(-5, 5, 100001)
    log_ratio = -((xs - MU) ** 2) * (0.5 / SIGMA**2) - math.log(SIGMA) + xs**2 * 0.5
    assert result.acceptance == pytest.approx(math.exp(-log_ratio.max()), rel=0.1)
    # Plain samples of G are far from the data's spread: the correction is what did it
    assert abs(minigan.to_numpy(minigan.Generator(0).normal((4000, 1))).std() - SIGMA) > 0.2


def test_gamma_keeps_fewer_samples_and_modes_are_restored():
    G, D = IdentityG(), OptimalD()
    G.train()
    D.train()
    loose = rejection_sample(G, D, 500, 1, minigan.Generator(1), gamma=0.0)
    strict = rejection_sample(G, D, 500, 1, minigan.Generator(1), gamma=2.0)
    assert strict.acceptance < loose.acceptance
    assert G.training and D.training


def test_too_few_accepted_samples_is_a_clear_error():
    G, D = IdentityG(), OptimalD()
    with pytest.raises(RuntimeError, match="lower gamma"):
        rejection_sample(G, D, 100, 1, minigan.Generator(0), gamma=50.0, max_draws=3000, batch_size=1000)
    with pytest.raises(ValueError, match="n >= 1"):
        rejection_sample(G, D, 0, 1, minigan.Generator(0))
