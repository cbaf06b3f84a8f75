"""Layers and models (``import minigan.nn as nn``).

Read next: ``minigan/nn/module.py``.
"""

from minigan.nn.module import Module, Parameter, Sequential

__all__ = ["Module", "Parameter", "Sequential"]
