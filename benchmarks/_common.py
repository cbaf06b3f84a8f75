"""Helpers shared by the benchmark scripts (not a benchmark itself: the smoke test skips ``_*.py``).

The measuring pieces come from ``benchmarks/step.py`` (``machine_info``, ``torch_twin``,
``time_interleaved``, the GAN steps); this module only adds what every script repeats:
the machine record with the full BLAS entry and the load average, quartiles in any unit,
and writing the JSON, the markdown table and the plots.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # `from step import ...` also when this module is imported from elsewhere
    sys.path.insert(0, str(BENCH_DIR))

from step import machine_info, time_interleaved, torch, torch_twin  # noqa: E402

__all__ = [
    "Timed",
    "add_quartiles",
    "fmt_q",
    "machine",
    "machine_line",
    "paired_ratio",
    "quartiles",
    "skip",
    "time_interleaved",
    "torch",
    "torch_twin",
    "write_results",
]


def machine(backend: str) -> dict[str, Any]:
    """``step.machine_info`` plus NumPy's full BLAS record and the load average when measured."""
    info = machine_info(backend)
    try:
        info["blas_config"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # the layout of show_config varies between NumPy versions
        info["blas_config"] = None
    # Thread settings matter a lot on a small shared machine: OpenBLAS's and PyTorch's worker threads
    # spin-waiting against each other can slow both down several times over.
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
    info["thread_env"] = {k: os.environ[k] for k in names if k in os.environ}
    try:
        info["load_avg_1min"] = round(os.getloadavg()[0], 2)  # a shared machine: how busy it was
    except OSError:
        info["load_avg_1min"] = None
    return info


def machine_line(mi: dict[str, Any]) -> str:
    """One markdown line naming the machine a table was measured on."""
    torch_part = f"torch {mi['torch']} ({mi['torch_threads']} threads)" if mi.get("torch") else "no torch"
    return (
        f"Machine: {mi['cpu']}, {mi['cores']} cores (1-min load {mi.get('load_avg_1min')}); "
        f"Python {mi['python']}, NumPy {mi['numpy']} ({mi['blas']}), {torch_part}; "
        f"minigan {mi['minigan']} on backend `{mi['backend']}`."
    )


class Timed:
    """A callable with the ``sync()`` that ``step.time_interleaved`` expects of its contenders."""

    def __init__(self, fn: Callable[[], Any], sync: Callable[[], Any] | None = None) -> None:
        self.fn, self._sync = fn, sync

    def __call__(self) -> Any:
        return self.fn()

    def sync(self) -> None:
        if self._sync is not None:
            self._sync()


def quartiles(ts: list[float], scale: float = 1e3, unit: str = "ms") -> dict[str, float]:
    """Median and 25th / 75th percentiles of ``ts`` (seconds) times ``scale``, keys ``unit``, ``p25_<unit>``..."""
    q = statistics.quantiles(ts, n=4, method="inclusive") if len(ts) >= 2 else [ts[0]] * 3
    return {unit: scale * statistics.median(ts), f"p25_{unit}": scale * q[0], f"p75_{unit}": scale * q[2]}


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median of a_i / b_i over interleaved rounds: robust to the machine drifting between rounds."""
    return statistics.median([x / y for x, y in zip(a, b)])


def skip(message: str) -> None:
    """Print one line saying why nothing (more) is measured, and exit 0."""
    print(message, flush=True)
    sys.exit(0)


def write_results(name: str, out: str | Path, rows: list[dict[str, Any]], table: str) -> list[Path]:
    """Write ``<out>/<name>.json`` (a list of rows, each with its machine) and ``<out>/<name>.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.json", out / f"{name}.md"]
    paths[0].write_text(json.dumps(rows, indent=2, default=str) + "\n")
    paths[1].write_text(table)
    print(table)
    for p in paths:
        print(f"wrote {p}")
    return paths


def fmt_q(row: dict[str, Any], key: str, unit: str = "ms", digits: int = 2) -> str:
    """``median (p25-p75)`` of ``row[key + '_' + unit]`` etc., or ``-`` when missing."""
    m = row.get(f"{key}_{unit}")
    if m is None:
        return "-"
    lo, hi = row[f"{key}_p25_{unit}"], row[f"{key}_p75_{unit}"]
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def add_quartiles(row: dict[str, Any], key: str, ts: list[float] | None, scale: float = 1e3, unit: str = "ms") -> None:
    """``row[key_unit]``, ``row[key_p25_unit]``, ``row[key_p75_unit]`` from ``ts`` (None when not measured)."""
    stats = quartiles(ts, scale, unit) if ts else {}
    for k in (unit, f"p25_{unit}", f"p75_{unit}"):
        row[f"{key}_{k}"] = stats.get(k)


def add_timing_args(p: Any, rounds: int = 7, per_round: int = 3, unit: str = "steps") -> None:
    """The interleaved-timing options every timing script shares: --rounds, --per-round, --warmup, --no-torch."""
    p.add_argument("--rounds", type=int, default=rounds, help="interleaved rounds (each times every contender)")
    p.add_argument("--per-round", type=int, default=per_round, help=f"{unit} per contender per round")
    p.add_argument("--warmup", type=int, default=3, help=f"untimed {unit} before the first round")
    p.add_argument("--no-torch", action="store_true", help="leave out PyTorch: time minigan only")
