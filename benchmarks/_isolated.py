"""Timing each contender in its own process: the method behind ``step.py`` and ``ops.py``.

Why a process each: timed in one process, the two libraries disturb each other. After NumPy's
matrix products, OpenBLAS's worker threads keep spinning for a while, and PyTorch's own thread
pool then fights them for the cores: measured on the 2-core machine, PyTorch's MLP-GAN step took
23.5 ms interleaved with minigan in one process and 11.3 ms alone in a process. So here:

- each contender is a fresh ``python SCRIPT --child NAME ...`` process that imports only its own
  library (the minigan child never imports PyTorch), warms up, then times a few blocks of steps;
- launches alternate between contenders, A B A B ..., for several rounds, so slow drift of the
  machine hits all of them alike; a ratio is the median of the per-round ratios;
- every process gets the same thread settings (``thread_env``: ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``MINIGAN_NUM_THREADS``; the PyTorch child also
  calls ``torch.set_num_threads``);
- while a block is timed, the child reads how much CPU *other* processes used (``/proc/stat``
  minus its own share from ``/proc/self/stat``). A block during which others used more than
  ``busy_limit`` of a core is thrown away and timed again (up to ``retries`` times); a block still
  busy after that is kept but counted, and the tables say so.

A child prints one line ``RESULT {json}`` as its last line; the parent reads nothing else.

Read next: ``benchmarks/step.py`` (the GAN steps timed this way).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "THREAD_VARS",
    "add_method_args",
    "child_args",
    "quick_method",
    "time_child",
    "BusyMeter",
    "busy_summary",
    "child_result",
    "launch",
    "paired_ratio",
    "python_cmd",
    "round_medians",
    "run_alternating",
    "thread_env",
    "time_blocks",
]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MINIGAN_NUM_THREADS")
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_env(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this environment) with every thread-count variable set to ``threads``."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    env = dict(os.environ if base is None else base)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


# ----------------------------------------------------------------------------
# Was the machine busy? CPU time of everything else during a timed block
# ----------------------------------------------------------------------------
def _machine_jiffies() -> int | None:
    """CPU time (clock ticks) all processes have used since boot: the first line of /proc/stat.

    ``cpu user nice system idle iowait irq softirq steal ...``: busy = everything but idle and iowait.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None  # not Linux: the check is skipped and the result says so
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle


def _own_jiffies() -> int | None:
    """CPU time (clock ticks) this process has used, all its threads: utime + stime of /proc/self/stat."""
    try:
        with open("/proc/self/stat") as f:
            text = f.read()
    except OSError:
        return None
    rest = text.rsplit(")", 1)[1].split()  # the command name may hold spaces; fields start after ')'
    return int(rest[11]) + int(rest[12])  # fields 14 and 15 of proc(5): utime, stime


class BusyMeter:
    """``with BusyMeter() as m: ...`` then ``m.others``: cores' worth of CPU used by other processes.

    ``others`` is (machine busy time - this process's CPU time) / wall time, so 0.5 means other
    processes kept half a core busy on average; ``own`` is this process's share, in the same unit.
    Both None where /proc is not available.
    """

    def __enter__(self) -> BusyMeter:
        self._t0, self._all0, self._own0 = time.perf_counter(), _machine_jiffies(), _own_jiffies()
        self.others: float | None = None
        self.own: float | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        all1, own1 = _machine_jiffies(), _own_jiffies()
        if None in (self._all0, self._own0, all1, own1) or wall <= 0:
            return
        own = own1 - self._own0  # type: ignore[operator]
        self.own = own / _HZ / wall
        self.others = max(0.0, ((all1 - self._all0) - own) / _HZ / wall)  # type: ignore[operator]


