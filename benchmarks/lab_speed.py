"""How much `minigan lab` slows training: steps/s with the page's frames streaming vs `GANTrainer` alone.

Issue 21 asks that training with the page open run at least 80% as fast as ``GANTrainer`` alone on
the same 2-D model. Two contenders, each in its own process (``_isolated.py``), launches alternating:

- ``trainer``: the lab's own model and trainer (a :class:`minigan.app.lab_session.LabSession`
  built but not started), timed with ``trainer.train_step()`` in blocks, nothing else running;
- ``lab``: the whole lab: the web server on a free port, its training thread playing, and an
  event-stream client *in another process* (as a browser would be) that reads every frame.
  Seconds per step are read off the trainer's step counter over blocks of wall time.

Frames are what costs: G on the view's noise, D on the heat-map grid, the gradient of the G loss at
every fake point, JSON. The session spaces them so they take at most 10% of the training thread
(``lab_session.FRAME_BUDGET``); encoding and sending happen in the server's threads.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/lab_speed.py             # -> runs/benchmarks/lab_speed.{json,md}
    python benchmarks/lab_speed.py --quick                             # a few seconds, a smoke test
    python benchmarks/lab_speed.py --preset ch4-ring --rounds 7        # chapter 4's larger networks

Read next: ``benchmarks/README.md`` (the results).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, machine_line, write_results  # noqa: E402
from _isolated import busy_summary, child_result, python_cmd, round_medians, run_alternating, time_blocks  # noqa: E402

#: The event-stream client, a separate process: counts frames until the server closes the stream.
SSE_CLIENT = r"""
import sys, urllib.request
frames = 0
with urllib.request.urlopen(sys.argv[1] + "events") as stream:
    for line in stream:
        frames += line.startswith(b"event: frame")
print(frames, flush=True)
"""


def _settings(preset: str | None) -> Any:
    from minigan.app.lab import settings_for

    return settings_for(preset, seed=0)


def child_trainer(args: argparse.Namespace) -> None:
    from minigan.app.lab_session import LabSession

    trainer = LabSession(_settings(args.preset)).trainer  # built, never started: no thread, no frames
    res = time_blocks(trainer.train_step, lambda: None, blocks=args.blocks, warmup=20, block_seconds=args.block_seconds)
    child_result({**res, "frames_per_second": 0.0})


def child_lab(args: argparse.Namespace) -> None:
    from minigan.app.lab import LabOptions, start_lab

    lab = start_lab(LabOptions(port=0, no_browser=True, preset=args.preset, seed=0)).serve_in_background()
    client = subprocess.Popen([sys.executable, "-c", SSE_CLIENT, lab.url], stdout=subprocess.PIPE, text=True)
    request = urllib.request.Request(
        lab.url + "api/control", data=b'{"action": "play"}', headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request).read()
    trainer = lambda: lab.session.trainer  # noqa: E731
    time.sleep(max(0.5, args.block_seconds))  # warm-up: the first steps and frames, the client connected
    times, t_start, f_start = [], time.perf_counter(), lab.session.latest_frame()["seq"]
    for _ in range(args.blocks):
        s0, t0 = trainer().step, time.perf_counter()
        time.sleep(args.block_seconds)
        s1, t1 = trainer().step, time.perf_counter()
        times.append((t1 - t0) / max(1, s1 - s0))
    frames_per_second = (lab.session.latest_frame()["seq"] - f_start) / (time.perf_counter() - t_start)
    lab.stop()
    received = int(client.communicate(timeout=30)[0].strip() or 0)
    child_result(
        {"times": times, "per_block": None, "others_cores": [None] * len(times), "blocks_redone": 0,
         "blocks_busy": 0, "frames_per_second": frames_per_second, "frames_received": received}
    )  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 round of 2 short blocks: a smoke test, not a measurement")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (each launches both contenders)")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per process")
    p.add_argument("--block-seconds", type=float, default=2.0, help="seconds per block")
    p.add_argument("--preset", help="a `minigan lab --preset` (default: the lab's default settings)")
    p.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and minigan (default 1)")
    p.add_argument("--out", default="runs/benchmarks", help="folder for lab_speed.json and lab_speed.md")
    p.add_argument("--child", choices=("trainer", "lab"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.blocks, args.block_seconds = 1, 2, 0.4
    if args.child:
        {"trainer": child_trainer, "lab": child_lab}[args.child](args)
        return

    common = ["--blocks", str(args.blocks), "--block-seconds", str(args.block_seconds)]
    common += ["--preset", args.preset] if args.preset else []
    script = str(Path(__file__).resolve())
    commands = {name: python_cmd(script, "--child", name, *common) for name in ("trainer", "lab")}
    results = run_alternating(commands, rounds=args.rounds, threads=args.threads, log=print)
    trainer_s, lab_s = round_medians(results["trainer"]), round_medians(results["lab"])
    ratio = statistics.median([t / lab for t, lab in zip(trainer_s, lab_s)])  # lab speed / trainer speed
    info = machine("numpy")
    rows = []
    for name, secs in (("trainer", trainer_s), ("lab", lab_s)):
        rows.append({
            "contender": name, "preset": args.preset, "rounds": args.rounds, "blocks": args.blocks,
            "steps_per_second": 1.0 / statistics.median(secs), "round_steps_per_second": [1.0 / s for s in secs],
            "frames_per_second": statistics.median(r["frames_per_second"] for r in results[name]),
            "lab_over_trainer": ratio, **busy_summary(results[name]), "machine": info,
        })  # fmt: skip
    table = "\n".join(
        [
            f"# minigan lab: training speed with the page's frames streaming ({args.preset or 'default settings'})",
            "",
            "| contender | steps/s (median of rounds) | frames/s |",
            "| --- | ---: | ---: |",
            *(f"| {r['contender']} | {r['steps_per_second']:.1f} | {r['frames_per_second']:.1f} |" for r in rows),
            "",
            f"lab / GANTrainer alone: **{ratio:.1%}** (median of {args.rounds} paired rounds; issue 21 asks >= 80%)",
            "",
            machine_line(info),
            "",
        ]
    )
    write_results("lab_speed", args.out, rows, table)


if __name__ == "__main__":
    main()
