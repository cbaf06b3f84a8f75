"""An exact bridge to PyTorch: minigan models, their weights and their optimizers' state, both ways.

For a learner who trained a GAN here and moves on (bigger models, a GPU, many processes), or who
wants to check their understanding against the library everyone uses::

    from minigan.interop.torch import to_torch, from_torch, optimizer_to_torch

    G_torch = to_torch(G)                           # a torch.nn.Module, same weights and buffers
    opt_torch = optimizer_to_torch(g_opt, G, G_torch)  # Adam's moments and step counts too
    G_again = from_torch(G_torch)                   # and back: bitwise the same numbers

The twin computes the same function (the tests hold outputs and gradients equal within 1e-10 in
float64, in training and eval mode, for every layer and every model in :mod:`minigan.models`),
and one more optimizer step in PyTorch is the step minigan would have taken.

Layer by layer (``to_torch``; ``from_torch`` maps each back, and also accepts the plain
``torch.nn`` spellings listed):

==========================  ====================================================================
minigan                     PyTorch twin
==========================  ====================================================================
Dense                       ``nn.Linear``
ReLU, LeakyReLU, Tanh,      ``nn.ReLU``, ``nn.LeakyReLU(slope)``, ``nn.Tanh``, ``nn.Sigmoid``
Sigmoid
BatchNorm                   ``nn.BatchNorm1d`` after a Dense, ``nn.BatchNorm2d`` on images (the
                            same ``momentum``: minigan uses PyTorch's convention, the weight of
                            the new batch; Keras' momentum m is 1 - m), else
                            :class:`~minigan.interop.torch_layers.BatchNorm` (either rank);
                            ``from_torch`` also takes ``nn.SyncBatchNorm``
Dropout                     ``nn.Dropout`` (the masks come from different generators: compare in
                            eval mode)
Conv2D                      ``nn.Conv2d`` (int padding, ``'valid'``, ``'same'`` at stride 1);
                            ``KerasConv2d`` ('same' at a stride > 1: asymmetric, size-dependent)
Conv2DTranspose             ``nn.ConvTranspose2d(padding=p, output_padding=op)`` wherever such a
                            pair crops as minigan does (DCGAN's 4x4 stride-2 'same' is p=1);
                            else ``KerasConvTranspose2d`` (a 3x3 stride-2 'same')
UpSampling2D                ``nn.Upsample(scale_factor, mode, align_corners=False)``
MaxPool2D, AvgPool2D        ``nn.MaxPool2d`` / ``nn.AvgPool2d``; ``KerasMaxPool2d`` /
                            ``KerasAvgPool2d`` for 'same'
Flatten, Reshape            ``nn.Flatten``; ``nn.Unflatten(1, shape)`` on flat inputs, else ``Reshape``
InstanceNorm                ``nn.InstanceNorm2d`` (no running statistics, as minigan's)
ReflectionPad2D             ``nn.ReflectionPad2d((left, right, top, bottom))``
UNet                        ``UNet`` (its blocks ``down0..``, ``up0..``, ``final`` as ``nn.Sequential``)
Embedding                   ``nn.Embedding``
MinibatchStdDev             ``MinibatchStdDev`` (the same arithmetic, in PyTorch)
SpectralNorm(layer)         ``torch.nn.utils.parametrizations.spectral_norm(twin of layer)``, with
                            u and v copied (so the next power iteration is minigan's)
Sequential                  ``nn.Sequential``
ConditionalSequential,      ``ConditionalSequential``, ``LabelConcat`` (``model(x, labels)``)
LabelConcat
==========================  ====================================================================

Any other module (a layer of your own) raises a TypeError naming it and its path in the model.
The ``Keras*`` modules and the others named without ``nn.`` are in
:mod:`minigan.interop.torch_layers`, plain PyTorch.

The state-dict keys (:func:`state_key_map`) are minigan's, with three renamings:

- BatchNorm ``gamma`` / ``beta`` -> ``weight`` / ``bias`` (PyTorch also keeps a
  ``num_batches_tracked`` counter, which minigan has no use for: its momentum is never None);
- SpectralNorm ``N.layer.weight`` -> ``N.parametrizations.weight.original``, ``N.u`` / ``N.v`` ->
  ``N.parametrizations.weight.0._u`` / ``.0._v``, and ``N.layer.bias`` -> ``N.bias`` (the wrapper
  level disappears: PyTorch parametrizes the layer itself);
- everything else keeps its name: ``3.weight`` is ``3.weight`` (minigan uses PyTorch's layouts,
  so no array is transposed).

Optimizers (:func:`optimizer_to_torch`, :func:`optimizer_from_torch`; ``adam_to_torch`` & co. check
the type too): Adam -> ``torch.optim.Adam``, Adam with decoupled weight decay (AdamW) ->
``torch.optim.AdamW``, SGD -> ``torch.optim.SGD``, RMSprop -> ``torch.optim.RMSprop``, with every
hyper-parameter, the moments (``exp_avg``, ``exp_avg_sq``, ``momentum_buffer``, ``square_avg``,
``grad_avg``) and the per-parameter step counts. The PyTorch optimizer lists the parameters in
minigan's order (:func:`torch_parameters`), so its state's index i is minigan's index i.

Arrays cross over through the backend's explicit door (:func:`minigan.backend.to_numpy`) and back
with :func:`minigan.backend.asarray`, so the bridge works on every backend; dtypes are kept
(float32 stays float32, float64 stays float64). This module needs PyTorch; ``import minigan``
never imports it.

Read next: ``minigan/app/export.py`` (``minigan export --to torch`` and ``minigan import``).
"""

