"""The benchmark method of ``benchmarks/_isolated.py``: own processes, alternating launches, busy check.

These test the method, not any speed: that launches alternate and carry the same thread settings,
that a child's failure is reported with its error, that the busy check sees another process
using the CPU and redoes the block, and that the step table's speed-ups are computed right.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))
import _isolated  # noqa: E402

LINUX = Path("/proc/stat").is_file()


def test_thread_env_sets_every_variable_the_same():
    env = _isolated.thread_env(3, base={"PATH": "/bin", "OMP_NUM_THREADS": "8"})
    assert {env[v] for v in _isolated.THREAD_VARS} == {"3"}
    assert env["PATH"] == "/bin"
    with pytest.raises(ValueError):
        _isolated.thread_env(0)


def _fake_child(tmp_path: Path) -> Path:
    """A child that appends its name and thread setting to a log and reports a time."""
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            name = sys.argv[1]
            if name == "broken":
                sys.exit("this child broke on purpose")
            with open(sys.argv[2], "a") as f:
                f.write(name + " " + os.environ["OPENBLAS_NUM_THREADS"] + " " + os.environ["OMP_NUM_THREADS"] + "\\n")
            t = {"a": 0.002, "b": 0.001}[name]
            print("noise before the result")
            print("RESULT " + json.dumps({"times": [t, t], "others_cores": [0.0, None],
                                          "blocks_redone": 1, "blocks_busy": 0}))
            """
        )
    )
    return script


def test_launches_alternate_with_the_same_threads(tmp_path):
    script, log = _fake_child(tmp_path), tmp_path / "log.txt"
    cmds = {n: _isolated.python_cmd(str(script), n, str(log)) for n in ("a", "b")}
    res = _isolated.run_alternating(cmds, rounds=3, threads=2)
    assert log.read_text().split("\n")[:-1] == ["a 2 2", "b 2 2"] * 3
    meds = {n: _isolated.round_medians(res[n]) for n in res}
    assert meds == {"a": [0.002] * 3, "b": [0.001] * 3}
    assert _isolated.paired_ratio(meds["a"], meds["b"]) == pytest.approx(2.0)
    assert _isolated.busy_summary(res["a"]) == {"blocks_redone": 3, "blocks_busy": 0, "max_others_cores": 0.0}


def test_a_failing_child_is_reported_with_its_error(tmp_path):
    script = _fake_child(tmp_path)
    cmds = {"broken": _isolated.python_cmd(str(script), "broken", str(tmp_path / "log"))}
    with pytest.raises(RuntimeError, match="this child broke on purpose"):
        _isolated.run_alternating(cmds, rounds=1, threads=1)


def test_paired_ratio_is_the_median_of_per_round_ratios():
    assert _isolated.paired_ratio([1.0, 2.0, 9.0], [1.0, 1.0, 1.0]) == 2.0


@pytest.mark.skipif(not LINUX, reason="the busy check reads /proc")
def test_busy_meter_sees_another_process_and_the_block_is_redone():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        with _isolated.BusyMeter() as m:
            time.sleep(0.4)  # this process idles; the spinner keeps a core busy
        assert m.others is not None and m.others > 0.5
        res = _isolated.time_blocks(lambda: time.sleep(0.01), lambda: None, blocks=2, warmup=1, retries=2)
    finally:
        spinner.kill()
        spinner.wait()
    assert res["blocks_redone"] == 4 and res["blocks_busy"] == 2  # every try was busy: kept, and counted
    assert len(res["times"]) == 2 and all(t >= 0.01 for t in res["times"])


@pytest.mark.skipif(not LINUX, reason="the busy check reads /proc")
def test_own_work_is_read_as_this_process_cpu_time():
    """``own`` is this process's CPU time from /proc/self/stat: it agrees with Python's own clock
    for it (process_time), however busy the rest of the machine is."""
    w0, t0 = time.perf_counter(), time.process_time()
    with _isolated.BusyMeter() as m:
        while time.process_time() - t0 < 0.5:  # half a second of CPU, whatever the wall time
            pass
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    assert m.own is not None and m.others is not None
    # own is CPU seconds per wall second: times the wall time, the CPU time Python measured itself.
    assert abs(m.own * wall - cpu) < 0.05  # to a few clock ticks (10 ms each)
    assert m.own <= 1.1  # one thread cannot use more than a core


def test_step_speedups_pair_one_and_two_threads():
    from step import speedups

    rows = [
        {"model": "m", "batch": 8, "threads": 1, "minigan_ms": 10.0, "torch_ms": 12.0},
        {"model": "m", "batch": 8, "threads": 2, "minigan_ms": 8.0, "torch_ms": 6.0},
        {"model": "n", "batch": 8, "threads": 1, "minigan_ms": 1.0, "torch_ms": None},
    ]
    (s,) = speedups(rows)
    assert s["minigan"] == pytest.approx(1.25) and s["torch"] == pytest.approx(2.0)
    assert s["minigan_over_torch"] == pytest.approx(0.625)
