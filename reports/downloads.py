"""The site's downloadable files: every page's rows as CSV and JSON, and the specs.

::

    data/results.csv|json       every cell (recsec.tables.cell_row: identity, outcome, metrics)
    data/trials.csv             every Optuna trial with its cell's identity
    data/<slug>.csv|json        a dataset page's leaderboard rows (mean, std, n per metric)
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

__all__ = ["site_files", "leaderboard_rows"]


def _leader_row(page: DatasetPage, row: LeaderRow) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": page.benchmark}
    out.update({kind: row.first.component(kind).instance for kind in KINDS})
    out.update(
        setup_hash=row.first.setup_hash,
        k=row.first.k,
        tune=row.first.tune,
        variant=row.variant,
        pareto_rank=row.pareto_rank,
        n=row.n,
        seeds=row.seeds,
    )
    for column in page.columns:
        agg = row.metrics.get(column.name)
        out.update({column.name: agg and agg.mean, f"{column.name}_std": agg and agg.std, f"{column.name}_n": agg and agg.n})
    return out


def leaderboard_rows(page: DatasetPage) -> tuple[list[dict[str, Any]], list[str]]:
    """A dataset page's rows as shown (aggregated over seeds), with their columns."""
    rows = [_leader_row(page, r) for r in page.rows]
    leading = ["benchmark", *KINDS, "setup_hash", "k", "tune", "variant", "pareto_rank", "n", "seeds"]
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
