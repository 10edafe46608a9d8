"""Seed summaries of stored results for the command line (``recsec results --summary``).

One row per dataset x recommender x attack x defense: how many seeds are
done, and per chosen metric the mean and sample standard deviation over them
(the aggregation the leaderboard uses, ``recsec.reports.stats.aggregate``).
``paired`` gives instead each metric's difference from a baseline component
(``--paired defense=none``) seed by seed: the comparison that cancels what a
seed does to both, which is how a defense's effect is judged over few seeds.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any, Iterable, Sequence

from recsec.errors import RecsecError
from recsec.metrics import is_number

from .stats import Agg, aggregate, fmt

GROUP_COLUMNS = ("dataset", "recommender", "attack", "defense")


def summarize(rows: Iterable[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Group done cells (rows of ``export_rows``) over seeds.

    Returns one dict per group, in first-seen order: the group columns, ``seeds``
    (the done seeds, sorted), then ``<metric>`` -> ``Agg`` (mean, sample std, n)
    or None where no done seed stored a finite value. A metric that no row has is an
    error listing the stored ones.
    """
    out = []
    for key, members in _done_groups(rows, metrics).items():
        entry: dict[str, Any] = dict(zip(GROUP_COLUMNS, key))
        entry["seeds"] = sorted(r["seed"] for r in members)
        for m in metrics:
            entry[m] = aggregate(r.get(m) for r in members)
        out.append(entry)
    return out


def paired(rows: Iterable[dict[str, Any]], metrics: Sequence[str], baseline: str) -> list[dict[str, Any]]:
    """Each group's metrics minus the baseline's, paired by seed.

    ``baseline`` is ``FIELD=VALUE`` with FIELD a group column and VALUE a stored
    instance name or a bare name that stands for exactly one stored instance
    (``defense=none``, ``defense=gro[lam=0.1]``). Every other group is paired
    with the group that differs from it only in FIELD. Returns one dict per group
    with at least one seed done in both: the group columns, ``seeds`` (the paired
    seeds), then ``diff.<metric>`` -> ``Agg`` of (value - baseline value) over
    the seeds where both are finite, or None. ``render_summary(..., interval=True)`` adds
    each difference's 95% confidence interval: one that holds 0 is not told apart from
    seed noise.
    """
    field, sep, value = (t.strip() for t in baseline.partition("="))
    if not sep or field not in GROUP_COLUMNS or not value:
        raise RecsecError(f"--paired {baseline!r}: expected FIELD=VALUE with FIELD one of {', '.join(GROUP_COLUMNS)}")
    groups = _done_groups(rows, metrics)
    at = GROUP_COLUMNS.index(field)
    stored = sorted({key[at] for key in groups})
    base = [n for n in stored if value in (n, n.split("[", 1)[0])]
    if len(base) != 1:
        says = "matches none" if not base else "is ambiguous between"
        raise RecsecError(f"--paired {baseline!r} {says} of the stored {field}s: {', '.join(base or stored)}")
    out = []
    for key, members in groups.items():
        if key[at] == base[0]:
            continue
        base_by_seed = {r["seed"]: r for r in groups.get(key[:at] + (base[0],) + key[at + 1 :], [])}
        pairs = [(r, base_by_seed[r["seed"]]) for r in members if r["seed"] in base_by_seed]
        if not pairs:
            continue
        entry: dict[str, Any] = dict(zip(GROUP_COLUMNS, key))
        entry["seeds"] = sorted(r["seed"] for r, _ in pairs)
        for m in metrics:
            entry[f"diff.{m}"] = aggregate(_difference(r.get(m), b.get(m)) for r, b in pairs)
        out.append(entry)
    return out


def _agg_text(agg: Agg, interval: bool) -> str:
    ci = agg.ci95() if interval else None
    return agg.text() if ci is None else f"{agg.text()} [{fmt(ci[0])}, {fmt(ci[1])}]"


def _agg_json(agg: Agg, interval: bool) -> dict[str, Any]:
    out: dict[str, Any] = asdict(agg)
    if interval:
        ci = agg.ci95()
        out["ci95"] = None if ci is None else list(ci)
    return out


def _difference(value: Any, base: Any) -> float | None:
    return float(value) - float(base) if is_number(value) and is_number(base) else None


def _done_groups(rows: Iterable[dict[str, Any]], metrics: Sequence[str]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Done rows by group, first-seen order; an unknown metric is an error listing the stored ones."""
    rows = list(rows)
    known = {k for row in rows for k in row}
    unknown = [m for m in metrics if m not in known]
    if rows and unknown:
        stored = sorted(known - {*GROUP_COLUMNS, "seed", "status", "benchmark"})
        raise RecsecError(
            f"--summary: no stored metric {', '.join(map(repr, unknown))}; stored: {', '.join(stored) or 'none yet'}"
        )
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "done":
            groups.setdefault(tuple(row[c] for c in GROUP_COLUMNS), []).append(row)
    return groups


def render_summary(summary: list[dict[str, Any]], metrics: Sequence[str], format: str, interval: bool = False) -> str:
    """``markdown`` (mean ± std per metric), ``csv`` (``<metric>_mean``, ``_std``, ``_n`` columns) or ``json``.

    With ``interval`` (``--paired``) each metric also gets the 95% confidence interval of its
    mean (``Agg.ci95``): ``[low, high]`` after the markdown cell, ``_ci95_low`` / ``_ci95_high``
    csv columns, a ``ci95`` pair (or null) in json.
    """
    if format == "json":
        return json.dumps([{k: _agg_json(v, interval) if isinstance(v, Agg) else v for k, v in e.items()} for e in summary], indent=2)
    if format == "csv":
        buf = io.StringIO()
        parts = ("mean", "std", "n") + (("ci95_low", "ci95_high") if interval else ())
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([*GROUP_COLUMNS, "seeds"] + [f"{m}_{part}" for m in metrics for part in parts])
        for e in summary:
            cells = [e[c] for c in GROUP_COLUMNS] + [" ".join(map(str, e["seeds"]))]
            for m in metrics:
                agg = e[m]
                cells += ["", "", 0] if agg is None else [agg.mean, "" if agg.std is None else agg.std, agg.n]
                if interval:
                    cells += list((agg and agg.ci95()) or ("", ""))
            writer.writerow(cells)
        return buf.getvalue()
    if format != "markdown":
        raise ValueError(f"unknown summary format {format!r}; expected 'markdown', 'csv' or 'json'")
    lines = ["| " + " | ".join([*GROUP_COLUMNS, "seeds", *metrics]) + " |", "|" + "---|" * (len(GROUP_COLUMNS) + 1 + len(metrics))]
    for e in summary:
        texts = ["" if e[m] is None else _agg_text(e[m], interval) for m in metrics]
        lines.append("| " + " | ".join([*(str(e[c]) for c in GROUP_COLUMNS), ",".join(map(str, e["seeds"])), *texts]) + " |")
    return "\n".join(lines) + "\n"