def time_blocks(
    step: Callable[[], Any],
    sync: Callable[[], Any],
    *,
    blocks: int,
    warmup: int,
    block_seconds: float = 0.5,
    busy_limit: float = 0.15,
    retries: int = 4,
) -> dict[str, Any]:
    """Seconds per call of ``step``: ``warmup`` untimed calls, then ``blocks`` timed blocks.

    A block is as many calls as fill about ``block_seconds`` (measured on the warm-up, at least one),
    so that the clock ticks of the busy check (10 ms) are small beside it. A block during which other
    processes used more than ``busy_limit`` of a core is timed again, up to ``retries`` times.
    """
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        step()
    sync()
    per_call = (time.perf_counter() - t0) / max(1, warmup)
    per_block = max(1, round(block_seconds / per_call)) if per_call > 0 else 1
    times: list[float] = []
    others: list[float | None] = []
    redone = still_busy = 0
    for _ in range(blocks):
        for attempt in range(retries + 1):
            with BusyMeter() as meter:
                t0 = time.perf_counter()
                for _ in range(per_block):
                    step()
                sync()
                elapsed = time.perf_counter() - t0
            busy = meter.others is not None and meter.others > busy_limit
            if not busy or attempt == retries:
                break
            redone += 1
        still_busy += int(busy)
        times.append(elapsed / per_block)
        others.append(meter.others)
    return {
        "times": times,
        "per_block": per_block,
        "others_cores": others,
        "blocks_redone": redone,
        "blocks_busy": still_busy,
        "busy_limit": busy_limit,
    }


def child_result(result: dict[str, Any]) -> None:
    """Print a child's result as the parent expects it: one ``RESULT {json}`` line, last."""
    print("RESULT " + json.dumps(result), flush=True)


# ----------------------------------------------------------------------------
# The parent: launch the contenders one after another, A B A B ...
# ----------------------------------------------------------------------------
def launch(cmd: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one child and return its ``RESULT`` (a RuntimeError with its output if it failed)."""
    proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark child failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stderr[-3000:]}{proc.stdout[-1000:]}"
        )
    return json.loads(lines[-1][len("RESULT ") :])


def run_alternating(
    commands: dict[str, Sequence[str]], *, rounds: int, threads: int, log: Callable[[str], None] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Run each contender's command once per round, contenders alternating (A B A B ...).

    Returns, per contender, the child results of the rounds in order. Every child runs with
    :func:`thread_env` (``threads``) and otherwise this process's environment.
    """
    env = thread_env(threads)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for r in range(rounds):
        for name, cmd in commands.items():
            res = launch(cmd, env)
            out[name].append(res)
            if log is not None:
                ms = 1e3 * statistics.median(res["times"])
                log(f"  round {r + 1}/{rounds} {name}: {ms:.2f} ms ({res['blocks_redone']} blocks redone)")
    return out


def round_medians(results: list[dict[str, Any]]) -> list[float]:
    """One number per round: the median seconds per call of that round's blocks."""
    return [statistics.median(r["times"]) for r in results]


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median of a_i / b_i over the rounds: robust to the machine drifting between rounds."""
    return statistics.median([x / y for x, y in zip(a, b)])


def busy_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """How busy the machine was around a contender's blocks: blocks redone, blocks left busy, max others."""
    seen = [o for r in results for o in r["others_cores"] if o is not None]
    return {
        "blocks_redone": sum(r["blocks_redone"] for r in results),
        "blocks_busy": sum(r["blocks_busy"] for r in results),
        "max_others_cores": max(seen) if seen else None,
    }


def python_cmd(script: str, *args: str) -> list[str]:
    """``[python, script, *args]`` with the running interpreter."""
    return [sys.executable, script, *args]


def add_method_args(p: Any, *, threads: list[int], block_seconds: float, unit: str) -> None:
    """The method's options for a script's parser: --threads, --rounds, --blocks, --block-seconds, --warmup."""
    p.add_argument("--threads", nargs="+", type=int, default=threads, help="thread counts, the same for every library")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (each launches every contender once)")
    p.add_argument("--blocks", type=int, default=3, help="timed blocks per process")
    p.add_argument("--block-seconds", type=float, default=block_seconds, help="about how long a timed block lasts")
    p.add_argument("--warmup", type=int, default=3, help=f"untimed {unit} before the first block")


def quick_method(args: Any) -> None:
    """``--quick``: 2 rounds of 1 short block after 1 warm-up call (a smoke run, not a measurement)."""
    args.rounds, args.blocks, args.warmup, args.block_seconds = 2, 1, 1, 0.05


def child_args(args: Any) -> list[str]:
    """The method's options of the parent, to pass on to a child process."""
    out = ["--blocks", str(args.blocks), "--warmup", str(args.warmup), "--block-seconds", str(args.block_seconds)]
    return out + ["--quick"] * bool(getattr(args, "quick", False))


def time_child(step: Callable[[], Any], sync: Callable[[], Any], args: Any) -> dict[str, Any]:
    """:func:`time_blocks` with a child's options."""
    return time_blocks(step, sync, blocks=args.blocks, warmup=args.warmup, block_seconds=args.block_seconds)