from __future__ import annotations

import ast
import inspect
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    import torch
    from torch import nn
    from torch.nn.utils import parametrizations, parametrize
except ImportError as e:  # pragma: no cover - exercised where torch is absent
    raise ImportError("minigan.interop.torch needs PyTorch: pip install 'minigan[torch]'") from e

import minigan.nn as mnn
from minigan import backend as B
from minigan import models as mmodels
from minigan import optim as moptim
from minigan.backend import host_np as np
from minigan.interop import torch_layers as L

__all__ = [
    "OPTIMIZER_HYPERPARAMS",
    "adam_from_torch",
    "adam_to_torch",
    "from_torch",
    "load_torch_optimizer_state",
    "load_torch_state",
    "optimizer_from_torch",
    "optimizer_to_torch",
    "rmsprop_from_torch",
    "rmsprop_to_torch",
    "sgd_from_torch",
    "sgd_to_torch",
    "state_key_map",
    "to_torch",
    "torch_parameters",
    "torch_source",
    "torch_state_dict",
]


# ----------------------------------------------------------------------------
# A twin as data: what to construct, so that it can be both built and written out as source
# ----------------------------------------------------------------------------
@dataclass
class _Spec:
    """One constructor call: ``ctor(*children, *args, **kwargs)``; ``ctor`` as written in the source."""

    ctor: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    children: list[_Spec] = field(default_factory=list)


_CTORS: dict[str, Callable[..., Any]] = {
    **{
        f"nn.{n}": getattr(nn, n)
        for n in (
            "Linear",
            "ReLU",
            "LeakyReLU",
            "Tanh",
            "Sigmoid",
            "BatchNorm1d",
            "BatchNorm2d",
            "Dropout",
            "Conv2d",
            "ConvTranspose2d",
            "Upsample",
            "MaxPool2d",
            "AvgPool2d",
            "Flatten",
            "Unflatten",
            "Embedding",
            "Sequential",
            "InstanceNorm2d",
            "ReflectionPad2d",
        )
    },  # fmt: skip
    **{
        n: getattr(L, n)
        for n in (
            "BatchNorm",
            "KerasConv2d",
            "KerasConvTranspose2d",
            "KerasMaxPool2d",
            "KerasAvgPool2d",
            "Reshape",
            "MinibatchStdDev",
            "LabelConcat",
            "ConditionalSequential",
            "UNet",
        )
    },  # fmt: skip
    "spectral_norm": parametrizations.spectral_norm,
}


def _build(spec: _Spec) -> nn.Module:
    return _CTORS[spec.ctor](*[_build(c) for c in spec.children], *spec.args, **spec.kwargs)


def _render(spec: _Spec, indent: int = 1) -> str:
    pad = "    " * indent
    parts = [repr(a) for a in spec.args] + [f"{k}={v!r}" for k, v in spec.kwargs.items()]
    if spec.ctor in ("nn.Sequential", "ConditionalSequential", "UNet"):
        inner = "".join(f"{pad}    {_render(c, indent + 1)},\n" for c in spec.children)
        inner += "".join(f"{pad}    {k}={v!r},\n" for k, v in spec.kwargs.items())
        return f"{spec.ctor}(\n{inner}{pad})"
    parts = [_render(c, indent) for c in spec.children] + parts
    return f"{spec.ctor}({', '.join(parts)})"


# ----------------------------------------------------------------------------
# minigan -> PyTorch: the twin of each layer
# ----------------------------------------------------------------------------
_FLAT, _IMAGE = 2, 4  # the ranks a layer's input can be known to have (None: unknown)


