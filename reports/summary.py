"""Seed summaries of stored results for the command line (``recsec results --summary``).

One row per dataset x recommender x attack x defense: how many seeds are
done, and per chosen metric the mean and sample standard deviation over them
(the aggregation the leaderboard uses, ``recsec.reports.stats.aggregate``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any, Iterable, Sequence

from recsec.errors import RecsecError

from .stats import Agg, aggregate

GROUP_COLUMNS = ("dataset", "recommender", "attack", "defense")


def summarize(rows: Iterable[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Group done cells (rows of ``export_rows``) over seeds.

    Returns one dict per group, in first-seen order: the group columns, ``seeds``
    (the done seeds, sorted), then ``<metric>`` -> ``Agg`` (mean, sample std, n)
    or None where no done seed stored a finite value. A metric that no row has is an
    error listing the stored ones.
    """
    rows = list(rows)
    known = {k for row in rows for k in row}
    unknown = [m for m in metrics if m not in known]
    if rows and unknown:
        stored = sorted(known - {*GROUP_COLUMNS, "seed", "status", "benchmark"})
        raise RecsecError(f"--summary: no stored metric {', '.join(map(repr, unknown))}; stored: {', '.join(stored)}")
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "done":
            groups.setdefault(tuple(row[c] for c in GROUP_COLUMNS), []).append(row)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(GROUP_COLUMNS, key))
        entry["seeds"] = sorted(r["seed"] for r in members)
        for m in metrics:
            entry[m] = aggregate(r.get(m) for r in members)
        out.append(entry)
    return out


def render_summary(summary: list[dict[str, Any]], metrics: Sequence[str], format: str) -> str:
    """``markdown`` (mean ± std per metric), ``csv`` (``<metric>_mean``, ``_std``, ``_n`` columns) or ``json``."""
    if format == "json":
        return json.dumps([{k: asdict(v) if isinstance(v, Agg) else v for k, v in e.items()} for e in summary], indent=2)
    if format == "csv":
        buf = io.StringIO()
        header = [*GROUP_COLUMNS, "seeds"] + [f"{m}_{part}" for m in metrics for part in ("mean", "std", "n")]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for e in summary:
            cells = [e[c] for c in GROUP_COLUMNS] + [" ".join(map(str, e["seeds"]))]
            for m in metrics:
                agg = e[m]
                cells += ["", "", 0] if agg is None else [agg.mean, "" if agg.std is None else agg.std, agg.n]
            writer.writerow(cells)
        return buf.getvalue()
    if format != "markdown":
        raise ValueError(f"unknown summary format {format!r}; expected 'markdown', 'csv' or 'json'")
    lines = ["| " + " | ".join([*GROUP_COLUMNS, "seeds", *metrics]) + " |", "|" + "---|" * (len(GROUP_COLUMNS) + 1 + len(metrics))]
    for e in summary:
        texts = ["" if e[m] is None else e[m].text() for m in metrics]
        lines.append("| " + " | ".join([*(str(e[c]) for c in GROUP_COLUMNS), ",".join(map(str, e["seeds"])), *texts]) + " |")
    return "\n".join(lines) + "\n"
