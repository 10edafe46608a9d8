"""The site's content as plain objects: benchmarks with headlines, dataset leaderboards, cells.

Nothing here is HTML: the templates render these objects with autoescaping on.
File names come from cell ids and hashes only (:func:`dataset_slug`,
:func:`cell_href`), never from plugin-provided names.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from recsec.judges import names
from recsec.results import CellRecord, Results, RunRecord

from .chart import Chart, ChartInput, build_chart
from .columns import Column, order_columns
from .headline import ThreatHeadline, build_headlines
from .leaderboard import LeaderRow, RankedGroup
from .lines import LineChart, curve_charts, trial_chart
from .ownership import OwnershipTable, ownership
from .protection import paired_cells, seed_cost, seed_protection
from .provenance import SpecFile, reproduce_command, spec_file
from .standings import ThreatRanking, build_board
from .published import HEADLINES
from .reproductions import Reproduction, build_reproductions

__all__ = ["DatasetPage", "BenchmarkSummary", "CellPage", "Site", "build_site", "dataset_slug", "benchmark_anchor", "cell_href"]


def dataset_slug(benchmark: str, dataset: str) -> str:
    """File stem of a (benchmark, dataset) page: a hash, safe whatever the names hold."""
    return hashlib.sha256(json.dumps([benchmark, dataset]).encode("utf-8")).hexdigest()[:16]


def benchmark_anchor(benchmark: str) -> str:
    """Fragment id of a benchmark's section in ``index.html`` (a hash of its name)."""
    return "bench-" + hashlib.sha256(benchmark.encode("utf-8")).hexdigest()[:12]


def cell_href(cell: CellRecord) -> str:
    """Path of a cell's detail page relative to the site root (from its integer id)."""
    return f"cells/{int(cell.id)}.html"


def _utc_naive(value: datetime) -> datetime:
    """Comparable form of a timestamp: naive ones (SQLite) are taken as UTC already."""
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if isinstance(v, datetime)]
    return max(present, key=_utc_naive) if present else None


def _specs(cells: Iterable[CellRecord]) -> list[SpecFile]:
    found = {s.href: s for c in cells if (s := spec_file(c.run)) is not None}
    return [found[k] for k in sorted(found)]


class _StatusCounts:
    """Cell totals of a page; ``counts`` (status -> number of cells) comes from the class."""

    counts: Counter[str]

    @property
    def n_cells(self) -> int:
        return sum(self.counts.values())

    @property
    def other_count(self) -> int:
        """Cells neither done, failed nor skipped: pending or running."""
        return sum(v for k, v in self.counts.items() if k not in ("done", "failed", "skipped"))


@dataclass(frozen=True)
class NotApplicable:
    """Combinations skipped by design (a component's ``skip()``), grouped by the reason given."""

    reason: str
    rows: tuple[LeaderRow, ...]

    @property
    def n_cells(self) -> int:
        return sum(len(r.cells) for r in self.rows)


def not_applicable(rows: Iterable[LeaderRow]) -> list[NotApplicable]:
    """The rows whose every cell was skipped, by reason (most cells first)."""
    by_reason: dict[str, list[LeaderRow]] = {}
    for r in rows:
        if not r.applies:
            by_reason.setdefault("; ".join(x or "no reason given" for x in r.skip_reasons), []).append(r)
    groups = [NotApplicable(reason, tuple(rs)) for reason, rs in by_reason.items()]
    return sorted(groups, key=lambda g: (-g.n_cells, g.reason))


@dataclass
class DatasetPage(_StatusCounts):
    benchmark: str
    dataset: str
    cells: list[CellRecord]
    rows: list[LeaderRow]
    groups: list[RankedGroup]
    columns: list[Column]
    charts: list[Chart]
    counts: Counter[str]
    last_update: datetime | None
    rankings: list[ThreatRanking] = field(default_factory=list)

    @property
    def shown_rows(self) -> list[LeaderRow]:
        """The rows of the table: those that apply (a combination skipped by design is summarised)."""
        return [r for r in self.rows if r.applies]

    @property
    def not_applicable(self) -> list[NotApplicable]:
        return not_applicable(self.rows)

    @property
    def utility_metric(self) -> str | None:
        """The one ``defended.*`` metric the page's costs and charts use."""
        return next((g.y_metric for g in self.groups if g.y_metric), None)

    @property
    def ownership(self) -> OwnershipTable | None:
        """The rows that carry watermark verification metrics (:mod:`recsec.reports.ownership`)."""
        return ownership(self.shown_rows, self.utility_metric)

    @property
    def slug(self) -> str:
        return dataset_slug(self.benchmark, self.dataset)

    @property
    def href(self) -> str:
        return f"datasets/{self.slug}.html"

    @property
    def data_href(self) -> str:
        """Stem of the page's downloads: ``.csv`` / ``.json`` (its rows), ``-cells.csv`` (its cells)."""
        return f"data/{self.slug}"

    @property
    def bench_anchor(self) -> str:
        return benchmark_anchor(self.benchmark)

    @property
    def shown_columns(self) -> int:
        return sum(c.shown for c in self.columns)

    @property
    def ks(self) -> list[int]:
        return sorted({c.k for c in self.cells if c.k is not None})

    @property
    def specs(self) -> list[SpecFile]:
        return _specs(self.cells)

    @property
    def command(self) -> str:
        return reproduce_command(self.cells, ("dataset",))

    def distinct(self, kind: str) -> int:
        return len({r.first.component(kind).instance for r in self.rows})


