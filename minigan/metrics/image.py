"""How close is an output image to its target? PSNR and SSIM, for image-to-image GANs.

A translation GAN (pix2pix, super-resolution, inpainting) has a target for every input, so its
outputs can be compared with it pixel by pixel:

- :func:`psnr`, the peak signal-to-noise ratio: ``10 log10(range^2 / MSE)`` in dB per image,
  higher is closer (identical images: infinity). It rewards the blurry average of the plausible
  answers, which is exactly what the adversarial term is there to avoid, so read it with SSIM
  and the classifier's verdict, never alone.
- :func:`ssim`, structural similarity (Wang et al., 2004): in every 7x7 window, compare the two
  images' means (luminance), standard deviations (contrast) and covariance (structure),
  ``((2 mu_a mu_b + C1)(2 cov_ab + C2)) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))`` with
  ``C1 = (0.01 range)^2`` and ``C2 = (0.03 range)^2``, then average over the windows. 1 for
  identical images; it drops for blur as well as for noise.
- :func:`masked_l1`: the mean absolute error over a region (an inpainting hole).

Images are host arrays ``(N, C, H, W)`` (or ``(N, H, W)``) in ``[-1, 1]`` by default
(``data_range=2``); the functions return one float per image as a NumPy array (take its mean
for a table).

Read next: ``minigan/metrics/evaluate.py``.
"""

from __future__ import annotations

from typing import Any

from minigan.backend import host_np as np

__all__ = ["masked_l1", "psnr", "ssim"]


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(f"the two image sets differ in shape: {a.shape} and {b.shape}")
    if a.ndim == 3:
        a, b = a[:, None], b[:, None]  # (N, H, W) -> (N, 1, H, W)
    if a.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W), got shape {a.shape}")
    return a, b


def psnr(a: Any, b: Any, data_range: float = 2.0) -> Any:
    """Peak signal-to-noise ratio of each image of ``a`` against the same image of ``b``, in dB."""
    a, b = _pair(a, b)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)  # identical images: +inf


def _window_means(x: Any, k: int) -> Any:
    """Mean of every k x k window (stride 1, no padding): (N, C, H, W) -> (N, C, H-k+1, W-k+1)."""
    c = x.cumsum(axis=2).cumsum(axis=3)  # a summed-area table: each window sum from 4 corners
    c = np.pad(c, ((0, 0), (0, 0), (1, 0), (1, 0)))
    s = c[:, :, k:, k:] - c[:, :, :-k, k:] - c[:, :, k:, :-k] + c[:, :, :-k, :-k]
    return s / (k * k)


def ssim(a: Any, b: Any, data_range: float = 2.0, window: int = 7) -> Any:
    """Structural similarity of each image of ``a`` with the same image of ``b``: the mean over
    every ``window`` x ``window`` patch and channel (uniform windows, as scikit-image's default)."""
    a, b = _pair(a, b)
    if min(a.shape[2:]) < window:
        raise ValueError(f"ssim's {window}x{window} window does not fit images of {a.shape[2]}x{a.shape[3]}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    n = window * window
    mu_a, mu_b = _window_means(a, window), _window_means(b, window)
    # Sample (co)variances over each window (n - 1 in the denominator, as scikit-image).
    var_a = (_window_means(a * a, window) - mu_a**2) * n / (n - 1)
    var_b = (_window_means(b * b, window) - mu_b**2) * n / (n - 1)
    cov = (_window_means(a * b, window) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(axis=(1, 2, 3))


def masked_l1(a: Any, b: Any, mask: Any) -> Any:
    """Mean |a - b| over the pixels where ``mask`` is true (an inpainting hole), per image.

    ``mask``: (N, 1, H, W) or (N, C, H, W) booleans (or 0/1), broadcast over the channels.
    """
    a, b = _pair(a, b)
    m = np.broadcast_to(np.asarray(mask, dtype=bool).reshape(a.shape[0], -1, *a.shape[2:]), a.shape)
    count = m.sum(axis=(1, 2, 3))
    if (count == 0).any():
        raise ValueError("masked_l1: an image's mask selects no pixel")
    return (np.abs(a - b) * m).sum(axis=(1, 2, 3)) / count