def _conv_transpose_pairs(layer: mnn.Conv2DTranspose) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(padding, output_padding) of an ``nn.ConvTranspose2d`` that crops as ``layer`` does, or None.

    PyTorch crops p rows at the top and p - op at the bottom of the full (H - 1) * s + K output;
    minigan crops (lo, hi) per axis (see ``minigan/functions/padding.py``), so p = lo and
    op = lo - hi, which PyTorch takes when 0 <= op < s.
    """
    if not isinstance(layer.padding, str):
        return layer.padding, layer.output_padding
    pads, outs = [], []
    for k, s in zip(layer.kernel_size, layer.stride):
        if layer.padding == "valid":
            lo, hi = 0, min(k - s, 0)  # a kernel smaller than the stride: zero rows added at the bottom
        else:  # 'same': the adjoint of a 'same' conv of an (H*s)-image
            lo = max(k - s, 0) // 2
            hi = k - s - lo
        if not 0 <= lo - hi < s:
            return None
        pads.append(lo)
        outs.append(lo - hi)
    return (pads[0], pads[1]), (outs[0], outs[1])


def _spec_of(m: mnn.Module, path: str, rank: int | None) -> tuple[_Spec, int | None]:
    """The twin of ``m`` (at ``path`` in the model), and the rank of its output."""
    if isinstance(m, mmodels.ConditionalSequential) or type(m) is mnn.Sequential:
        children = []
        for name, child in m._modules.items():
            spec, rank = _spec_of(child, f"{path}.{name}" if path else name, rank)
            children.append(spec)
        ctor = "ConditionalSequential" if isinstance(m, mmodels.ConditionalSequential) else "nn.Sequential"
        return _Spec(ctor, children=children), rank
    if isinstance(m, mnn.SpectralNorm):
        if isinstance(m.layer, mnn.SpectralNorm):
            raise TypeError(f"{path or 'the model'}: SpectralNorm of a SpectralNorm has no PyTorch twin")
        inner, rank = _spec_of(m.layer, f"{path}.layer", rank)
        kwargs = {"n_power_iterations": m.n_power_iterations, "eps": m.eps, "dim": m.dim}
        return _Spec("spectral_norm", kwargs=kwargs, children=[inner]), rank
    if isinstance(m, mnn.Dense):
        spec = _Spec("nn.Linear", (m.in_features, m.out_features), {"bias": m.bias is not None})
        return spec, rank or _FLAT  # a Dense almost always takes flat vectors; it keeps the rank
    if isinstance(m, mnn.LeakyReLU):
        return _Spec("nn.LeakyReLU", (m.slope,)), rank
    for mine, theirs in ((mnn.ReLU, "nn.ReLU"), (mnn.Tanh, "nn.Tanh"), (mnn.Sigmoid, "nn.Sigmoid")):
        if type(m) is mine:
            return _Spec(theirs), rank
    if isinstance(m, mnn.BatchNorm):
        ctor = {_FLAT: "nn.BatchNorm1d", _IMAGE: "nn.BatchNorm2d"}.get(rank, "BatchNorm")  # type: ignore[arg-type]
        kwargs = {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}
        return _Spec(ctor, (m.num_features,), kwargs), rank
    if isinstance(m, mnn.InstanceNorm):
        return _Spec("nn.InstanceNorm2d", (m.num_features,), {"eps": m.eps, "affine": m.affine}), _IMAGE
    if isinstance(m, mnn.ReflectionPad2D):
        return _Spec("nn.ReflectionPad2d", (m.padding,)), _IMAGE
    if isinstance(m, mnn.UNet):
        blocks = [_spec_of(child, f"{path}.{name}" if path else name, _IMAGE)[0] for name, child in m._modules.items()]
        return _Spec("UNet", children=blocks, kwargs={"depth": m.depth}), _IMAGE
    if isinstance(m, mnn.Dropout):
        return _Spec("nn.Dropout", (m.p,)), rank
    if isinstance(m, mnn.Conv2D):
        args = (m.in_channels, m.out_channels, m.kernel_size, m.stride)
        bias = {"bias": m.bias is not None}
        if m.padding == "same" and m.stride != (1, 1):
            return _Spec("KerasConv2d", args, bias), _IMAGE
        return _Spec("nn.Conv2d", args, {"padding": m.padding, **bias}), _IMAGE  # 'same' at stride 1 is PyTorch's
    if isinstance(m, mnn.Conv2DTranspose):
        args = (m.in_channels, m.out_channels, m.kernel_size, m.stride)
        bias = {"bias": m.bias is not None}
        pairs = _conv_transpose_pairs(m)
        if pairs is None:
            return _Spec("KerasConvTranspose2d", args, {"padding": m.padding, **bias}), _IMAGE
        kwargs = {"padding": pairs[0], "output_padding": pairs[1], **bias}
        return _Spec("nn.ConvTranspose2d", args, kwargs), _IMAGE
    if isinstance(m, mnn.UpSampling2D):
        kwargs: dict[str, Any] = {"scale_factor": tuple(float(s) for s in m.size), "mode": m.interpolation}
        if m.interpolation == "bilinear":
            kwargs["align_corners"] = False
        return _Spec("nn.Upsample", kwargs=kwargs), _IMAGE
    if isinstance(m, (mnn.MaxPool2D, mnn.AvgPool2D)):
        kind = "Max" if isinstance(m, mnn.MaxPool2D) else "Avg"
        if m.padding == "same":
            return _Spec(f"Keras{kind}Pool2d", (m.pool_size, m.strides)), _IMAGE
        padding = (0, 0) if m.padding == "valid" else m.padding
        return _Spec(f"nn.{kind}Pool2d", (m.pool_size, m.strides, padding)), _IMAGE
    if isinstance(m, mnn.Flatten):
        return _Spec("nn.Flatten"), _FLAT
    if isinstance(m, mnn.Reshape):
        out_rank = 1 + len(m.target_shape)
        if rank == _FLAT:
            return _Spec("nn.Unflatten", (1, m.target_shape)), out_rank
        return _Spec("Reshape", (m.target_shape,)), out_rank
    if isinstance(m, mnn.Embedding):
        return _Spec("nn.Embedding", (m.num_embeddings, m.embedding_dim)), None if rank is None else rank + 1
    if isinstance(m, mnn.MinibatchStdDev):
        return _Spec("MinibatchStdDev", (m.group_size, m.eps)), rank
    if isinstance(m, mmodels.LabelConcat):
        return _Spec("LabelConcat", (m.num_classes, m.embedding.embedding_dim)), _FLAT
    raise TypeError(
        f"{path or 'the model'} ({type(m).__name__}) has no PyTorch twin; minigan.interop.torch converts "
        "Sequential, ConditionalSequential, LabelConcat and the layers of minigan.nn"
    )


def _float_dtype(module: mnn.Module) -> torch.dtype | None:
    """The dtype of ``module``'s first parameter or buffer (None: it has neither, and any dtype will do)."""
    tensors = module.parameters() + [b for _, b in module.named_buffers()]
    if not tensors:
        return None
    name = str(tensors[0].data.dtype).rsplit(".", 1)[
        -1
    ]  # the strict backend's dtypes print as "array_api_strict.float32"
    return {"float32": torch.float32, "float64": torch.float64}[name]


