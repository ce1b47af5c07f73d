"""Memory, speed and kill/resume identity of a long streamed ``ailfm simulate`` (docs/cosim.md, "Long runs").

1. One uninterrupted run of ``--epochs`` epochs (1e6 by default: 1000 s simulated at 1 ms epochs) with the fast
   thermal model, on a workload that lasts longer than that (120 requests of 512 prompt tokens and 1 output token
   on llama-2-7b, 3 instances x 16 threads, governor ``performance`` with DTM): peak resident memory of the process
   (the kernel's high-water mark, ``ru_maxrss``), wall time, and the simulated speed from ``timing.json``.
2. The same run into another folder, killed with SIGKILL ``--kills`` times at random moments and continued with
   ``--resume`` each time: its result files (timeline.parquet, epochs.parquet, cores.parquet, summary.json) are
   compared byte for byte with the uninterrupted run's.

Run: ``python bench/simulate_memory.py`` (about 2 x the run's wall time; ``--epochs 20000`` for a quick check). The
machine's load average is printed with the figures: the speed depends on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RESULT_FILES = ("timeline.parquet", "epochs.parquet", "cores.parquet", "summary.json")


def command(out: Path, args: argparse.Namespace, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "ailfm.cli", "simulate", "--out", str(out), "--quiet",
            "--governor", args.governor, "--thermal", "fast", "--workload", "llama-2-7b",
            "--lengths", "fixed:512,1", "--requests", "120", "--duration", f"{args.epochs * 1e-3:.6g}",
            "--checkpoint-every", str(args.checkpoint_every), *(["--resume"] if resume else [])]


def run(cmd: list[str], kill_after_s: float | None = None) -> tuple[int, float, float]:
    """(exit status or -signal, wall seconds, peak resident MB) of one process, SIGKILLed after ``kill_after_s``."""
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = None if kill_after_s is None else start + kill_after_s
    while True:  # reaped here (not by Popen.wait) to read the child's resource usage
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.send_signal(signal.SIGKILL)
            deadline = None
        time.sleep(0.2)
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code  # already reaped
    wall = time.perf_counter() - start
    if code not in (0, -signal.SIGKILL):
        sys.exit(f"{' '.join(cmd)} failed: {process.stderr.read().decode()}")
    return code, wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1_000_000)
    parser.add_argument("--governor", default="performance")
    parser.add_argument("--checkpoint-every", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="picks the kill moments")
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate_memory"))
    parser.add_argument("--keep", action="store_true", help="keep the two run folders (several GB at 1e6 epochs)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a finished uninterrupted run in --out (its figures in whole.json)")
    args = parser.parse_args()
    whole, cut = args.out / "whole", args.out / "cut"
    shutil.rmtree(cut, ignore_errors=True)
    if not (args.reuse and (args.out / "whole.json").exists()):
        shutil.rmtree(whole, ignore_errors=True)
        load_before = os.getloadavg()
        _, wall, peak_mb = run(command(whole, args))
        timing = json.loads((whole / "timing.json").read_text())
        summary = json.loads((whole / "summary.json").read_text())
        n_epochs = round(summary["makespan_s"] / 1e-3)
        size_gb = (whole / "timeline.parquet").stat().st_size / 1e9
        figures = (f"uninterrupted: {n_epochs} epochs, wall {wall:.0f} s, loop {timing['sim_speed_x_realtime']:.2f}x "
                   f"real time, {n_epochs / wall:.0f} epochs/s overall (start-up and final merge included), peak RSS "
                   f"{peak_mb:.0f} MB, timeline.parquet {size_gb:.2f} GB; load average {load_before[0]:.2f} before, "
                   f"{os.getloadavg()[0]:.2f} after")
        (args.out / "whole.json").write_text(json.dumps({"wall_s": wall, "figures": figures}))
    saved = json.loads((args.out / "whole.json").read_text())
    wall = saved["wall_s"]
    print(saved["figures"], flush=True)

    rng = random.Random(args.seed)
    segments, peaks = 0, []
    def done() -> bool:
        return (cut / "summary.json").exists() and not (cut / "checkpoint.npz").exists()

    for _ in range(args.kills):
        if done():
            break
        code, segment_s, segment_peak = run(command(cut, args, resume=True), rng.uniform(0.05, 0.3) * wall)
        segments, peaks = segments + 1, peaks + [segment_peak]
        print(f"  segment {segments}: {'killed (SIGKILL)' if code else 'finished'} after {segment_s:.0f} s, peak RSS "
              f"{segment_peak:.0f} MB", flush=True)
    while not done():
        _, segment_s, segment_peak = run(command(cut, args, resume=True))
        segments, peaks = segments + 1, peaks + [segment_peak]
        print(f"  segment {segments}: finished after {segment_s:.0f} s, peak RSS {segment_peak:.0f} MB", flush=True)
    identical = {name: (whole / name).read_bytes() == (cut / name).read_bytes() for name in RESULT_FILES}
    print(f"killed {args.kills} times, resumed: " + ", ".join(f"{name} {'identical' if same else 'DIFFERENT'}"
                                                              for name, same in identical.items()))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    sys.exit(0 if all(identical.values()) else 1)


if __name__ == "__main__":
    main()
