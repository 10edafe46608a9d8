"""Seed summaries of stored results for the command line (``recsec results --summary``).

One row per setup (every identity field but the seed: benchmark, components with
their versions and parameters, ``k``, tuning, data): how many seeds are done and
which, and per chosen metric the mean and sample standard deviation over them
(the aggregation the leaderboard uses, ``recsec.reports.stats.aggregate``).
Cells of different setups are never merged, whatever their names.
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
from recsec.results import KINDS, CellRecord
from recsec.tables import csv_safe

from .stats import Agg, aggregate, fmt

#: Leading columns of every summary row: the setup, then its seeds.
GROUP_COLUMNS = ("benchmark", *KINDS, "k", "tuning", "setup", "n", "seeds")


def metric_value(cell: CellRecord, metric: str) -> Any:
    """A cell's stored value of ``metric`` (``diag.<name>``: a diagnostic), or None."""
    if metric in cell.metrics:
        return cell.metrics[metric]
    # the runner stores diagnostics as ``diag.<name>``; rows written by hand may drop the prefix
    name = metric.removeprefix("diag.")
    return cell.diagnostics.get(f"diag.{name}", cell.diagnostics.get(name))


def _entry(cell: CellRecord, seeds: list[int]) -> dict[str, Any]:
    """A summary row's setup columns, from any of its cells."""
    entry: dict[str, Any] = {"benchmark": cell.benchmark}
    entry.update({kind: cell.component(kind).instance for kind in KINDS})
    entry.update(k=cell.k, tuning=cell.tuning_text, setup=cell.setup_hash[:12], n=len(seeds), seeds=seeds)
    return entry


def summarize(cells: Iterable[CellRecord], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Group done cells by setup over their seeds.

    Returns one dict per setup, in the read model's order: :data:`GROUP_COLUMNS`
    (``seeds``: the done seeds, sorted; ``n``: how many), then ``<metric>`` ->
    ``Agg`` (mean, sample std, n) or None where no done seed stored a finite value.
    A metric that no cell has is an error listing the stored ones.
    """
    out = []
    for members in _done_groups(cells, metrics, lambda c: c.setup_hash).values():
        entry = _entry(members[0], sorted(c.seed for c in members))
        for m in metrics:
            entry[m] = aggregate(metric_value(c, m) for c in members)
        out.append(entry)
    return out


def paired(cells: Iterable[CellRecord], metrics: Sequence[str], baseline: str) -> list[dict[str, Any]]:
    """Each setup's metrics minus its baseline's, paired by seed.

    ``baseline`` is ``FIELD=VALUE`` with FIELD a component kind and VALUE a stored
    instance name or a bare name that stands for exactly one stored instance
    (``defense=none``, ``defense=gro[lam=0.1]``). Every other setup is paired with
    the baseline setup that differs from it in FIELD only. Returns one dict per
    setup with at least one seed done in both: :data:`GROUP_COLUMNS` (``seeds``:
    the paired seeds), then ``diff.<metric>`` -> ``Agg`` of (value - baseline
    value) over the seeds where both are finite, or None. ``render_summary(...,
    interval=True)`` adds each difference's 95% confidence interval: one that
    holds 0 is not told apart from seed noise.
    """
    field, sep, value = (t.strip() for t in baseline.partition("="))
    if not sep or field not in KINDS or not value:
        raise RecsecError(f"--paired {baseline!r}: expected FIELD=VALUE with FIELD one of {', '.join(KINDS)}")
    groups = _done_groups(cells, metrics, lambda c: c.setup_hash)
    stored = sorted({c.component(field).instance for members in groups.values() for c in members})
    base = [n for n in stored if value in (n, n.split("[", 1)[0])]
    if len(base) != 1:
        says = "matches none" if not base else "is ambiguous between"
        raise RecsecError(f"--paired {baseline!r} {says} of the stored {field}s: {', '.join(base or stored)}")
    # The baseline cell of every (setup without FIELD, seed).
    base_cells = {
        pair_key(c, field): c
        for members in groups.values()
        for c in members
        if c.component(field).instance == base[0]
    }
    out = []
    for members in groups.values():
        if members[0].component(field).instance == base[0]:
            continue
        pairs = [(c, b) for c in members if (b := base_cells.get(pair_key(c, field))) is not None]
        if not pairs:
            continue
        entry = _entry(members[0], sorted(c.seed for c, _ in pairs))
        for m in metrics:
            entry[f"diff.{m}"] = aggregate(difference(metric_value(c, m), metric_value(b, m)) for c, b in pairs)
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


def pair_key(cell: CellRecord, field: str) -> tuple[str, int]:
    """What a cell shares with its partner when pairing by seed across ``field``: the rest of its identity and seed."""
    return cell.key_without("seed", field), cell.seed


def difference(value: Any, base: Any) -> float | None:
    """``value - base`` when both are numbers, else None."""
    return float(value) - float(base) if is_number(value) and is_number(base) else None


def relative_cost(value: Any, base: Any) -> float | None:
    """1 − value / base (the share of ``base`` lost) when both are numbers and base is not 0."""
    d = difference(value, base)
    return None if d is None or float(base) == 0 else -d / float(base)


def _done_groups(cells: Iterable[CellRecord], metrics: Sequence[str], key: Any) -> dict[str, list[CellRecord]]:
    """Done cells by ``key(cell)``, in order; an unknown metric is an error listing the stored ones."""
    cells = list(cells)
    known = {m for c in cells for m in c.metrics} | {f"diag.{d.removeprefix('diag.')}" for c in cells for d in c.diagnostics}
    unknown = [m for m in metrics if m not in known]
    if cells and unknown:
        raise RecsecError(
            f"--summary: no stored metric {', '.join(map(repr, unknown))}; stored: {', '.join(sorted(known)) or 'none yet'}"
        )
    groups: dict[str, list[CellRecord]] = {}
    for cell in cells:
        if cell.status == "done":
            groups.setdefault(key(cell), []).append(cell)
    return groups


def _text(entry: dict[str, Any], column: str, sep: str) -> str:
    value = entry[column]
    return sep.join(map(str, value)) if column == "seeds" else ("" if value is None else str(value))


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
        # Names come from specs and plugins: a field a spreadsheet would run as a formula is escaped.
        writer.writerow([csv_safe(c) for c in [*GROUP_COLUMNS] + [f"{m}_{part}" for m in metrics for part in parts]])
        for e in summary:
            cells = [_text(e, c, " ") for c in GROUP_COLUMNS]
            for m in metrics:
                agg = e[m]
                cells += ["", "", 0] if agg is None else [agg.mean, "" if agg.std is None else agg.std, agg.n]
                if interval:
                    cells += list((agg and agg.ci95()) or ("", ""))
            writer.writerow([csv_safe(c) for c in cells])
        return buf.getvalue()
    if format != "markdown":
        raise ValueError(f"unknown summary format {format!r}; expected 'markdown', 'csv' or 'json'")
    lines = ["| " + " | ".join([*GROUP_COLUMNS, *metrics]) + " |", "|" + "---|" * (len(GROUP_COLUMNS) + len(metrics))]
    for e in summary:
        texts = ["" if e[m] is None else _agg_text(e[m], interval) for m in metrics]
        lines.append("| " + " | ".join([*(_text(e, c, ",") for c in GROUP_COLUMNS), *texts]) + " |")
    return "\n".join(lines) + "\n"