def to_torch(module: mnn.Module, device: str | torch.device = "cpu") -> nn.Module:
    """The PyTorch twin of a minigan model: the same function, with its parameters and buffers copied.

    The twin is in the same mode (train / eval) as ``module`` and of its float dtype. Raises a
    TypeError naming any layer that has no twin (see the module docstring for the table).
    """
    spec, _ = _spec_of(module, "", None)
    with torch.random.fork_rng(devices=[]):  # the twin's throw-away initial weights leave torch's RNG alone
        twin = _build(spec)
    twin = twin.to(device=device, dtype=_float_dtype(module))
    _load_twin(twin, torch_state_dict(module, device=device))
    return twin.train(module.training)


def torch_source(module: mnn.Module) -> str:
    """Python source of one expression that builds ``module``'s twin (names as in the generated ``models.py``)."""
    spec, _ = _spec_of(module, "", None)
    return _render(spec)


def layers_source() -> str:
    """The source of :mod:`minigan.interop.torch_layers` without its docstring (to embed in a file of one's own)."""
    text = inspect.getsource(L)
    tree = ast.parse(text)
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        text = "\n".join(text.splitlines()[first.end_lineno :])
    return text.strip() + "\n"


# ----------------------------------------------------------------------------
# State dicts: the key mapping
# ----------------------------------------------------------------------------
def state_key_map(module: mnn.Module) -> dict[str, str]:
    """minigan state-dict key -> the twin's key, for every parameter and buffer (see the module docstring)."""
    out: dict[str, str] = {}

    def join(prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def walk(m: mnn.Module, mine: str, theirs: str) -> None:
        if isinstance(m, mnn.SpectralNorm):
            inner = m.layer
            if inner._modules:
                raise TypeError(f"{mine or 'the model'}: SpectralNorm of a layer with sub-modules has no PyTorch twin")
            original = join(theirs, "parametrizations.weight")
            for name in inner._parameters:
                out[join(join(mine, "layer"), name)] = (
                    f"{original}.original" if name == "weight" else join(theirs, name)
                )
            for name in inner._buffers:
                out[join(join(mine, "layer"), name)] = join(theirs, name)
            out[join(mine, "u")], out[join(mine, "v")] = f"{original}.0._u", f"{original}.0._v"
            return
        rename = {"gamma": "weight", "beta": "bias"} if isinstance(m, (mnn.BatchNorm, mnn.InstanceNorm)) else {}
        for name in (*m._parameters, *m._buffers):
            out[join(mine, name)] = join(theirs, rename.get(name, name))
        for name, child in m._modules.items():
            walk(child, join(mine, name), join(theirs, name))

    walk(module, "", "")
    # Keep minigan's order: parameters first, then buffers, as state_dict() lists them.
    order = [k for k, _ in module.named_parameters()] + [k for k, _ in module.named_buffers()]
    return {k: out[k] for k in order}


def torch_state_dict(module: mnn.Module, device: str | torch.device = "cpu") -> OrderedDict[str, torch.Tensor]:
    """``module``'s parameters and buffers under the twin's keys, as torch tensors (same dtypes, bit for bit)."""
    state = module.state_dict()  # host NumPy copies, through the backend's explicit door
    return OrderedDict(
        (theirs, torch.from_numpy(state[mine]).to(device)) for mine, theirs in state_key_map(module).items()
    )


def _host(t: Any) -> Any:
    """A torch tensor as a host NumPy array (explicitly: detached, on the CPU)."""
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _is_counter(key: str) -> bool:
    return key.rsplit(".", 1)[-1] == "num_batches_tracked"  # PyTorch's BatchNorm counter: no minigan twin


def load_torch_state(module: mnn.Module, state: Mapping[str, Any], strict: bool = True) -> dict[str, list[str]]:
    """Load a PyTorch state dict (the twin's keys, tensors or arrays) into a minigan ``module``.

    As :meth:`minigan.nn.Module.load_state_dict`: with ``strict`` every missing, unexpected or
    wrongly shaped entry is reported in one ValueError and nothing is loaded. BatchNorm's
    ``num_batches_tracked`` counters are ignored. Returns the report, in minigan's keys.
    """
    keys = state_key_map(module)
    inverse = {theirs: mine for mine, theirs in keys.items()}
    ours: dict[str, Any] = {}
    unexpected = []
    for key, value in state.items():
        if key in inverse:
            ours[inverse[key]] = _host(value)
        elif not _is_counter(key):
            unexpected.append(key)
    if strict and unexpected:
        raise ValueError(f"state dict does not match {type(module).__name__}: unexpected keys {', '.join(unexpected)}")
    report = module.load_state_dict(ours, strict=strict)
    report["unexpected"] = report["unexpected"] + unexpected
    return report


def _load_twin(twin: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    result = twin.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not _is_counter(k)]
    if missing or result.unexpected_keys:  # a bug in the key map, never the user's input
        raise RuntimeError(f"twin state mismatch: missing {missing}, unexpected {result.unexpected_keys}")


def torch_parameters(twin: nn.Module) -> list[nn.Parameter]:
    """The twin's parameters in minigan's order (which converted optimizer state is indexed by).

    ``twin.parameters()`` except that a spectrally normalised layer's weight comes before its
    bias (PyTorch's parametrization lists it after). Build a PyTorch optimizer on these.
    """
    return L.minigan_parameter_order(_unwrap(twin))


# ----------------------------------------------------------------------------
# PyTorch -> minigan
# ----------------------------------------------------------------------------
def _unwrap(t: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` / ``DataParallel`` (their state dicts add ``module.``)."""
    while isinstance(t, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        t = t.module
    return t


def _spectral(t: nn.Module) -> Any:
    """The ``_SpectralNorm`` parametrization of ``t.weight``, or None."""
    if not parametrize.is_parametrized(t, "weight"):
        return None
    plist = t.parametrizations["weight"]
    if len(plist) != 1 or type(plist[0]).__name__ != "_SpectralNorm":
        return False
    return plist[0]


def _refuse(t: nn.Module, path: str, why: str) -> TypeError:
    return TypeError(f"{path or 'the model'} ({type(t).__name__}): {why}")


def _layer_from(t: nn.Module, path: str) -> mnn.Module:
    """The minigan layer of one PyTorch module (initial weights are overwritten by the caller)."""
    if isinstance(t, L.ConditionalSequential) or type(t) is nn.Sequential:
        kids = [_from(c, f"{path}.{n}" if path else n) for n, c in t._modules.items()]
        seq = mmodels.ConditionalSequential(*kids) if isinstance(t, L.ConditionalSequential) else mnn.Sequential(*kids)
        if [str(i) for i in range(len(kids))] != list(t._modules):
            raise _refuse(t, path, "children must be named 0, 1, 2, ... as nn.Sequential names them")
        return seq
    if isinstance(t, nn.Linear):
        return mnn.Dense(t.in_features, t.out_features, bias=t.bias is not None, rng=0)
    if isinstance(t, nn.LeakyReLU):
        return mnn.LeakyReLU(t.negative_slope)
    for theirs, mine in ((nn.ReLU, mnn.ReLU), (nn.Tanh, mnn.Tanh), (nn.Sigmoid, mnn.Sigmoid)):
        if type(t) is theirs:
            return mine()
    if isinstance(t, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)):
        if t.momentum is None or not t.track_running_stats:
            raise _refuse(t, path, "minigan's BatchNorm needs momentum (not None) and running statistics")
        return mnn.BatchNorm(t.num_features, momentum=t.momentum, eps=t.eps, affine=t.affine)
    if type(t) is nn.Dropout:
        return mnn.Dropout(t.p)
    if type(t) is nn.InstanceNorm2d:
        if t.track_running_stats:
            raise _refuse(t, path, "minigan's InstanceNorm keeps no running statistics (track_running_stats=False)")
        return mnn.InstanceNorm(t.num_features, eps=t.eps, affine=t.affine)
    if type(t) is nn.ReflectionPad2d:
        return mnn.ReflectionPad2D(tuple(t.padding))
    if isinstance(t, L.UNet):
        blocks = [_from(c, f"{path}.{n}" if path else n) for n, c in t._modules.items()]
        norms = {mnn.BatchNorm: "batch", mnn.InstanceNorm: "instance"}
        down, ups = blocks[: t.depth], blocks[t.depth : -1]
        norm = next((norms[type(m)] for b in down[1:] + ups for m in b if type(m) in norms), "none")
        p = next((m.p for b in ups for m in b if isinstance(m, mnn.Dropout)), 0.0)
        config = {"in_channels": down[0][0].in_channels, "out_channels": blocks[-1][0].out_channels}
        config.update(depth=t.depth, width=down[0][0].out_channels, norm=norm, dropout=p)
        return mnn.UNet.from_blocks(blocks, **config)
    if isinstance(t, (nn.Conv2d, nn.ConvTranspose2d)):
        if t.groups != 1 or t.dilation != (1, 1) or t.padding_mode != "zeros":
            raise _refuse(t, path, "minigan's convolutions have groups=1, dilation=1 and zero padding")
        args = (t.in_channels, t.out_channels, t.kernel_size, t.stride)
        bias = t.bias is not None
        if isinstance(t, L.KerasConv2d):
            return mnn.Conv2D(*args, padding="same", bias=bias, rng=0)
        if isinstance(t, nn.Conv2d):
            return mnn.Conv2D(*args, padding=t.padding, bias=bias, rng=0)
        if isinstance(t, L.KerasConvTranspose2d):
            return mnn.Conv2DTranspose(*args, padding=t.keras_padding, bias=bias, rng=0)
        return mnn.Conv2DTranspose(*args, padding=t.padding, output_padding=t.output_padding, bias=bias, rng=0)
    if type(t) is nn.Upsample:
        scale = t.scale_factor
        scale = tuple(scale) if isinstance(scale, tuple) else (scale, scale)
        ok = t.size is None and all(float(s).is_integer() for s in scale) and t.mode in ("nearest", "bilinear")
        if not ok or (t.mode == "bilinear" and t.align_corners):
            raise _refuse(t, path, "minigan's UpSampling2D takes integer scale factors, nearest or bilinear "
                          "(align_corners=False)")  # fmt: skip
        return mnn.UpSampling2D(tuple(int(s) for s in scale), t.mode)
    if isinstance(t, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = mnn.MaxPool2D if isinstance(t, nn.MaxPool2d) else mnn.AvgPool2D
        if isinstance(t, (L.KerasMaxPool2d, L.KerasAvgPool2d)):
            return kind(t.kernel_size, t.stride, "same")
        if t.ceil_mode or (isinstance(t, nn.MaxPool2d) and t.dilation not in (1, (1, 1))):
            raise _refuse(t, path, "minigan's pooling has ceil_mode=False and dilation 1")
        if isinstance(t, nn.AvgPool2d) and (not t.count_include_pad or t.divisor_override):
            raise _refuse(t, path, "minigan's AvgPool2D with int padding counts the padding (count_include_pad=True)")
        return kind(t.kernel_size, t.stride, t.padding)
    if type(t) is nn.Flatten:
        if t.start_dim != 1 or t.end_dim != -1:
            raise _refuse(t, path, "minigan's Flatten is nn.Flatten(1, -1)")
        return mnn.Flatten()
    if type(t) is nn.Unflatten:
        if t.dim != 1:
            raise _refuse(t, path, "minigan's Reshape is nn.Unflatten(1, shape)")
        return mnn.Reshape(tuple(t.unflattened_size))
    if isinstance(t, L.Reshape):
        return mnn.Reshape(t.shape)
    if type(t) is nn.Embedding:
        if t.padding_idx is not None or t.max_norm is not None:
            raise _refuse(t, path, "minigan's Embedding has no padding_idx and no max_norm")
        return mnn.Embedding(t.num_embeddings, t.embedding_dim, rng=0)
    if isinstance(t, L.MinibatchStdDev):
        return mnn.MinibatchStdDev(t.group_size, t.eps)
    if isinstance(t, L.LabelConcat):
        layer = mmodels.LabelConcat(t.num_classes, t.embedding.embedding_dim, rng=B.Generator(0))
        return layer
    raise _refuse(t, path, "has no minigan twin; minigan.interop.torch converts the modules listed in its docstring")


def _from(t: nn.Module, path: str) -> mnn.Module:
    sn = _spectral(t)
    if sn is False:
        raise _refuse(t, path, "only a spectral-norm parametrization (torch.nn.utils.parametrizations) converts")
    layer = _layer_from(t, path)
    if sn is None:
        return layer
    return mnn.SpectralNorm(layer, n_power_iterations=sn.n_power_iterations, eps=sn.eps, dim=sn.dim)


def from_torch(module: nn.Module) -> mnn.Module:
    """The minigan model of a PyTorch one: the twin that :func:`to_torch` would map to ``module``.

    Takes what :func:`to_torch` makes and the plain ``torch.nn`` spellings of the same layers (see
    the module docstring); ``DistributedDataParallel`` is unwrapped. Parameters and buffers are
    copied bit for bit, in ``module``'s float dtype; the result is in ``module``'s mode. Raises a
    TypeError naming any module that has no minigan twin.
    """
    module = _unwrap(module)
    params = list(module.parameters())
    dtype = str(params[0].dtype).removeprefix("torch.") if params else "float32"
    with B.default_dtype(dtype):
        ours = _from(module, "")
    load_torch_state(ours, module.state_dict())
    return ours.train(module.training)


# ----------------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------------
#: torch.optim class name -> the hyper-parameters minigan's optimizer shares with it.
OPTIMIZER_HYPERPARAMS = {
    "Adam": ("lr", "betas", "eps", "weight_decay"),
    "AdamW": ("lr", "betas", "eps", "weight_decay"),
    "SGD": ("lr", "momentum", "dampening", "nesterov", "weight_decay"),
    "RMSprop": ("lr", "alpha", "eps", "momentum", "weight_decay", "centered"),
}


def _torch_kind(opt: moptim.Optimizer) -> str:
    if isinstance(opt, moptim.Adam):
        return "AdamW" if opt.decoupled else "Adam"
    for kind in ("SGD", "RMSprop"):
        if type(opt) is getattr(moptim, kind):
            return kind
    raise TypeError(f"{type(opt).__name__} has no PyTorch twin; converted: Adam, AdamW, SGD, RMSprop")


def _scalar_step(step: int) -> torch.Tensor:
    """A step count as PyTorch's optimizers keep it: a 0-d float tensor (of the default float dtype)."""
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(float(step), dtype=dtype)


def optimizer_to_torch(opt: moptim.Optimizer, module: mnn.Module, twin: nn.Module) -> torch.optim.Optimizer:
    """The PyTorch optimizer that continues ``opt``: same hyper-parameters, moments and step counts.

    ``module`` is the minigan model ``opt`` updates and ``twin`` its :func:`to_torch` twin; the
    new optimizer updates the twin's parameters, listed in ``opt``'s order (so its state index i
    is ``opt``'s index i).
    """
    kind = _torch_kind(opt)
    names = {id(p): n for n, p in module.named_parameters()}
    missing = [i for i, p in enumerate(opt.params) if id(p) not in names]
    if missing:
        raise ValueError(f"the optimizer updates parameters that are not in the module (indices {missing})")
    keys = state_key_map(module)
    theirs = dict(_unwrap(twin).named_parameters())
    params = [theirs[keys[names[id(p)]]] for p in opt.params]
    topt = getattr(torch.optim, kind)(params, **{k: getattr(opt, k) for k in OPTIMIZER_HYPERPARAMS[kind]})
    for i, s in opt.state_dict()["state"].items():
        p = params[int(i)]
        state: dict[str, Any] = {}
        for k, v in s.items():
            if k == "step":
                state[k] = _scalar_step(v)
            else:
                state[k] = torch.from_numpy(v).to(device=p.device, dtype=p.dtype)
        if kind == "RMSprop" and "step" not in state:
            state["step"] = _scalar_step(0)
        topt.state[p] = state
    return topt


def _minigan_kind(topt: torch.optim.Optimizer) -> tuple[type[moptim.Optimizer], dict[str, Any]]:
    kind = type(topt).__name__
    if kind not in OPTIMIZER_HYPERPARAMS or type(topt) is not getattr(torch.optim, kind):
        raise TypeError(f"{kind} has no minigan twin; converted: Adam, AdamW, SGD, RMSprop")
    if len(topt.param_groups) != 1:
        raise ValueError(f"{kind} with {len(topt.param_groups)} parameter groups: minigan optimizers have one")
    group = topt.param_groups[0]
    for flag in ("amsgrad", "maximize", "capturable", "differentiable", "fused"):
        if group.get(flag):
            raise ValueError(f"{kind}({flag}=True) has no minigan twin")
    hyper = {k: group[k] for k in OPTIMIZER_HYPERPARAMS[kind]}
    if kind == "Adam" and group.get("decoupled_weight_decay"):
        kind = "AdamW"
    if isinstance(hyper.get("lr"), torch.Tensor):
        hyper["lr"] = float(hyper["lr"])
    cls = {"Adam": moptim.Adam, "AdamW": moptim.AdamW, "SGD": moptim.SGD, "RMSprop": moptim.RMSprop}[kind]
    return cls, hyper


def optimizer_from_torch(topt: torch.optim.Optimizer, twin: nn.Module, module: mnn.Module) -> moptim.Optimizer:
    """The minigan optimizer that continues ``topt`` on ``module`` (the minigan model of ``twin``).

    Hyper-parameters, moments and step counts are copied; the parameters are listed in ``topt``'s
    order.
    """
    cls, hyper = _minigan_kind(topt)
    inverse = {theirs: mine for mine, theirs in state_key_map(module).items()}
    names = {id(p): n for n, p in _unwrap(twin).named_parameters()}
    ours = dict(module.named_parameters())
    tparams = topt.param_groups[0]["params"]
    unknown = [i for i, p in enumerate(tparams) if id(p) not in names or names[id(p)] not in inverse]
    if unknown:
        raise ValueError(f"the PyTorch optimizer updates parameters that are not in the model (indices {unknown})")
    params = [ours[inverse[names[id(p)]]] for p in tparams]
    opt = cls(params, **hyper)
    load_torch_optimizer_state(opt, topt.state_dict())
    return opt


def load_torch_optimizer_state(opt: moptim.Optimizer, state: Mapping[str, Any]) -> None:
    """Load a PyTorch optimizer's ``state_dict()`` into the minigan optimizer ``opt`` (of the same kind).

    PyTorch's state is indexed by position in its parameter list: position i must be ``opt``'s
    parameter i, as it is for an optimizer made by :func:`optimizer_to_torch` or on
    :func:`torch_parameters`. Hyper-parameters, moments and step counts are copied; a state that
    does not fit raises a ValueError and changes nothing.
    """
    kind = _torch_kind(opt)
    groups = state.get("param_groups")
    if not isinstance(groups, list) or len(groups) != 1:
        raise ValueError("a PyTorch optimizer state with one parameter group was expected")
    group = groups[0]
    if len(group.get("params", ())) != len(opt.params):
        raise ValueError(
            f"the PyTorch optimizer has {len(group.get('params', ()))} parameters, this one {len(opt.params)}"
        )
    lost = [k for k in OPTIMIZER_HYPERPARAMS[kind] if k not in group]
    if lost:
        raise ValueError(f"not a {kind} state: its parameter group has no {', '.join(lost)}")
    hyper: dict[str, Any] = {k: group[k] for k in OPTIMIZER_HYPERPARAMS[kind]}
    hyper = {
        k: list(v) if isinstance(v, tuple) else (float(v) if isinstance(v, torch.Tensor) else v)
        for k, v in hyper.items()
    }
    if isinstance(opt, moptim.Adam):
        hyper["decoupled"] = kind == "AdamW"
    ours = {}
    for position, index in enumerate(group["params"]):
        s = state.get("state", {}).get(index)
        if not s:
            continue
        ours[str(position)] = {k: int(_host(v)) if k == "step" else _host(v) for k, v in s.items() if v is not None}
    opt.load_state_dict({"type": type(opt).__name__, "hyperparams": hyper, "state": ours})


def _require(opt: Any, kinds: tuple[str, ...]) -> None:
    name = _torch_kind(opt) if isinstance(opt, moptim.Optimizer) else type(opt).__name__
    if name not in kinds:
        raise TypeError(f"expected {' or '.join(kinds)}, got {type(opt).__name__}")


def adam_to_torch(opt: moptim.Adam, module: mnn.Module, twin: nn.Module) -> torch.optim.Optimizer:
    """:func:`optimizer_to_torch` for Adam / AdamW only (``torch.optim.Adam`` / ``AdamW``)."""
    _require(opt, ("Adam", "AdamW"))
    return optimizer_to_torch(opt, module, twin)


def adam_from_torch(topt: torch.optim.Optimizer, twin: nn.Module, module: mnn.Module) -> moptim.Optimizer:
    """:func:`optimizer_from_torch` for ``torch.optim.Adam`` / ``AdamW`` only."""
    _require(topt, ("Adam", "AdamW"))
    return optimizer_from_torch(topt, twin, module)


def sgd_to_torch(opt: moptim.SGD, module: mnn.Module, twin: nn.Module) -> torch.optim.Optimizer:
    """:func:`optimizer_to_torch` for SGD only."""
    _require(opt, ("SGD",))
    return optimizer_to_torch(opt, module, twin)


def sgd_from_torch(topt: torch.optim.Optimizer, twin: nn.Module, module: mnn.Module) -> moptim.Optimizer:
    """:func:`optimizer_from_torch` for ``torch.optim.SGD`` only."""
    _require(topt, ("SGD",))
    return optimizer_from_torch(topt, twin, module)


def rmsprop_to_torch(opt: moptim.RMSprop, module: mnn.Module, twin: nn.Module) -> torch.optim.Optimizer:
    """:func:`optimizer_to_torch` for RMSprop only."""
    _require(opt, ("RMSprop",))
    return optimizer_to_torch(opt, module, twin)


def rmsprop_from_torch(topt: torch.optim.Optimizer, twin: nn.Module, module: mnn.Module) -> moptim.Optimizer:
    """:func:`optimizer_from_torch` for ``torch.optim.RMSprop`` only."""
    _require(topt, ("RMSprop",))
    return optimizer_from_torch(topt, twin, module)
