"""The site's downloadable files: every page's rows as CSV and JSON, and the specs.

::

    data/results.csv|json       every cell (recsec.tables.cell_row: identity, outcome, metrics)
    data/trials.csv             every Optuna trial with its cell's identity
    data/<slug>.csv|json        a dataset page's leaderboard rows: protection and cost with their
                                95 % intervals, verdict, Pareto rank, ε; mean, std, n per metric
    data/<slug>-cells.csv       that page's cells
    data/cell-<id>.csv|json     one cell
    specs/<hash>.toml           a spec text as a run stored it

Paths come from hashes and integer ids only.
"""

from __future__ import annotations

from typing import Any

from recsec.results import KINDS
from recsec.tables import cell_rows, to_csv, to_json, trial_rows

from .leaderboard import LeaderRow
from .model import DatasetPage, Site
from .protection import Effect
from .standings import row_verdict

__all__ = ["site_files", "leaderboard_rows"]


#: What the page says of a row beyond its metrics: how it is ranked, what it protects and costs.
RANKING_COLUMNS: tuple[str, ...] = (
    "attacker_metric", "utility_metric", "verdict", "pareto_rank", "ranked_row",
    *(f"{name}{part}" for name in ("protection", "cost") for part in ("", "_ci_low", "_ci_high", "_n")),
    "dp_epsilon",
)


def _effect(name: str, effect: Effect | None) -> dict[str, Any]:
    """``name`` (the mean), ``name_ci_low`` / ``_ci_high`` (95 % t interval) and ``name_n`` (paired seeds)."""
    agg, ci = (effect.agg, effect.ci) if effect is not None else (None, None)
    return {name: agg and agg.mean, f"{name}_ci_low": ci and ci[0], f"{name}_ci_high": ci and ci[1], f"{name}_n": agg and agg.n}


def _ranking(row: LeaderRow) -> dict[str, Any]:
    """A row's ranking columns (:data:`RANKING_COLUMNS`): the defense's Pareto rank is its standing's
    (on its strongest known attacker); ``ranked_row`` says whether this row is that attacker's."""
    standing, dp = row.standing, row.privacy
    out: dict[str, Any] = dict(
        attacker_metric=row.x_metric,
        utility_metric=row.y_metric,
        verdict=row_verdict(row) if row.n else "",
        pareto_rank=standing.pareto_rank if standing is not None else None,
        ranked_row=standing is not None and standing.ranked is row,
    )
    out.update(_effect("protection", row.protection))
    out.update(_effect("cost", row.cost))
    # JSON has no infinity: a victim trained without noise (no guarantee) says so in words.
    out["dp_epsilon"] = None if dp is None else (dp.epsilon if dp.finite else "inf")
    return out


def _leader_row(page: DatasetPage, row: LeaderRow) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": page.benchmark}
    out.update({kind: row.first.component(kind).instance for kind in KINDS})
    out.update(
        setup_hash=row.first.setup_hash,
        k=row.first.k,
        tune=row.first.tune,
        variant=row.variant,
        n=row.n,
        seeds=row.seeds,
    )
    out.update(_ranking(row))
    for column in page.columns:
        agg = row.metrics.get(column.name)
        out.update({column.name: agg and agg.mean, f"{column.name}_std": agg and agg.std, f"{column.name}_n": agg and agg.n})
    return out


def leaderboard_rows(page: DatasetPage) -> tuple[list[dict[str, Any]], list[str]]:
    """A dataset page's rows as shown (aggregated over seeds), with their columns."""
    rows = [_leader_row(page, r) for r in page.rows]
    leading = ["benchmark", *KINDS, "setup_hash", "k", "tune", "variant", "n", "seeds", *RANKING_COLUMNS]
    return rows, leading + [f"{c.name}{part}" for c in page.columns for part in ("", "_std", "_n")]


def site_files(site: Site) -> dict[str, str]:
    """Relative path -> text of every download."""
    files: dict[str, str] = {}
    every, columns = cell_rows(c.cell for c in site.cells)
    files["data/results.csv"] = to_csv(every, columns)
    files["data/results.json"] = to_json(every)
    files["data/trials.csv"] = to_csv(*trial_rows(c.cell for c in site.cells))
    for page in site.pages:
        rows, columns = leaderboard_rows(page)
        files[f"{page.data_href}.csv"] = to_csv(rows, columns)
        files[f"{page.data_href}.json"] = to_json(rows)
        files[f"{page.data_href}-cells.csv"] = to_csv(*cell_rows(page.cells))
    for view in site.cells:
        rows, columns = cell_rows([view.cell])
        files[f"{view.data_href}.csv"] = to_csv(rows, columns)
        files[f"{view.data_href}.json"] = to_json(rows)
    for spec in site.specs:
        files[spec.href] = spec.text
    return files