@dataclass
class BenchmarkSummary(_StatusCounts):
    name: str
    datasets: list[DatasetPage]
    runs: list[RunRecord]
    headlines: list[ThreatHeadline] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return benchmark_anchor(self.name)

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for d in self.datasets:
            total.update(d.counts)
        return total

    @property
    def last_update(self) -> datetime | None:
        return _latest(d.last_update for d in self.datasets)

    @property
    def n_not_applicable(self) -> int:
        """Combinations (setups) skipped by design on every seed."""
        return sum(len(g.rows) for d in self.datasets for g in d.not_applicable)


@dataclass
class CellPage:
    """A cell and what its page shows beyond the record: charts, command, downloads, and (a
    defended cell) its seed's protection and cost against the undefended cell of that seed."""

    cell: CellRecord
    page: DatasetPage | None
    curves: list[LineChart]
    trials: LineChart | None
    row: LeaderRow | None = None

    @property
    def partner(self) -> CellRecord | None:
        """The undefended cell of the same seed (and everything else), when this one is defended."""
        row = self.row
        if row is None or row.baseline is None:
            return None
        return next((b for c, b in paired_cells(row, row.baseline) if c.id == self.cell.id), None)

    @property
    def protection(self) -> float | None:
        partner, x = self.partner, self.row.x_metric if self.row else None
        return seed_protection(x, self.cell, partner) if partner is not None and x else None

    @property
    def chance(self) -> bool:
        """The attacker metric has a chance level: success is the distance from it."""
        return bool(self.row and self.row.x_metric and names.has_chance(self.row.x_metric))

    @property
    def cost(self) -> float | None:
        partner, y = self.partner, self.row.y_metric if self.row else None
        return seed_cost(y, self.cell, partner) if partner is not None and y else None

    @property
    def href(self) -> str:
        return cell_href(self.cell)

    @property
    def data_href(self) -> str:
        return f"data/cell-{int(self.cell.id)}"

    @property
    def command(self) -> str:
        return reproduce_command([self.cell])

    @property
    def spec(self) -> SpecFile | None:
        return spec_file(self.cell.run)


@dataclass
class Site:
    benchmarks: list[BenchmarkSummary]
    pages: list[DatasetPage]
    cells: list[CellPage]
    specs: list[SpecFile]
    #: Every published headline (:data:`recsec.reports.published.HEADLINES`) beside recsec's numbers.
    reproductions: list[Reproduction] = field(default_factory=list)


def _charts(rankings: list[ThreatRanking]) -> list[Chart]:
    """The utility-versus-protection chart of each threat ranking drawing at least two defenses:
    each defense at its strongest known attacker, unranked ones (no measurable protection) apart;
    the settings of a defense with a DP guarantee joined in order of ε (the privacy-utility curve)."""
    charts = []
    for t in rankings:
        shown = t.shown
        if len({s.defense.instance for s in shown}) < 2 or t.y_metric is None:
            continue
        x, y = t.x_metric, t.y_metric
        points = []
        for s in shown:
            r = s.ranked
            assert r is not None  # shown standings have their ranked row
            on = f"on its strongest attacker: {r.attack.instance}" if s.several_attacks else ""
            note = on if s.pareto_rank else s.verdict
            dp = r.privacy  # a differentially private victim: labelled with ε, on its defense's curve
            points.append(ChartInput(s.defense.instance, r.metrics[x], r.metrics[y], s.pareto_rank or 0, f"row-{r.index}", note,
                                     tag=dp.text if dp else "", curve=s.defense.name if dp else "",
                                     order=dp.epsilon if dp else None))
        charts.append(build_chart(t.title, x, y, points, t.chance))
    return charts


def build_dataset(benchmark: str, dataset: str, cells: list[CellRecord]) -> DatasetPage:
    """A dataset's leaderboard: rows per setup, ranked groups, columns and charts."""
    rows, groups, rankings = build_board(cells)
    primaries = [g.x_metric for g in groups if g.x_metric]
    columns = order_columns({m for r in rows for m in r.metrics}, primaries)
    return DatasetPage(
        benchmark=benchmark,
        dataset=dataset,
        cells=cells,
        rows=rows,
        groups=groups,
        columns=columns,
        charts=_charts(rankings),
        counts=Counter(c.status for c in cells),
        last_update=_latest(c.updated_at or c.created_at for c in cells),
        rankings=rankings,
    )


def build_site(results: Results) -> Site:
    """Everything the templates need, from the read model."""
    by_dataset: dict[tuple[str, str], list[CellRecord]] = {}
    for c in results.cells:
        by_dataset.setdefault((c.benchmark, c.dataset.instance), []).append(c)
    pages = [build_dataset(b, d, cells) for (b, d), cells in sorted(by_dataset.items())]
    page_of = {c.id: p for p in pages for c in p.cells}
    row_of = {c.id: r for p in pages for r in p.rows for c in r.cells}
    benchmarks = []
    for name in sorted({p.benchmark for p in pages} | {r.benchmark for r in results.runs.values()}):
        runs = sorted((r for r in results.runs.values() if r.benchmark == name), key=lambda r: r.id, reverse=True)
        datasets = [p for p in pages if p.benchmark == name]
        benchmarks.append(BenchmarkSummary(name=name, datasets=datasets, runs=runs, headlines=build_headlines(datasets)))
    cells = [
        CellPage(cell=c, page=page_of.get(c.id), curves=curve_charts(c.curves), trials=trial_chart(c), row=row_of.get(c.id))
        for c in sorted(results.cells, key=lambda c: c.id)
    ]
    specs = {s.href: s for r in results.runs.values() if (s := spec_file(r)) is not None}
    return Site(benchmarks=benchmarks, pages=pages, cells=cells, specs=[specs[k] for k in sorted(specs)],
                reproductions=build_reproductions(results.cells, HEADLINES))
