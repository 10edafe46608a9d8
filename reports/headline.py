"""The landing page's headlines: per benchmark and threat model, what the results say.

For an attack-side threat (extraction, membership, pollution): the strongest
attack on each dataset (undefended where there are undefended rows) and the
defenses on the utility-versus-protection front with what they cost the
victim's users. For detection: the best detector on each dataset. Every entry
carries its seeds and links to its leaderboard row. "Strongest" and "best" use
the threat's primary metric and its direction from :mod:`recsec.judges.names`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from recsec.judges import names

from .columns import THREAT_TITLES
from .leaderboard import LeaderRow, RankedGroup
from .stats import Agg

if TYPE_CHECKING:  # pragma: no cover
    from .model import DatasetPage

__all__ = ["Entry", "ThreatHeadline", "build_headlines"]

#: Front entries listed per threat on the landing page; the dataset pages hold the rest.
MAX_FRONT = 8


@dataclass(frozen=True)
class Entry:
    """One leaderboard row quoted on the landing page."""

    page: "DatasetPage"
    row: LeaderRow
    value: Agg
    utility: Agg | None = None
    utility_metric: str | None = None
    cost: float | None = None  # relative utility lost against the undefended row (negative: a gain)
    baseline: Agg | None = None  # the undefended attack's success in the same group
    baseline_utility: Agg | None = None  # and the utility it served

    @property
    def href(self) -> str:
        return f"{self.page.href}#row-{self.row.index}"


@dataclass(frozen=True)
class ThreatHeadline:
    threat: str
    metric: str
    higher_is_better: bool
    strongest: tuple[Entry, ...]
    front: tuple[Entry, ...]
    more_front: int

    @property
    def title(self) -> str:
        return THREAT_TITLES.get(self.threat, self.threat)

    @property
    def detection(self) -> bool:
        return self.threat == "detection"

    @property
    def metric_label(self) -> str:
        return self.metric.split(".", 1)[1]

    @property
    def description(self) -> str:
        info = names.info(self.metric)
        return info.description if info else ""


def _best(rows: Iterable[LeaderRow], metric: str, higher: bool) -> LeaderRow | None:
    scored = [r for r in rows if metric in r.metrics]
    if not scored:
        return None
    return max(scored, key=lambda r: (r.metrics[metric].mean if higher else -r.metrics[metric].mean, r.n))


def _undefended(rows: list[LeaderRow]) -> list[LeaderRow]:
    bare = [r for r in rows if r.defense.name == "none"]
    return bare or rows


def _front(page: "DatasetPage", group: RankedGroup, metric: str, higher: bool) -> list[Entry]:
    """The group's defenses on the front; with an undefended row, only those that protect better than it."""
    if group.x_metric != metric or len(group.ranked) < 2:
        return []
    bare = next((r for r in group.rows if r.defense.name == "none"), None)
    base = bare.metrics.get(metric) if bare else None
    out = []
    for r in group.ranked:
        value = r.metrics[metric]
        protects = base is None or (value.mean < base.mean if higher else value.mean > base.mean)
        if r.on_front and r.defense.name != "none" and protects:
            utility = bare.value(group.y_metric) if bare else None
            out.append(Entry(page, r, value, r.value(group.y_metric), group.y_metric,
                             _cost(r.value(group.y_metric), utility), base, utility))
    return out


def _cost(served: Agg | None, undefended: Agg | None) -> float | None:
    """``1 - served / undefended`` on the group's utility axis.

    Not the cell's own ``defended.hr@10_cost``: a training-time defense (GRO) serves the model
    it trained, so inside its cell "defended" and "undefended" are the same model and that cost
    is 0 by construction; the price users pay shows only against the plain victim's row.
    """
    if served is None or undefended is None or not undefended.mean:
        return None
    return 1.0 - served.mean / undefended.mean


def _headline(threat: str, pages: list["DatasetPage"]) -> ThreatHeadline | None:
    metric = names.PRIMARY[threat]
    higher = names.higher_is_better(metric)
    if higher is None:
        return None
    strongest = []
    front: list[Entry] = []
    for page in pages:
        rows = [r for r in page.rows if threat in r.threats]
        best = _best(rows if threat == "detection" else _undefended(rows), metric, higher)
        if best is not None:
            strongest.append(Entry(page, best, best.metrics[metric]))
        for group in page.groups:
            front += _front(page, group, metric, higher)
    if not strongest:
        return None
    # Best protection first: the attacker's worst result on the front.
    front.sort(key=lambda e: e.value.mean if higher else -e.value.mean)
    return ThreatHeadline(threat, metric, higher, tuple(strongest), tuple(front[:MAX_FRONT]), max(0, len(front) - MAX_FRONT))


def build_headlines(pages: list["DatasetPage"]) -> list[ThreatHeadline]:
    """One headline per threat model measured on ``pages`` (one benchmark's), in catalogue order."""
    return [h for threat in names.PRIMARY if (h := _headline(threat, pages)) is not None]
