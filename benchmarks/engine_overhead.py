"""Per-op Python overhead of the autograd engine on tiny tensors, minigan vs PyTorch, microseconds per op.

What it measures: chains of one op on (4, 4) float32 tensors, so small that the arithmetic costs
almost nothing and what is left is the engine's bookkeeping (creating the Tensor and its
Function node, checks, dispatch; in the backward pass walking the graph and accumulating):

- ``add``: ``y = y + w``;  ``mul``: ``y = y * w``;  ``matmul``: ``y = y @ w``;
- ``sum``: ``y = sum(y, axis=1, keepdims=True)`` (shape (4, 1) after the first);
- ``tanh``: ``y = tanh(y)``.

Each chain is ``--length`` ops long (200 by default) and is timed:

- ``numpy``: the bare NumPy op on the same arrays, the floor (no autograd at all);
- ``fwd``: the forward chain with the input requiring a gradient (the graph is recorded);
- ``fwd+bwd``: the same chain, then ``y.sum().backward()``: the cost per op of recording it
  *and* running its backward (the one extra sum and the backward call are spread over the chain).

for minigan and for PyTorch (CPU), interleaved in rounds after warm-up; each cell is the median
over rounds of (time of one chain) / length, in microseconds per op, with the 25th-75th percentile.
Read ``minigan / PyTorch`` as "how many times heavier minigan's per-op machinery is" and
``minigan - numpy`` as the engine's own cost per op (what a step of a small MLP pays per layer op,
whatever the batch size).

Usage::

    python benchmarks/engine_overhead.py              # -> runs/benchmarks/engine_overhead.{json,md}
    python benchmarks/engine_overhead.py --quick      # a few seconds
    python benchmarks/engine_overhead.py --ops add matmul --length 500 --rounds 15

On a small or shared machine pin the threads (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python ...``):
NumPy's OpenBLAS and PyTorch's worker threads spin-waiting against each other on too few cores can
slow both down tenfold (measured on a loaded 2-core machine). The JSON records these variables.

Without PyTorch installed the PyTorch columns are left empty.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    Timed,
    add_quartiles,
    add_timing_args,
    fmt_q,
    machine,
    machine_line,
    paired_ratio,
    time_interleaved,
    torch,
    write_results,
)

import minigan  # noqa: E402
import minigan.functions as F  # noqa: E402

OPS = ["add", "mul", "matmul", "sum", "tanh"]


def _chain_fns(op: str, lib: Any) -> Callable[[Any, Any], Any]:
    """y -> next y for ``op`` in one library (w is the second operand where there is one)."""
    if lib == "numpy":
        return {
            "add": lambda y, w: y + w,
            "mul": lambda y, w: y * w,
            "matmul": lambda y, w: y @ w,
            "sum": lambda y, w: np.sum(y, axis=1, keepdims=True),
            "tanh": lambda y, w: np.tanh(y),
        }[op]
    if lib == "minigan":
        return {
            "add": F.add,
            "mul": F.mul,
            "matmul": F.matmul,
            "sum": lambda y, w: F.sum(y, axis=1, keepdims=True),
            "tanh": lambda y, w: F.tanh(y),
        }[op]
    return {
        "add": torch.add,
        "mul": torch.mul,
        "matmul": torch.matmul,
        "sum": lambda y, w: torch.sum(y, dim=1, keepdim=True),
        "tanh": lambda y, w: torch.tanh(y),
    }[op]


def _operands(op: str) -> tuple[np.ndarray, np.ndarray]:
    """x and w chosen so a long chain stays finite and normal (no overflow, no denormals)."""
    x = np.random.default_rng(0).uniform(0.5, 1.0, (4, 4)).astype(np.float32)
    w = {"add": np.zeros((4, 4)), "mul": np.ones((4, 4)), "matmul": np.eye(4)}.get(op, np.ones((4, 4)))
    return x, w.astype(np.float32)


def contenders(op: str, length: int, use_torch: bool) -> dict[str, Timed]:
    x_host, w_host = _operands(op)
    out: dict[str, Timed] = {}

    step = _chain_fns(op, "numpy")

    def np_fwd() -> None:
        y = x_host
        for _ in range(length):
            y = step(y, w_host)

    out["numpy_fwd"] = Timed(np_fwd)

    mstep = _chain_fns(op, "minigan")
    mx, mw = minigan.tensor(x_host, requires_grad=True), minigan.tensor(w_host)

    def m_fwd() -> Any:
        y = mx
        for _ in range(length):
            y = mstep(y, mw)
        return y

    def m_fwd_bwd() -> None:
        mx.grad = None
        F.sum(m_fwd()).backward()

    out["minigan_fwd"], out["minigan_fwd_bwd"] = Timed(m_fwd), Timed(m_fwd_bwd)

    if use_torch:
        tstep = _chain_fns(op, "torch")
        tx, tw = torch.from_numpy(x_host).requires_grad_(True), torch.from_numpy(w_host)

        def t_fwd() -> Any:
            y = tx
            for _ in range(length):
                y = tstep(y, tw)
            return y

        def t_fwd_bwd() -> None:
            tx.grad = None
            t_fwd().sum().backward()

        out["torch_fwd"], out["torch_fwd_bwd"] = Timed(t_fwd), Timed(t_fwd_bwd)
    return out


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    use_torch = torch is not None and not args.no_torch
    if args.quick:
        args.length, args.rounds, args.per_round, args.warmup = 50, 3, 2, 1
    mi = machine("numpy")
    rows = []
    for op in args.ops:
        times = time_interleaved(contenders(op, args.length, use_torch), args.rounds, args.per_round, args.warmup)
        row: dict[str, Any] = {"op": op, "shape": [4, 4], "dtype": "float32", "chain_length": args.length}
        scale = 1e6 / args.length  # seconds per chain -> microseconds per op
        for key in ("numpy_fwd", "minigan_fwd", "minigan_fwd_bwd", "torch_fwd", "torch_fwd_bwd"):
            add_quartiles(row, key, times.get(key), scale=scale, unit="us")
        row["minigan_engine_us"] = row["minigan_fwd_us"] - row["numpy_fwd_us"]
        for k in ("fwd", "fwd_bwd"):
            t = times.get(f"torch_{k}")
            row[f"ratio_{k}"] = None if t is None else paired_ratio(times[f"minigan_{k}"], t)
        row["machine"] = mi
        rows.append(row)
        print(_row_md(row), flush=True)
    return rows


def _row_md(row: dict[str, Any]) -> str:
    def ratio(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    cells = [
        row["op"],
        fmt_q(row, "numpy_fwd", "us", 2),
        fmt_q(row, "minigan_fwd", "us", 1),
        fmt_q(row, "torch_fwd", "us", 1),
        ratio(row["ratio_fwd"]),
        fmt_q(row, "minigan_fwd_bwd", "us", 1),
        fmt_q(row, "torch_fwd_bwd", "us", 1),
        ratio(row["ratio_fwd_bwd"]),
        f"{row['minigan_engine_us']:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no ops selected)\n"
    head = (
        machine_line(rows[0]["machine"]) + "\n\n"
        f"Microseconds per op on (4, 4) float32 tensors, chains of {rows[0]['chain_length']} ops: "
        "median (25th-75th percentile).\n\n"
        "| op | NumPy fwd | minigan fwd | PyTorch fwd | minigan / PyTorch fwd | minigan fwd+bwd "
        "| PyTorch fwd+bwd | minigan / PyTorch fwd+bwd | minigan - NumPy fwd |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return head + "\n".join(_row_md(r) for r in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", nargs="+", default=OPS, choices=OPS, help="ops to time")
    p.add_argument("--length", type=int, default=200, help="ops per chain")
    add_timing_args(p, rounds=9, per_round=5, unit="chains")
    p.add_argument("--quick", action="store_true", help="chains of 50, 3 rounds: a smoke run of seconds")
    p.add_argument("--out", default="runs/benchmarks", help="folder for engine_overhead.json and .md")
    args = p.parse_args(argv)
    minigan.set_backend("numpy")
    if torch is None:
        print("PyTorch is not installed: timing minigan and NumPy only (pip install torch for the comparison)")
    rows = run(args)
    write_results("engine_overhead", args.out, rows, markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
