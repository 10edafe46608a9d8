"""The cost of running attacks in their own process (``recsec.isolation``), and that it changes nothing.

    python benchmarks/scale/isolation.py                 # the embedded default benchmark, idle machine
    python benchmarks/scale/isolation.py --only seed=0

Runs the default spec twice in fresh processes, databases and caches, with the attacks in the
arena's process (``RECSEC_ISOLATE=0``) and apart (recsec's default), by the measurement of
``threads.py`` (wall time, CPU time of the run and its children, the load average beside it),
then compares every judged metric of every cell between the two databases: the isolation must
cost little and change no number.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from threads import measure  # noqa: E402  - one measurement for both scripts


def _judged(db: str) -> dict[tuple[str, str], float]:
    """(config_hash, metric) -> value for every stored judged metric of a done cell."""
    import recsec

    df = recsec.load_results(db)
    df = df[df.status == "done"]
    # metric columns are "prefix.name"; the bare "attack", "defense"... columns are the instance names
    # (timings and memory, *_s and *_mb, differ run to run and are left out)
    cols = [c for c in df.columns if "." in c and c.split(".")[0] in ("attack", "defense", "utility", "defended", "victim")
            and not c.endswith(("_s", "_mb"))]
    return {(h, c): float(v) for h, row in zip(df.config_hash, df[cols].to_dict("records"))
            for c, v in row.items() if isinstance(v, (int, float)) and not math.isnan(v)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help="a spec file (default: the embedded default benchmark)")
    ap.add_argument("--only", action="append", default=[], metavar="FIELD=VALUE", help="passed on to recsec run")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="recsec-isolation-"))
    print(f"{os.cpu_count()} logical cores; load {os.getloadavg()}")
    try:
        rows = {s: measure(s, False, work, args.spec, args.only) for s in ("in-process", "after")}
        for name, r in rows.items():
            label = "isolated" if name == "after" else name
            print(f"{label:>10}: wall {r['wall_s']:7.1f} s, CPU {r['cpu_s']:7.1f} s "
                  f"(load {r['load_start']:.2f} -> {r['load_end']:.2f}); {r['summary']}", flush=True)
        a, b = _judged(rows["in-process"]["db"]), _judged(rows["after"]["db"])
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        ratio = rows["after"]["wall_s"] / rows["in-process"]["wall_s"]
        print(f"isolated / in-process wall time {ratio:.2f}; {len(a)} judged values, {len(differ)} differ")
        for key in differ[:20]:
            print(f"  {key}: {a.get(key)} vs {b.get(key)}")
        return 1 if differ else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
