"""Kept so that ``from course import ...`` beside the notebooks still works: the helpers moved.

The course's settings now live in the package, :mod:`minigan.course`, so a chapter runs from any
folder and in Colab. New code imports ``from minigan.course import budget, digits, QUICK``.

Read next: ``minigan/course.py``.
"""

from __future__ import annotations

from minigan.course import QUICK, UNLABELLED, budget, digits, unlabelled_axes

__all__ = ["QUICK", "UNLABELLED", "budget", "digits", "unlabelled_axes"]
