"""How good are the generated images? Classifier-based GAN metrics (``from minigan import metrics``).

Everything is measured with a digit classifier that minigan trains itself and ships with the
package (Inception's weights are not needed, and on digits a digit classifier is the better
judge): ``metrics.load_classifier("mnist")``. Images go in as ``(N, 1, 28, 28)`` (or flat
``(N, 784)``) with pixels in ``[-1, 1]``, host arrays or Tensors; scores come out as floats.

::

    from minigan import metrics

    clf = metrics.load_classifier()                 # .probs, .features, .logits, .info
    p, f = clf.probs(fake), clf.features(fake)
    metrics.inception_score(p)                      # (mean, std) over 10 splits, 1..10
    metrics.frechet_distance(f, clf.features(real)) # FID on the classifier's 128 features
    metrics.kernel_distance(f, f_real)              # KID (mean, std): unbiased MMD^2
    metrics.precision_recall(f_real, f, k=3)        # {"precision": .., "recall": ..}
    metrics.class_coverage(p)                       # histogram, KL to uniform, classes covered
    sigma = metrics.parzen_select_sigma(samples, validation)
    metrics.parzen_log_likelihood(samples, test, sigma)   # (mean, sem) nats, the GAN paper's
    metrics.evaluate_images(fake, real)             # all of the above as one flat dict
    metrics.evaluate_generator(G, n=10000, real_images=ref, latent_dim=32)
    metrics.mode_metrics(samples, mixture)          # 2-D mixtures: modes, high quality, reverse KL
    metrics.psnr(out, target), metrics.ssim(out, target)   # image-to-image: per image

On the command line: ``minigan evaluate --checkpoint runs/x/checkpoint.npz`` (writes ``runs/x/eval.json``),
and ``minigan train --eval-every N`` logs the metrics during training.

Files:

- ``classifier.py``: the network, :class:`Classifier`, :func:`load_classifier`;
- ``scores.py``: the metrics as plain functions of host arrays (read this one first);
- ``image.py``: PSNR, SSIM and masked L1 of outputs against their targets (image-to-image GANs);
- ``evaluate.py``: all of them for images, a generator or a checkpoint;
- ``train_classifier.py``: the script that trained the shipped weights (``weights/``).

Read next: ``minigan/metrics/scores.py``.
"""

from minigan.data.toy import mode_metrics
from minigan.metrics.classifier import CLASSIFIER_NAMES, Classifier, LeNet, load_classifier
from minigan.metrics.evaluate import (
    Reference,
    evaluate_checkpoint,
    evaluate_generator,
    evaluate_images,
    generate,
    mnist_reference,
    reference,
    to_unit_range,
)
from minigan.metrics.image import masked_l1, psnr, ssim
from minigan.metrics.scores import (
    class_coverage,
    frechet_distance,
    frechet_from_stats,
    gaussian_stats,
    inception_score,
    kernel_distance,
    parzen_log_likelihood,
    parzen_select_sigma,
    precision_recall,
)

__all__ = [
    "masked_l1",
    "psnr",
    "ssim",
    "CLASSIFIER_NAMES",
    "Classifier",
    "LeNet",
    "Reference",
    "class_coverage",
    "evaluate_checkpoint",
    "evaluate_generator",
    "evaluate_images",
    "frechet_distance",
    "frechet_from_stats",
    "gaussian_stats",
    "generate",
    "inception_score",
    "kernel_distance",
    "load_classifier",
    "mnist_reference",
    "mode_metrics",
    "parzen_log_likelihood",
    "parzen_select_sigma",
    "precision_recall",
    "reference",
    "to_unit_range",
]
