"""Ownership verification on the leaderboard: how much of a watermark survives in a stolen model.

A watermark defense (AOW: Zhang et al., "Watermarking Recommender Systems", CIKM 2024,
arXiv 2407.21034) trains a secret sequence into the victim; recsec's judge
(:mod:`recsec.judges.watermark`) then asks the surrogate an extraction attack returns for
the watermark's next items and stores ``defense.wm_*`` metrics. Any row whose cells carry
such metrics gets a line here, whatever its defense is called: each metric's mean ± sample
standard deviation over the seeds, beside the control it is read against (the stored
``<metric>_control``, the same measure on a sequence never trained), a p-value's count of
seeds below :data:`ALPHA`, and the row's utility served and cost (the page's one ``defended.*``
metric, paired with the undefended row: :mod:`recsec.reports.protection`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from recsec.judges import names
from recsec.metrics import is_number

from .leaderboard import LeaderRow
from .stats import Agg
from .summary import metric_value

__all__ = ["PREFIX", "ALPHA", "Measure", "Verification", "OwnershipTable", "ownership"]

#: The judged metrics of ownership verification.
PREFIX = "defense.wm_"
CONTROL = "_control"
#: A p-value below this counts as the owner's evidence in a seed.
ALPHA = 0.05


def _is_pvalue(metric: str) -> bool:
    return metric.endswith("pvalue")


@dataclass(frozen=True)
class Measure:
    """One verification metric of a row: its aggregate, its control's, and (a p-value) how many
    seeds fall below :data:`ALPHA`."""

    metric: str
    value: Agg
    control: Agg | None = None
    below_alpha: int | None = None

    @property
    def evidence(self) -> str:
        """``p < 0.05 in 3 of 3 seeds`` for a p-value, else empty."""
        if self.below_alpha is None:
            return ""
        return f"p < {ALPHA:g} in {self.below_alpha} of {self.value.n} seed{'s' if self.value.n != 1 else ''}"


@dataclass(frozen=True)
class Verification:
    """A leaderboard row's verification measures, by metric name."""

    row: LeaderRow
    measures: dict[str, Measure]


@dataclass(frozen=True)
class OwnershipTable:
    """A page's rows that carry verification metrics; ``metrics``: its columns, in catalogue order."""

    metrics: list[str]
    rows: list[Verification]
    utility: str | None

    def label(self, metric: str) -> str:
        return metric.split(".", 1)[1]

    def description(self, metric: str) -> str:
        info = names.info(metric)
        return info.description if info else ""

    def arrow(self, metric: str) -> str:
        """Which way is better for the owner: ``↑`` / ``↓``, from the catalogue."""
        return {True: "↑", False: "↓"}.get(names.higher_is_better(metric), "")  # type: ignore[arg-type]


def _measure(row: LeaderRow, metric: str) -> Measure | None:
    value = row.metrics.get(metric)
    if value is None:
        return None
    below = None
    if _is_pvalue(metric):
        below = sum(1 for c in row.done if is_number(v := metric_value(c, metric)) and float(v) < ALPHA)  # type: ignore[arg-type]
    return Measure(metric, value, row.metrics.get(metric + CONTROL), below)


def ownership(rows: Iterable[LeaderRow], utility: str | None) -> OwnershipTable | None:
    """The verification table of ``rows`` (a page's, in its order), or None when none carries
    a ``defense.wm_*`` metric."""
    rows = [r for r in rows if any(m.startswith(PREFIX) for m in r.metrics)]
    if not rows:
        return None
    present = {m for r in rows for m in r.metrics if m.startswith(PREFIX)}
    # A control is shown under the metric it controls, not as a column of its own.
    shown = [m for m in present if not (m.endswith(CONTROL) and m.removesuffix(CONTROL) in present)]
    catalogue = list(names.CATALOG)
    shown.sort(key=lambda m: (catalogue.index(m) if m in catalogue else len(catalogue), m))
    table = [Verification(r, {m: x for m in shown if (x := _measure(r, m)) is not None}) for r in rows]
    return OwnershipTable(shown, table, utility)
