"""Where the time of one GAN training step goes: Python's profiler over ``step.MiniganStep``.

What it measures: ``--steps`` training steps of one model (exactly what ``minigan train`` runs),
after ``--warmup`` untimed ones, on the chosen backend:

- the wall time per step (the last step ends with a host read, which waits for a GPU);
- how many autograd ops (``Function.__call__``) a step records, and the wall time per op: on a GPU
  a step whose time does not grow with the batch is bound by this per-op cost (Python and kernel
  launches), not by arithmetic;
- ``cProfile``'s top functions by their own time, summed over the steps.

Read it with ``step.py`` and ``cpu_vs_gpu.py``: they say *how fast*, this says *why*.

Usage::

    python benchmarks/profile_step.py --model dcgan --batch 256 --backend cupy
    python benchmarks/profile_step.py --quick          # the MLP-GAN on numpy, seconds
    python benchmarks/profile_step.py --backend cupy --textbook-for ConvTranspose2d   # does that kernel pay?
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step import PAIRS, MiniganStep, build  # noqa: E402

import minigan  # noqa: E402
from minigan.autograd import Function  # noqa: E402
from minigan.functions.replaceable import registered, textbook_for  # noqa: E402


def count_ops(step: MiniganStep) -> int:
    """How many ``Function.__call__`` one step makes (forward ops; each has one backward)."""
    calls = 0
    original = Function.__call__

    def counting(self: Function, *inputs: object) -> object:
        nonlocal calls
        calls += 1
        return original(self, *inputs)

    Function.__call__ = counting  # type: ignore[method-assign]
    try:
        step()
    finally:
        Function.__call__ = original  # type: ignore[method-assign]
    return calls


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="dcgan", choices=list(PAIRS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "strict"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--top", type=int, default=25, help="how many functions of the profile to print")
    p.add_argument("--quick", action="store_true", help="the MLP-GAN at batch 8, 3 steps")
    kernels = {cls.__name__: cls for cls in registered()}
    p.add_argument(
        "--textbook-for",
        nargs="+",
        default=[],
        choices=sorted(kernels),
        help="build these primitives' textbook versions (the other kernels stay on): which kernel pays here?",
    )
    a = p.parse_args(argv)
    if a.quick:
        a.model, a.batch, a.steps, a.warmup, a.top = "mlp-gan", 8, 3, 1, 10
    minigan.set_backend(a.backend)
    with textbook_for(*(kernels[name] for name in a.textbook_for)):
        step = MiniganStep(*build(a.model, a.batch))
        run(step, a)


def run(step: MiniganStep, a: argparse.Namespace) -> None:
    """Time, count and profile the steps (inside the kernels setting: ops are built as they run)."""
    for _ in range(a.warmup):
        step()
    step.sync()
    ops = count_ops(step)
    step.sync()

    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    step.sync()
    ms = (time.perf_counter() - t0) * 1e3 / a.steps

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.steps):
        step()
    step.sync()
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(a.top)

    textbook = f", textbook for {' '.join(a.textbook_for)}" if a.textbook_for else ""
    print(f"{a.model} batch {a.batch} on {a.backend}{textbook}: {ms:.2f} ms/step (wall, {a.steps} steps)")
    print(f"{ops} autograd ops per step: {ms * 1e3 / ops:.1f} us of wall time per op")
    print(f"\ncProfile over {a.steps} steps (the profiler itself slows Python down), by own time:")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:20000])


if __name__ == "__main__":
    main()
