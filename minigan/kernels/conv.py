"""Fast convolutions: the textbook's three conv primitives with the same numbers, less memory traffic.

What ``minigan/functions/conv.py`` writes as one im2col and one matrix product, done here
the way a CPU likes it (measured on the project's 2-core machine, float32, batch 64):

- images copied once to channels-last (NHWC) so that every window row is contiguous;
- the batch goes through in chunks of a few images with column buffers made once and reused
  (``_batch_chunks``): the DCGAN's 100 MB buffers were fresh memory page-faulted on every call
  (conv layers 1.5-3x faster);
- each kernel puts the window copies on the input or the output side of the product, whichever
  moves less memory (a generator's 128 -> 1 last layer: a 128x smaller buffer);
- strided transposed convs as stride*stride sub-pixel phases (``_conv_transpose2d_phases``): no
  strided read-modify-write adds (the DCGAN generator's 7->14 layer 48 -> 30 ms);
- the copy loops split over threads (``B.split_batch``; NumPy copies on one core while BLAS
  uses all of them).

On a GPU (``B.column_buffer_bytes()`` is 1 GiB there) the whole batch is one chunk.
``tests/test_kernels.py`` holds every kernel equal to the textbook; ``MINIGAN_KERNELS=0``
turns them off.

Read next: ``minigan/kernels/linear.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from minigan import backend as B
from minigan.functions.conv import Conv2d, Conv2dGradWeight, ConvTranspose2d
from minigan.functions.padding import Pads, pad, tap_slices
from minigan.functions.replaceable import register

__all__ = ["FastConv2d", "FastConv2dGradWeight", "FastConvTranspose2d"]


# ----------------------------------------------------------------------------
# im2col / col2im on raw arrays
# ----------------------------------------------------------------------------
def _nhwc_padded(x: Any, pads: Pads, buf: Any = None) -> Any:
    """(n, C, H, W) -> a C-contiguous (n, H + t + b, W + l + r, C), zero-padded (negative pads crop).

    Written into ``buf[:n]`` when a buffer is given (the convolutions pad the batch a chunk at
    a time into one buffer, see _batch_chunks), else into a new array.

    Why a copy: im2col reads KH*KW shifted windows of the image. With channels last and
    contiguous, every window row is one contiguous run of memory, and the columns built from
    it come out contiguous too. Copying the (small) image once is far cheaper than gathering
    the (KH*KW times larger) columns from a channels-first or padded-by-view layout.
    """
    xp = B.xp()
    (t, b), (l, r) = pads
    h, w = x.shape[2], x.shape[3]
    x = x[:, :, max(-t, 0) : h - max(-b, 0), max(-l, 0) : w - max(-r, 0)]  # negative pads crop
    t, b, l, r = max(t, 0), max(b, 0), max(l, 0), max(r, 0)
    n, c, h, w = x.shape
    shape = (n, h + t + b, w + l + r, c)
    out = xp.empty(shape, dtype=x.dtype) if buf is None else buf[:n, ...]

    def copy(lo: int, hi: int) -> None:  # images lo..hi-1 (split_batch may run chunks in threads)
        # Zero only the border (a reused buffer holds the last chunk's pixels in the interior).
        out[lo:hi, :t, ...] = 0
        out[lo:hi, t + h :, ...] = 0
        out[lo:hi, t : t + h, :l, :] = 0
        out[lo:hi, t : t + h, l + w :, :] = 0
        # (n, C, H, W) -> (n, H, W, C)
        out[lo:hi, t : t + h, l : l + w, :] = xp.permute_dims(x[lo:hi, ...], (0, 2, 3, 1))

    B.split_batch(n, copy, work=out.size)
    return out


def _itemsize(x: Any) -> int:
    """Bytes per element of a float array (the array API has no ``.itemsize``)."""
    return B.xp().finfo(x.dtype).bits // 8


def _batch_chunks(n: int, per_image: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into runs of images whose buffers hold about ``B.column_buffer_bytes()``.

    ``per_image`` is the size in bytes of one image's share of the buffer.

    Why chunk: a column buffer is KH*KW times larger than the image it was copied from
    (100 MB for the DCGAN's last transposed conv at batch 64). Freshly allocated memory that
    large comes from the operating system each time (the C allocator maps blocks over 32 MB
    and unmaps them when freed), and touching it for the first time costs more than the copy
    itself; it has also left the cache by the time the multiply reads it. A few images at a
    time keep the buffer small, reused chunk after chunk, and still give the multiply
    thousands of rows. On a GPU the limit is large and the whole batch is one chunk.
    """
    k = max(1, min(n, B.column_buffer_bytes() // max(per_image, 1)))
    return [(lo, min(lo + k, n)) for lo in range(0, n, k)]


def _im2col(xpad: Any, kh: int, kw: int, stride: tuple[int, int], out: Any) -> Any:
    """Copy every receptive field of a padded NHWC image into a row of ``out``.

    xpad (n, PH, PW, C) -> out (n, OH, OW, KH*KW, C), returned as (n*OH*OW, KH*KW*C): the
    columns ordered (kernel row, kernel col, channel).
    """
    xp = B.xp()
    sh, sw = stride
    n, oh, ow, _, c = out.shape

    def gather(lo: int, hi: int) -> None:  # images lo..hi-1 (split_batch may run chunks in threads)
        # One strided slice per kernel tap: KH*KW copies, no Python loop over pixels.
        for i in range(kh):
            for j in range(kw):
                rows, cols_ = tap_slices(i, j, (oh, ow), stride)
                out[lo:hi, :, :, i * kw + j, :] = xpad[lo:hi, rows, cols_, :]

    B.split_batch(n, gather, work=out.size)
    return xp.reshape(out, (n * oh * ow, kh * kw * c))  # (n, OH, OW, KH*KW, C) -> (n*OH*OW, KH*KW*C): a view


def _im2col_chunks(
    x: Any, pads: Pads, k: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(lo, hi, cols)``: the im2col (n*OH*OW, KH*KW*C) of images lo..hi-1 of x (N, C, H, W).

    The batch goes a chunk at a time (_batch_chunks) through two buffers made once and reused:
    the chunk's padded NHWC images and its columns. So ``cols`` is valid only until the next
    chunk is yielded; the caller multiplies it at once.
    """
    xp = B.xp()
    n, c, h, w = x.shape
    (kh, kw), (oh, ow), ((t, b), (l, r)) = k, out_hw, pads
    chunks = _batch_chunks(n, oh * ow * kh * kw * c * _itemsize(x))
    buf = xp.empty((chunks[0][1], oh, ow, kh * kw, c), dtype=x.dtype)
    xbuf = xp.empty((chunks[0][1], h + t + b, w + l + r, c), dtype=x.dtype)
    for lo, hi in chunks:
        xpad = _nhwc_padded(x[lo:hi, ...], pads, xbuf)  # (n, C, H, W) -> (n, PH, PW, C)
        yield lo, hi, _im2col(xpad, kh, kw, stride, buf[: hi - lo, ...])


def _add_windows(out: Any, first: int, cols: Any, kh: int, kw: int, stride: tuple[int, int]) -> None:
    """Add every row of ``cols`` into the window it came from (the adjoint of _im2col), in place.

    cols (n, H, W, KH*KW, C) is added into images ``first .. first+n-1`` of out (N, FH, FW, C),
    where (H, W) is the grid of window positions and (FH, FW) the size of the (padded) image
    they tile.
    """
    sh, sw = stride
    n, h, w = cols.shape[0], cols.shape[1], cols.shape[2]

    def scatter_add(lo: int, hi: int) -> None:  # images lo..hi-1: each chunk adds into its own rows
        for i in range(kh):
            for j in range(kw):
                rows, cols_ = tap_slices(i, j, (h, w), stride)
                out[first + lo : first + hi, rows, cols_, :] += cols[lo:hi, :, :, i * kw + j, :]

    B.split_batch(n, scatter_add, work=cols.size)


def _weight_matrix(w: Any) -> Any:
    """(C_out, C_in, KH, KW) -> (C_out, KH*KW*C_in), matching _im2col's column order."""
    xp = B.xp()
    o, c, kh, kw = w.shape
    return xp.reshape(xp.permute_dims(w, (0, 2, 3, 1)), (o, kh * kw * c))


# ----------------------------------------------------------------------------
# The three kernels on raw arrays
#
# Each is one matrix multiply plus a gather or scatter of KH*KW shifted windows, and each
# can put the windows on either side of the multiply:
#
# - input side ("im2col"): copy the KH*KW windows of the *input* into columns, then one
#   GEMM; the buffer holds N*OH*OW*KH*KW*C_in numbers;
# - output side ("col2im"): one GEMM of every input pixel with every tap, then add the KH*KW
#   shifted results into the output; the buffer holds N*H*W*KH*KW*C_out numbers.
#
# The arithmetic is the same up to the stride; what differs is the memory moved. A
# generator's last layer (128 channels -> 1) makes a 128x larger buffer on the input side,
# so each kernel picks the side with the smaller buffer. Either way the batch goes through
# in chunks of a few images (_batch_chunks), so the buffer stays small and is reused.
#
# A strided transposed conv has a third way, used when it applies (pads >= 0): split the
# output into its stride*stride interleaved "phases", each an ordinary small conv of the
# input (_conv_transpose2d_phases). No strided adds, and a longer multiply.
# ----------------------------------------------------------------------------
def _conv2d_array(x: Any, w: Any, stride: tuple[int, int], pads: Pads) -> Any:
    """(N, C, H, W) conv (O, C, KH, KW) -> (N, O, OH, OW), with per-side pads."""
    xp = B.xp()
    n, c, h, wd = x.shape
    o, c_w, kh, kw = w.shape
    if c != c_w:
        raise ValueError(f"conv2d: input has {c} channels but the weight expects {c_w}")
    (t, b), (l, r) = pads
    ph, pw = h + t + b, wd + l + r  # padded size
    sh, sw = stride
    oh, ow = (ph - kh) // sh + 1, (pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {kh}x{kw} does not fit the padded input {ph}x{pw}")
    y = xp.empty((n, oh, ow, o), dtype=x.dtype)
    if oh * ow * c <= ph * pw * o:  # input side: im2col, then (n*OH*OW, KH*KW*C) @ (KH*KW*C, O)
        wt = xp.matrix_transpose(_weight_matrix(w))  # (O, KH*KW*C) -> (KH*KW*C, O)
        for lo, hi, cols in _im2col_chunks(x, pads, (kh, kw), stride, (oh, ow)):  # (n*OH*OW, KH*KW*C)
            y[lo:hi, ...] = xp.reshape(cols @ wt, (hi - lo, oh, ow, o))  # (n*OH*OW, O) -> (n, OH, OW, O)
        return xp.permute_dims(y, (0, 3, 1, 2))  # (N, OH, OW, O) -> (N, O, OH, OW)
    # Output side: every padded pixel times every tap, then gather each output's taps.
    wt = xp.reshape(xp.permute_dims(w, (1, 2, 3, 0)), (c, kh * kw * o))  # (O, C, KH, KW) -> (C, KH*KW*O)
    chunks = _batch_chunks(n, ph * pw * kh * kw * o * _itemsize(x))
    xbuf = xp.empty((chunks[0][1], ph, pw, c), dtype=x.dtype)  # a chunk's padded NHWC images, reused
    for lo, hi in chunks:
        xpad = _nhwc_padded(x[lo:hi, ...], pads, xbuf)  # (n, C, H, W) -> (n, PH, PW, C)
        z = xp.reshape(xpad, ((hi - lo) * ph * pw, c)) @ wt  # (n*PH*PW, C) @ (C, KH*KW*O)
        z = xp.reshape(z, (hi - lo, ph, pw, kh * kw, o))  # -> (n, PH, PW, KH*KW, O)

        def add_taps(a: int, e: int, z: Any = z, lo: int = lo) -> None:  # images a..e-1 of the chunk
            for i in range(kh):
                for j in range(kw):  # output (p, q) sees padded pixel (p*s + i, q*s + j) through tap (i, j)
                    rows, cols_ = tap_slices(i, j, (oh, ow), stride)
                    tap = z[a:e, rows, cols_, i * kw + j, :]
                    if i == 0 and j == 0:
                        y[lo + a : lo + e, ...] = tap  # the first tap initialises y (it was left empty)
                    else:
                        y[lo + a : lo + e, ...] += tap

        B.split_batch(hi - lo, add_taps, work=z.size)
    return xp.permute_dims(y, (0, 3, 1, 2))  # (N, OH, OW, O) -> (N, O, OH, OW)


def _conv_transpose2d_array(x: Any, w: Any, stride: tuple[int, int], pads: Pads) -> Any:
    """(N, C, H, W) transposed-conv (C, O, KH, KW) -> (N, O, (H-1)*s + KH - t - b, ...)."""
    xp = B.xp()
    n, c, h, wd = x.shape
    c_w, o, kh, kw = w.shape
    if c != c_w:
        raise ValueError(f"conv_transpose2d: input has {c} channels but the weight expects {c_w}")
    sh, sw = stride
    (t, b), (l, r) = pads
    fh, fw = (h - 1) * sh + kh, (wd - 1) * sw + kw  # the full output, before cropping the pads
    if (fh - t - b) * (fw - l - r) * c * 2 <= h * wd * o:
        # Input side: a transposed conv is a stride-1 conv of the input with (stride - 1) zeros
        # inserted between its pixels, padded by K - 1 - pad, with the kernel flipped and its
        # two channel axes swapped. The zeros waste work, so this side must win by 2x.
        xd = xp.zeros((n, c, (h - 1) * sh + 1, (wd - 1) * sw + 1), dtype=x.dtype)
        xd[:, :, ::sh, ::sw] = x
        wf = xp.permute_dims(xp.flip(w, axis=(2, 3)), (1, 0, 2, 3))  # (C, O, KH, KW) -> (O, C, KH, KW)
        conv_pads = ((kh - 1 - t, kh - 1 - b), (kw - 1 - l, kw - 1 - r))
        return _conv2d_array(xd, wf, (1, 1), conv_pads)
    if (sh > 1 or sw > 1) and kh >= sh and kw >= sw and min(t, b, l, r) >= 0 and c <= o:
        # Phases: per input pixel they copy KH*KW*C numbers where the output side below writes
        # KH*KW*O and adds them back with strides, so they pay when C <= O (a 128 -> 1 layer
        # stays on the output side, whose buffer is then 128x smaller).
        return _conv_transpose2d_phases(x, w, stride, pads)
    # Output side: each input pixel's contribution to its KHxKW window, added into place.
    x2 = xp.reshape(xp.permute_dims(x, (0, 2, 3, 1)), (n * h * wd, c))  # (N, C, H, W) -> (N*H*W, C)
    wm = xp.reshape(xp.permute_dims(w, (0, 2, 3, 1)), (c, kh * kw * o))  # (C, O, KH, KW) -> (C, KH*KW*O)
    out = xp.zeros((n, fh, fw, o), dtype=x.dtype)  # NHWC while adding
    for lo, hi in _batch_chunks(n, h * wd * kh * kw * o * _itemsize(x)):
        cols = x2[lo * h * wd : hi * h * wd, :] @ wm  # (n*H*W, C) @ (C, KH*KW*O) -> (n*H*W, KH*KW*O)
        cols = xp.reshape(cols, (hi - lo, h, wd, kh * kw, o))  # -> (n, H, W, KH*KW, O)
        _add_windows(out, lo, cols, kh, kw, stride)
    y = xp.permute_dims(out, (0, 3, 1, 2))  # (N, FH, FW, O) -> (N, O, FH, FW)
    return pad(y, ((-t, -b), (-l, -r)))  # crop the pads (negative pads add output_padding)


def _phase_rows(a: int, s: int, k: int, full: int, t: int, b: int) -> tuple[list[int], int, int]:
    """One axis of one output phase of a stride-``s`` transposed conv (see _conv_transpose2d_phases).

    Output row y = s*p + a (in the full, uncropped output of size ``full``) takes kernel rows
    a, a + s, a + 2s, ... of the input rows p, p - 1, p - 2, ... Returns those kernel rows
    and the range [p0, p1) of p whose y survives the crop of t rows on top and b at the bottom.
    """
    taps = list(range(a, k, s))
    p0 = -((a - t) // s)  # ceil((t - a) / s): the first y >= t
    p1 = -((a - (full - b)) // s)  # ceil((full - b - a) / s): the first y >= full - b
    return taps, p0, max(p1, p0)


def _gather_taps(u: int, v: int, cols: Any, xpad: Any, first: tuple[int, int], taps: tuple[int, int]) -> None:
    """Images u..v-1 of one phase's im2col: cols[:, p, q, (di, dj), :] = xpad[:, r - di, c - dj, :]
    for p, q counted from ``first`` = (r, c). Each call writes its own images only (threads)."""
    _, ph, pw, _, _ = cols.shape
    for di in range(taps[0]):
        for dj in range(taps[1]):
            r0, c0 = first[0] - di, first[1] - dj
            cols[u:v, :, :, di * taps[1] + dj, :] = xpad[u:v, r0 : r0 + ph, c0 : c0 + pw, :]


def _conv_transpose2d_phases(x: Any, w: Any, stride: tuple[int, int], pads: Pads) -> Any:
    """A strided transposed conv as stride*stride ordinary convolutions ("sub-pixel" phases).

    With stride 2, the output pixels with even rows and even columns receive only the kernel
    taps with even (i, j), from the input pixels around them; likewise for the other three
    (row, column) parities. Each such *phase* is a small stride-1 conv of the input (2x2 taps
    for a 4x4 kernel): one im2col and one matrix multiply with K = taps*C, whose result is
    written once into every second row and column of the output.

    Why not the output side (one product per input pixel, then KH*KW shifted adds): the adds
    are strided read-modify-writes over KH*KW times the output, which NumPy does 10x slower
    than contiguous adds, and the multiply's inner dimension is only C. This does the same
    multiply-adds with no scatter; output pixels cropped by the padding are never computed.
    Needs pads >= 0 and a kernel at least as large as the stride (the caller checks, and
    picks this for C <= O only).
    """
    xp = B.xp()
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    sh, sw = stride
    (t, b), (l, r) = pads
    fh, fw = (h - 1) * sh + kh, (wd - 1) * sw + kw  # the full output, before cropping
    dh, dw = -(-kh // sh), -(-kw // sw)  # most taps per phase along each axis
    phases = []
    for a in range(sh):
        taps_i, p0, p1 = _phase_rows(a, sh, kh, fh, t, b)
        for e in range(sw):
            taps_j, q0, q1 = _phase_rows(e, sw, kw, fw, l, r)
            if p1 > p0 and q1 > q0:
                phases.append((a, e, taps_i, taps_j, p0, p1, q0, q1))
    y = xp.empty((n, fh - t - b, fw - l - r, o), dtype=x.dtype)  # NHWC; every pixel is in one phase
    per_image = max((p1 - p0) * (q1 - q0) * len(ti) * len(tj) for _, _, ti, tj, p0, p1, q0, q1 in phases)
    chunks = _batch_chunks(n, per_image * c * _itemsize(x))
    buf = xp.empty((chunks[0][1] * per_image * c,), dtype=x.dtype)  # one phase's columns, reused
    # The input padded by (taps - 1) on every side: tap d of phase row p reads padded row p - d + dh - 1.
    pads_in = ((dh - 1, dh - 1), (dw - 1, dw - 1))
    xbuf = xp.empty((chunks[0][1], h + 2 * dh - 2, wd + 2 * dw - 2, c), dtype=x.dtype)
    # (C, O, KH, KW) -> (taps_i*taps_j*C, O) per phase: its kernel taps, in the columns' order
    kernels = [
        xp.reshape(xp.stack([w[:, :, i, j] for i in ti for j in tj]), (len(ti) * len(tj) * c, o))
        for _, _, ti, tj, *_ in phases
    ]
    for lo, hi in chunks:
        xpad = _nhwc_padded(x[lo:hi, ...], pads_in, xbuf)  # (n, C, H, W) -> (n, H+2dh-2, W+2dw-2, C)
        for (a, e, taps_i, taps_j, p0, p1, q0, q1), wp in zip(phases, kernels):
            ph, pw, nt = p1 - p0, q1 - q0, len(taps_i) * len(taps_j)
            cols = xp.reshape(buf[: (hi - lo) * ph * pw * nt * c], (hi - lo, ph, pw, nt, c))

            # tap (di, dj) of phase pixel (p, q) reads padded pixel (p - di + dh - 1, q - dj + dw - 1)
            first = (p0 + dh - 1, q0 + dw - 1)
            gather = functools.partial(_gather_taps, cols=cols, xpad=xpad, first=first, taps=(len(taps_i), len(taps_j)))
            B.split_batch(hi - lo, gather, work=cols.size)
            z = xp.reshape(cols, ((hi - lo) * ph * pw, nt * c)) @ wp  # (n*P*Q, taps*C) @ (taps*C, O)
            r0, c0 = sh * p0 + a - t, sw * q0 + e - l  # where the phase's first pixel lands in y
            rows, cols_ = tap_slices(r0, c0, (ph, pw), stride)
            y[lo:hi, rows, cols_, :] = xp.reshape(z, (hi - lo, ph, pw, o))  # every sh-th row and sw-th column
    return xp.permute_dims(y, (0, 3, 1, 2))  # (N, OH, OW, O) -> (N, O, OH, OW)


def _conv2d_grad_weight_array(x: Any, gy: Any, k: tuple[int, int], stride: tuple[int, int], pads: Pads) -> Any:
    """dL/dW (O, C, KH, KW) of conv2d(x, W) from x (N, C, H, W) and gy = dL/dy (N, O, OH, OW)."""
    xp = B.xp()
    kh, kw = k
    sh, sw = stride
    n, c, h, wd = x.shape
    _, o, oh, ow = gy.shape
    (t, b), (l, r) = pads
    ph, pw = h + t + b, wd + l + r
    g = xp.permute_dims(gy, (0, 2, 3, 1))  # (N, O, OH, OW) -> (N, OH, OW, O)
    gw = None  # the sum over chunks of each chunk's (O, KH*KW*C) or (KH*KW*O, C) product
    if oh * ow * c <= ph * pw * o:  # input side: (O, n*OH*OW) @ im2col(x)
        for lo, hi, cols in _im2col_chunks(x, pads, (kh, kw), stride, (oh, ow)):  # (n*OH*OW, KH*KW*C)
            g2 = xp.reshape(g[lo:hi, ...], ((hi - lo) * oh * ow, o))  # (n, OH, OW, O) -> (n*OH*OW, O)
            part = xp.matrix_transpose(g2) @ cols  # (O, KH*KW*C)
            if gw is None:
                gw = part
            else:
                gw += part  # in place: gw is a product this function made
        gw = xp.reshape(gw, (o, kh, kw, c))  # (O, KH*KW*C) -> (O, KH, KW, C)
        return xp.permute_dims(gw, (0, 3, 1, 2))  # (O, KH, KW, C) -> (O, C, KH, KW)
    # Output side: scatter gy to where each tap reads the padded image, then one GEMM with it.
    chunks = _batch_chunks(n, ph * pw * kh * kw * o * _itemsize(x))
    buf = xp.empty((chunks[0][1], ph, pw, kh * kw, o), dtype=x.dtype)  # reused by every chunk
    xbuf = xp.empty((chunks[0][1], ph, pw, c), dtype=x.dtype)  # a chunk's padded NHWC images, reused
    for lo, hi in chunks:
        gs = buf[: hi - lo, ...]
        gs[...] = 0  # taps that read padding (or rows a stride skips) get no gradient

        def scatter(a: int, e: int, gs: Any = gs, lo: int = lo) -> None:  # images a..e-1 of the chunk
            for i in range(kh):
                for j in range(kw):
                    rows, cols_ = tap_slices(i, j, (oh, ow), stride)
                    gs[a:e, rows, cols_, i * kw + j, :] = g[lo + a : lo + e, ...]

        B.split_batch(hi - lo, scatter, work=gs.size)
        xpad = _nhwc_padded(x[lo:hi, ...], pads, xbuf)  # (n, C, H, W) -> (n, PH, PW, C)
        x2 = xp.reshape(xpad, ((hi - lo) * ph * pw, c))  # (n, PH, PW, C) -> (n*PH*PW, C)
        part = xp.matrix_transpose(xp.reshape(gs, ((hi - lo) * ph * pw, kh * kw * o))) @ x2  # (KH*KW*O, C)
        if gw is None:
            gw = part
        else:
            gw += part  # in place: gw is a product this function made
    gw = xp.reshape(gw, (kh, kw, o, c))
    return xp.permute_dims(gw, (2, 3, 0, 1))  # (KH, KW, O, C) -> (O, C, KH, KW)


# ----------------------------------------------------------------------------
# The replacements
# ----------------------------------------------------------------------------
class FastConv2d(Conv2d):
    """:class:`~minigan.functions.conv.Conv2d` on chunked NHWC buffers (its backward is the textbook's)."""

    def forward(self, x, w):
        return _conv2d_array(x, w, self.stride, self.pads)


class FastConvTranspose2d(ConvTranspose2d):
    """:class:`~minigan.functions.conv.ConvTranspose2d` by sub-pixel phases or chunked scatter-adds."""

    def forward(self, x, w):
        return _conv_transpose2d_array(x, w, self.stride, self.pads)


class FastConv2dGradWeight(Conv2dGradWeight):
    """:class:`~minigan.functions.conv.Conv2dGradWeight` summed over chunks of the batch."""

    def forward(self, x, gy):
        return _conv2d_grad_weight_array(x, gy, self.w_shape[2:], self.stride, self.pads)


register(Conv2d, FastConv2d)
register(ConvTranspose2d, FastConvTranspose2d)
register(Conv2dGradWeight, FastConv2dGradWeight)
