"""minigan.metrics: the scores on inputs whose answer is known, the shipped classifier, the CLI.

The scores are plain functions of host arrays, so most tests feed them synthetic features
(Gaussian clusters standing in for the ten digit classes) with known closed forms. The
classifier tests use the shipped weights on the glyph digits (no MNIST needed); the tests on
real MNIST (accuracy, IS of the test set) are slow and skip without /work/shared/data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
from minigan import checkpoint, cli, metrics
from minigan.data import DataLoader, toy
from minigan.gan.run import TrainConfig, TrainingRun

MNIST_DIR = Path("/work/shared/data")


def clusters(
    n: int, classes=range(10), dim: int = 16, spread: float = 0.5, seed: int = 0, iid: bool = False
) -> np.ndarray:
    """``n`` points from Gaussian clusters (one per class) at fixed random centres: evenly many per
    class, or with ``iid`` a class drawn at random for each point (an i.i.d. sample of the mixture)."""
    centres = np.random.default_rng(1234).normal(0.0, 3.0, size=(10, dim))
    rng = np.random.default_rng(seed)
    classes = np.asarray(list(classes))
    labels = classes[rng.integers(0, len(classes), n)] if iid else classes[np.arange(n) % len(classes)]
    return centres[labels] + spread * rng.normal(size=(n, dim))


# ----------------------------------------------------------------------------
# Inception Score
# ----------------------------------------------------------------------------
def test_inception_score_extremes():
    one_class = np.zeros((1000, 10))
    one_class[:, 3] = 1.0
    assert metrics.inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-9)
    uniform = np.full((1000, 10), 0.1)  # no confident image: 1 too
    assert metrics.inception_score(uniform)[0] == pytest.approx(1.0, abs=1e-9)
    balanced = np.eye(10)[np.arange(1000) % 10]  # confident and balanced: the number of classes
    mean, std = metrics.inception_score(balanced)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_one_class_with_soft_predictions_is_about_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 10))
    logits[:, 7] += 8.0  # every image confidently a 7
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert 1.0 <= metrics.inception_score(probs)[0] < 1.05


def test_inception_score_counts_the_classes():
    """Confident predictions spread evenly over k classes: IS = k."""
    for k in (2, 5, 8):
        probs = np.eye(10)[np.arange(1000) % k]
        assert metrics.inception_score(probs, splits=5)[0] == pytest.approx(k, rel=1e-6)


# ----------------------------------------------------------------------------
# Frechet distance
# ----------------------------------------------------------------------------
def test_fid_of_a_distribution_with_itself_is_zero():
    f = clusters(2000)
    assert metrics.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_the_closed_form_for_diagonal_gaussians():
    mu_a, mu_b = np.array([1.0, 0.0, 2.0]), np.array([0.0, 0.0, -1.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = metrics.frechet_from_stats(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fid_matches_scipy_sqrtm_on_non_commuting_covariances():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy not installed: reference sqrtm unavailable")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    expected = (mu_a - mu_b) @ (mu_a - mu_b) + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert metrics.frechet_from_stats(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-8)


def test_fid_handles_singular_covariances():
    """One repeated point (covariance 0) and rank-deficient features: finite, no complex round-off."""
    f = clusters(500)
    same = np.repeat(f[:1], 500, axis=0)
    value = metrics.frechet_distance(same, f)
    assert math.isfinite(value) and value > 0
    low_rank = f.copy()
    low_rank[:, 8:] = 0.0
    assert math.isfinite(metrics.frechet_distance(low_rank, f))


def test_fid_grows_monotonically_with_noise():
    real, fake = clusters(3000, seed=1), clusters(3000, seed=2)
    rng = np.random.default_rng(5)
    noise = rng.normal(size=fake.shape)
    values = [metrics.frechet_distance(fake + s * noise, real) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert values[0] < 0.1  # two samples of one distribution: only the small-N bias
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_fid_grows_monotonically_as_classes_are_dropped():
    real = clusters(3000, seed=1)
    values = [metrics.frechet_distance(clusters(3000, range(k), seed=2), real) for k in (10, 8, 6, 4, 2, 1)]
    assert all(a < b for a, b in zip(values, values[1:])), values


@given(
    shift=st.floats(-5, 5),
    scale=st.floats(0.1, 10),
    seed=st.integers(0, 100),
)
def test_fid_is_invariant_to_shifts_and_scales_quadratically(shift, scale, seed):
    a, b = clusters(300, seed=seed), clusters(300, range(5), seed=seed + 1)
    base = metrics.frechet_distance(a, b)
    assert metrics.frechet_distance(a + shift, b + shift) == pytest.approx(base, rel=1e-6, abs=1e-6)
    assert metrics.frechet_distance(scale * a, scale * b) == pytest.approx(scale**2 * base, rel=1e-6)
    assert metrics.frechet_distance(b, a) == pytest.approx(base, rel=1e-6)  # symmetric


# ----------------------------------------------------------------------------
# KID
# ----------------------------------------------------------------------------
def _mmd2_biased(x: np.ndarray, y: np.ndarray) -> float:
    k = lambda a, b: (a @ b.T / a.shape[1] + 1.0) ** 3  # noqa: E731
    return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())


def test_kid_is_unbiased_for_two_samples_of_one_distribution():
    """Many independent pairs of small samples: the mean KID is ~0, the biased MMD^2 is not."""
    kids, biased = [], []
    for seed in range(40):
        # i.i.d. samples: with evenly many points per class (a stratified sample) the within-set
        # similarities are lower than i.i.d. ones and the unbiased estimate comes out negative.
        x, y = clusters(50, seed=2 * seed, iid=True), clusters(50, seed=2 * seed + 1, iid=True)
        kids.append(metrics.kernel_distance(x, y, subsets=1, subset_size=50, seed=seed)[0])
        biased.append(_mmd2_biased(x, y))
    kids, biased = np.asarray(kids), np.asarray(biased)
    sem = kids.std(ddof=1) / math.sqrt(len(kids))
    assert abs(kids.mean()) < 3 * sem
    assert biased.mean() > 10 * sem  # what the diagonal terms would add


def test_kid_of_identical_sets_and_of_different_ones():
    f = clusters(2000, seed=1, iid=True)
    same, spread = metrics.kernel_distance(f, clusters(2000, seed=2, iid=True), subsets=20, subset_size=500)
    assert abs(same) < 3 * spread
    far, _ = metrics.kernel_distance(f, clusters(2000, range(3), seed=2), subsets=20, subset_size=500)
    assert far > 10 * max(abs(same), spread)


# ----------------------------------------------------------------------------
# Precision and recall
# ----------------------------------------------------------------------------
def test_precision_recall_by_hand_in_one_dimension():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # k = 1: every ball has radius 1
    fake = np.array([[0.5], [10.0], [10.2], [11.0]])  # k = 1 radii: 9.5, 0.2, 0.2, 0.8
    pr = metrics.precision_recall(real, fake, k=1)
    assert pr["precision"] == 0.25  # only 0.5 is within 1 of a real point
    # The lone fake point 0.5 has its nearest fake neighbour 9.5 away: its ball covers every real
    # point. An outlier inflates recall: why the paper uses k = 3 and large samples.
    assert pr["recall"] == 1.0


def test_precision_recall_of_the_same_distribution_and_of_dropped_modes():
    real = clusters(1000, seed=1, dim=4)  # in 4-D, 3-NN balls of 100 points per cluster cover it well
    same = metrics.precision_recall(real, clusters(1000, seed=2, dim=4))
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    half = metrics.precision_recall(real, clusters(1000, range(5), seed=2, dim=4))
    assert half["precision"] > 0.9 and 0.4 < half["recall"] < 0.55  # quality kept, half the modes lost
    off = metrics.precision_recall(real, clusters(1000, seed=2, dim=4) + 100.0)
    assert off == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_needs_more_points_than_k():
    with pytest.raises(ValueError, match="more than k"):
        metrics.precision_recall(np.zeros((3, 2)), np.zeros((3, 2)), k=3)


# ----------------------------------------------------------------------------
# Class coverage
# ----------------------------------------------------------------------------
def test_class_coverage():
    balanced = metrics.class_coverage(np.eye(10)[np.arange(1000) % 10])
    assert balanced["classes_covered"] == 10 and balanced["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert balanced["histogram"] == pytest.approx([0.1] * 10)
    single = metrics.class_coverage(np.eye(10)[np.full(1000, 4)])
    assert single["classes_covered"] == 1 and single["kl_to_uniform"] == pytest.approx(math.log(10))
    labels = np.r_[np.full(995, 2), np.full(5, 7)]  # 0.5% sevens: below the 1% a class needs
    assert metrics.class_coverage(np.eye(10)[labels])["classes_covered"] == 1
    assert metrics.class_coverage(np.eye(10)[labels], min_share=0.01)["classes_covered"] == 2


# ----------------------------------------------------------------------------
# Parzen window
# ----------------------------------------------------------------------------
def _gauss_logpdf(x: np.ndarray, mu: np.ndarray, var: float) -> np.ndarray:
    d = x.shape[1]
    return -0.5 * ((x - mu) ** 2).sum(1) / var - 0.5 * d * math.log(2 * math.pi * var)


def test_parzen_with_one_sample_is_a_gaussian_density():
    rng = np.random.default_rng(0)
    test = rng.normal(size=(300, 5))
    centre = rng.normal(size=(1, 5))
    for sigma in (0.01, 0.3, 2.0):  # 0.01: exp(-d / 2 sigma^2) underflows unless shifted first
        samples = np.repeat(centre, 2, axis=0)  # two identical kernels = one
        ll, sem = metrics.parzen_log_likelihood(samples, test, sigma)
        expected = _gauss_logpdf(test, centre, sigma**2)
        assert ll == pytest.approx(expected.mean(), rel=1e-6)
        assert sem == pytest.approx(expected.std(ddof=1) / math.sqrt(300), rel=1e-6)


def test_parzen_on_a_toy_gaussian_matches_the_closed_form():
    """Samples of N(0, s^2 I): the Parzen density tends to N(0, (s^2 + sigma^2) I), whose expected
    log-density at x ~ N(0, s^2 I) is -D/2 log(2 pi (s^2 + sigma^2)) - D s^2 / (2 (s^2 + sigma^2))."""
    rng = np.random.default_rng(1)
    d, s, sigma = 2, 1.0, 0.5
    samples, test = rng.normal(0, s, size=(5000, d)), rng.normal(0, s, size=(1000, d))
    var = s**2 + sigma**2
    expected = -0.5 * d * math.log(2 * math.pi * var) - d * s**2 / (2 * var)
    ll, sem = metrics.parzen_log_likelihood(samples, test, sigma)
    assert abs(ll - expected) < 4 * sem + 0.01, (ll, expected, sem)


def test_parzen_select_sigma_picks_the_best_of_the_grid():
    rng = np.random.default_rng(2)
    samples, validation = rng.normal(size=(500, 3)), rng.normal(size=(300, 3))
    grid = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]
    lls = [metrics.parzen_log_likelihood(samples, validation, s)[0] for s in grid]
    chosen = metrics.parzen_select_sigma(samples, validation, grid=grid)
    assert chosen == grid[int(np.argmax(lls))]
    assert 0.1 < chosen < 1.6  # neither end: too narrow overfits the samples, too wide blurs them


# ----------------------------------------------------------------------------
# The shipped classifier
# ----------------------------------------------------------------------------
def test_the_sidecar_records_how_the_weights_were_made():
    npz, sidecar = metrics.classifier.weights_paths("mnist")
    assert npz.is_file() and npz.stat().st_size < 1_000_000
    info = json.loads(sidecar.read_text())
    assert info["test_accuracy"] >= 0.99
    assert info["test_inception_score"][0] >= 9.8
    assert info["seed"] == 0 and info["n_train"] == 60000 and info["n_test"] == 10000
    assert info["command"].startswith("python -m minigan.metrics.train_classifier")
    assert info["trained_at"] and info["train_seconds"] > 0
    assert metrics.load_classifier().info == info


def test_unknown_classifier_name():
    with pytest.raises(ValueError, match="no classifier for 'fashion-mnist'"):
        metrics.load_classifier("fashion-mnist")


@pytest.fixture(scope="module")
def glyphs():
    from minigan.data import load_dataset

    return load_dataset("glyphs", "test", n=100, seed=3)


def test_the_shipped_classifier_reads_glyph_digits(glyphs):
    clf = metrics.load_classifier()
    probs = clf.probs(glyphs.images)
    assert probs.shape == (100, 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert (probs.argmax(1) == glyphs.labels).mean() >= 0.8  # font digits, never seen in training
    assert clf.features(glyphs.images).shape == (100, 128)
    assert clf.logits(glyphs.images).shape == (100, 10)


def test_the_classifier_takes_tensors_flat_images_and_rejects_other_shapes(glyphs):
    clf = metrics.load_classifier()
    x = glyphs.images[:8]
    expected = clf.logits(x)
    np.testing.assert_allclose(clf.logits(minigan.tensor(x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(clf.logits(x.reshape(8, 784)), expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        clf.logits(np.zeros((8, 3, 28, 28), dtype=np.float32))


def test_noise_on_glyphs_raises_fid_and_lowers_is(glyphs):
    """The whole chain on images: more noise, worse scores."""
    clf = metrics.load_classifier()
    real = glyphs.images[:50]
    fake_clean = glyphs.images[50:]
    rng = np.random.default_rng(0)
    noise = rng.normal(size=fake_clean.shape).astype(np.float32)
    fids, iss = [], []
    for s in (0.0, 0.5, 1.5):
        fake = np.clip(fake_clean + s * noise, -1, 1)
        values = metrics.evaluate_images(fake, real, clf, kid_subsets=5, splits=5)
        fids.append(values["fid"])
        iss.append(values["is"])
    assert fids[0] < fids[1] < fids[2], fids
    assert iss[0] > iss[2], iss


# ----------------------------------------------------------------------------
# Evaluating generators and checkpoints
# ----------------------------------------------------------------------------
def _tiny_checkpoint(tmp_path: Path, model: str = "mlp-gan") -> Path:
    """A `minigan train`-style checkpoint of an untrained run (no data set needed to score it)."""
    config = TrainConfig.for_model(model, batch_size=8, steps=1)
    shape = (16, 784) if config.spec.flat else (16, 1, 28, 28)
    if config.spec.data != "images":
        data = toy.ring_2d()
    else:
        data = DataLoader(np.zeros(shape, dtype=np.float32), batch_size=8, seed=0)
    run = TrainingRun(config, data, {"name": "glyphs"})
    path = tmp_path / f"{model}.npz"
    run.save(path)
    return path


def test_evaluate_images_returns_a_flat_dict_of_numbers(glyphs):
    ref = metrics.reference(glyphs.images[:50], parzen_test=glyphs.images[:50], parzen_validation=glyphs.images[50:])
    values = metrics.evaluate_images(glyphs.images[50:], ref, kid_subsets=5)
    expected = {"is", "is_std", "fid", "kid", "kid_std", "precision", "recall", "classes_covered", "kl_to_uniform"}
    assert expected | {"parzen_ll", "parzen_sem", "parzen_sigma"} <= set(values)
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in values.values())
    no_parzen = metrics.evaluate_images(glyphs.images[50:], ref, parzen=False, kid_subsets=5)
    assert "parzen_ll" not in no_parzen and no_parzen["fid"] == pytest.approx(values["fid"])


def test_evaluate_generator_leaves_the_generator_as_it_was(glyphs):
    config = TrainConfig.for_model("mlp-gan")
    from minigan import models

    G = models.build("mlp-generator", rng=0)
    before = {k: v.copy() for k, v in G.state_dict().items()}
    G.train()
    a = metrics.evaluate_generator(
        G, 40, real_images=glyphs.images[:40], latent_dim=config.resolved_latent_dim(), kid_subsets=3, splits=4
    )
    b = metrics.evaluate_generator(
        G, 40, real_images=glyphs.images[:40], latent_dim=config.resolved_latent_dim(), kid_subsets=3, splits=4
    )
    assert a == b  # its own seeded noise: the same samples each time
    assert all(m.training for _, m in G.named_modules())  # back in training mode
    for k, v in G.state_dict().items():  # BatchNorm's running statistics untouched in eval mode
        np.testing.assert_array_equal(v, before[k])


def test_generate_rescales_sigmoid_generators():
    class Half(minigan.nn.Module):
        def forward(self, z):
            return minigan.functions.sigmoid(z[:, :1] * 0.0) * minigan.tensor(np.ones((1, 784), np.float32))

    x = metrics.generate(Half(), 3, 4, value_range=(0.0, 1.0))
    assert x.shape == (3, 1, 28, 28)
    np.testing.assert_allclose(x, 0.0, atol=1e-6)  # sigmoid(0) = 0.5 in [0, 1] is 0 in [-1, 1]


def test_mode_metrics_is_the_toy_one():
    assert metrics.mode_metrics is toy.mode_metrics


def test_evaluate_cli_writes_the_metrics(tmp_path, capsys):
    ckpt = _tiny_checkpoint(tmp_path)
    out = tmp_path / "eval" / "m.json"
    assert cli.main(["evaluate", "--checkpoint", str(ckpt), "--n", "40", "--out", str(out)]) == 0
    values = json.loads(out.read_text())
    for key in ("is", "fid", "kid", "precision", "recall", "classes_covered", "kl_to_uniform", "parzen_ll"):
        assert math.isfinite(values[key]), key
    assert values["dataset"] == "glyphs" and values["n"] == 40 and values["model"] == "mlp-gan"
    text = capsys.readouterr().out
    assert "FID" in text and str(out) in text


def test_evaluate_cli_on_a_2d_toy_gives_mode_metrics(tmp_path):
    ckpt = _tiny_checkpoint(tmp_path, "ring-2d")
    out = tmp_path / "ring.json"
    assert cli.main(["evaluate", "--checkpoint", str(ckpt), "--n", "100", "--out", str(out)]) == 0
    values = json.loads(out.read_text())
    assert values["n_modes"] == 8 and 0 <= values["modes"] <= 8


def _check_one_line_error(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("minigan") and message in err, err


def test_evaluate_misuse_is_one_line(capsys, tmp_path, monkeypatch):
    _check_one_line_error(capsys, ["evaluate"], "--checkpoint")
    _check_one_line_error(capsys, ["evaluate", "--checkpoint", "no/such.npz"], "no checkpoint at no/such.npz")
    _check_one_line_error(capsys, ["evaluate", "--checkpoint", "x.npz", "--n", "5"], "must be >= 10")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    _check_one_line_error(capsys, ["evaluate", "--checkpoint", str(bad)], "--checkpoint: ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    ckpt = _tiny_checkpoint(tmp_path)
    argv = ["evaluate", "--checkpoint", str(ckpt), "--dataset", "mnist", "--data-dir", str(tmp_path / "none")]
    _check_one_line_error(capsys, argv, "--dataset mnist:")


def test_train_eval_every_logs_the_metrics(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "glyphs", "--limit", "64", "--batch-size", "16", "--steps", "4", "-q"]
    assert cli.main([*argv, "--eval-every", "3", "--eval-n", "30", "--out", str(out)]) == 0
    lines = (out / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert {"eval_is", "eval_fid", "eval_kid", "eval_precision", "eval_recall"} <= set(header)
    col = header.index("eval_fid")
    filled = [i for i, line in enumerate(lines[1:], start=1) if line.split(",")[col]]
    assert filled == [3, 4]  # every 3 steps, and the final generator
    m = json.loads((out / "metrics.json").read_text())
    assert m["eval"]["step"] == 4 and math.isfinite(m["eval"]["fid"]) and m["eval"]["n"] == 30
    # Evaluating draws from its own seeded stream and leaves BatchNorm's statistics alone: the
    # weights end bit for bit as in a run without it.
    plain = tmp_path / "plain"
    assert cli.main([*argv, "--out", str(plain)]) == 0
    a, b = (checkpoint.read(p / "checkpoint.npz") for p in (out, plain))
    for net in ("G", "D"):
        for key, value in a.model_state(net).items():
            np.testing.assert_array_equal(value, b.model_state(net)[key], err_msg=f"{net}/{key}")


def test_eval_every_misuse(capsys):
    _check_one_line_error(capsys, ["train", "--model", "ring-2d", "--eval-every", "5"], "--eval-every applies to")
    _check_one_line_error(capsys, ["train", "--model", "gaussian-1d", "--eval-every", "5"], "--eval-every does not")


# ----------------------------------------------------------------------------
# Real MNIST (slow; skipped without the data)
# ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not (MNIST_DIR / "mnist").is_dir(), reason="needs MNIST in /work/shared/data")
def test_the_classifier_on_the_mnist_test_set():
    from minigan.data import load_dataset

    test = load_dataset("mnist", "test", data_dir=MNIST_DIR, download=False)
    clf = metrics.load_classifier()
    probs, feats = clf.probs_and_features(test.images)
    assert (probs.argmax(1) == test.labels).mean() >= 0.99
    assert metrics.inception_score(probs)[0] >= 9.8
    # Two interleaved halves of one set: only FID's small-sample bias (~2.6 at N = 5,000). The first and
    # second halves differ more (~37): the first 5,000 test images come from NIST's cleaner training set.
    assert metrics.frechet_distance(feats[::2], feats[1::2]) < 5.0
    assert metrics.frechet_distance(feats[:5000], feats[5000:]) > metrics.frechet_distance(feats[::2], feats[1::2])


def test_label_accuracy_reads_back_the_class_each_image_was_drawn_for(glyphs):
    clf = metrics.load_classifier()
    labels = np.asarray(glyphs.labels)
    predicted = clf.probs(glyphs.images).argmax(1)
    right = metrics.evaluate_images(glyphs.images, glyphs.images, clf, parzen=False, labels=labels, kid_subset_size=50)
    assert right["label_accuracy"] == pytest.approx((predicted == labels).mean())
    per_class = [(predicted[labels == k] == k).mean() for k in np.unique(labels)]
    assert right["label_accuracy_min"] == pytest.approx(min(per_class))
    wrong = metrics.evaluate_images(
        glyphs.images, glyphs.images, clf, parzen=False, labels=(labels + 1) % 10, kid_subset_size=50
    )
    assert wrong["label_accuracy"] < 0.2 < 0.8 <= right["label_accuracy"]
    assert "label_accuracy" not in metrics.evaluate_images(glyphs.images, glyphs.images, clf, parzen=False,
                                                           kid_subset_size=50)  # fmt: skip
