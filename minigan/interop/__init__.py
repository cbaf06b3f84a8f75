"""Bridges from minigan to other libraries (optional extras: nothing here is imported by ``import minigan``).

- ``torch.py``: :mod:`minigan.interop.torch`, an exact bridge to PyTorch (``pip install 'minigan[torch]'``):
  every layer, whole models, their state dicts and the optimizers' state, both ways;
- ``torch_layers.py``: the few PyTorch modules that ``torch.nn`` lacks (Keras' 'same' padding at a
  stride, MinibatchStdDev, the conditional containers), in plain PyTorch.

This package imports nothing itself, so that ``import minigan.interop`` works without PyTorch.

Read next: ``minigan/interop/torch.py``.
"""
