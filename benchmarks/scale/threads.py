"""The thread policy measured: the default run's wall and CPU time, idle and beside a busy process.

    python benchmarks/scale/threads.py                       # the embedded default benchmark
    python benchmarks/scale/threads.py --only seed=0 --json out.json

Each measurement runs ``recsec run`` (the embedded default spec unless ``--spec``) in a fresh
process, database, artifacts folder and data cache, first alone ("idle") and then beside one
process that busy-loops on a core (``python -c 'while True: pass'``), under two settings:

- ``before``: torch's own thread defaults, as recsec ran before its thread policy: a thread per
  logical core, the default inter-op pool, ``OMP_WAIT_POLICY`` unset (OpenMP threads spin a
  while between parallel regions); emulated with ``RECSEC_THREAD_POLICY=torch``;
- ``after``: recsec's default policy (``recsec.device.thread_policy``): the cores available
  divided among the processes computing, one inter-op thread, ``OMP_WAIT_POLICY=PASSIVE``.

Wall time is the run's; CPU time is user + system of the run and everything it waited for
(``getrusage(RUSAGE_CHILDREN)``, read before the busy process is reaped, so its own time is
not counted). The load average is printed beside each number: on a shared machine it is part
of the result. Only the thread settings differ between the two; everything else is this recsec.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "before": {"RECSEC_THREAD_POLICY": "torch"},
    "after": {},
    # benchmarks/scale/isolation.py: the attacks in the arena's process (recsec's default runs them apart)
    "in-process": {"RECSEC_ISOLATE": "0"},
}


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(setting: str, busy: bool, work: Path, spec: str | None, only: list[str]) -> dict:
    """One ``recsec run`` under ``setting``, alone or beside a busy loop."""
    where = Path(tempfile.mkdtemp(prefix=f"{setting}-{'busy' if busy else 'idle'}-", dir=work))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "RECSEC_THREAD_POLICY", "OMP_NUM_THREADS",
                                                                  "RECSEC_ISOLATE")}
    env.update(SETTINGS[setting], RECSEC_CACHE_DIR=str(where / "cache"))
    cmd = [sys.executable, "-m", "recsec.cli", "run", *([spec] if spec else []), "--db", f"sqlite:///{where / 'r.db'}",
           "--artifacts", str(where / "artifacts"), "--no-progress", "-q", "--device", "cpu",
           *[arg for sel in only for arg in ("--only", sel)]]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        load0, cpu0, t0 = os.getloadavg()[0], _cpu_of_children(), time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall, cpu, load1 = time.perf_counter() - t0, _cpu_of_children() - cpu0, os.getloadavg()[0]
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {"setting": setting, "beside": "busy loop" if busy else "idle", "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "load_start": round(load0, 2), "load_end": round(load1, 2),
            "summary": done.stderr.strip().splitlines()[-1], "db": f"sqlite:///{where / 'r.db'}"}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help="a spec file (default: the embedded default benchmark)")
    ap.add_argument("--only", action="append", default=[], metavar="FIELD=VALUE", help="passed on to recsec run")
    ap.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["before", "after"])
    ap.add_argument("--idle-only", action="store_true", help="skip the measurements beside a busy loop")
    ap.add_argument("--json", type=Path, help="write the measurements here")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="recsec-threads-"))
    print(f"{os.cpu_count()} logical cores, {len(os.sched_getaffinity(0))} available; load {os.getloadavg()}")
    rows = []
    try:
        for busy in (False,) if args.idle_only else (False, True):
            for setting in args.settings:
                row = measure(setting, busy, work, args.spec, args.only)
                rows.append(row)
                print(f"{row['setting']:>6} {row['beside']:>9}: wall {row['wall_s']:7.1f} s, CPU {row['cpu_s']:7.1f} s "
                      f"(load {row['load_start']:.2f} -> {row['load_end']:.2f}); {row['summary']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"cmd": sys.argv, "only": args.only,
                                         "rows": [{k: v for k, v in r.items() if k != "db"} for r in rows]}, indent=1))
    return rows


if __name__ == "__main__":
    main()
