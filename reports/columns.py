"""Metric columns of the leaderboards: order, labels, groups and which are shown first.

Directions, descriptions, prefixes and the primary metric of each threat come
from :mod:`recsec.judges.names` only; a metric outside its catalogue ranks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from recsec.judges import names

__all__ = ["Column", "order_columns", "utility_metric", "THREAT_TITLES"]

#: Prefixes in table order (``diag`` last: self-reported, never ranked).
_GROUPS: tuple[str, ...] = ("attack", "defense", "defended", "utility", "victim", "diag")
#: Utility metrics in order of preference, for the chart's y axis and the default columns.
_UTILITY_SUFFIXES: tuple[str, ...] = ("ndcg@10", "hr@10")
#: Metrics shown by default beside a primary one: a membership AUC with the true-positive rates at
#: low false-positive rates, which tell whether any member is exposed with confidence (Carlini et al.,
#: "Membership Inference Attacks From First Principles", S&P 2022).
_BESIDE: dict[str, tuple[str, ...]] = {"attack.auc": ("attack.tpr@1%fpr",)}
#: Threat model -> its heading.
THREAT_TITLES: dict[str, str] = {
    "extraction": "Model extraction",
    "membership": "Membership inference",
    "pollution": "Profile pollution",
    "detection": "Attack detection",
}


@dataclass(frozen=True)
class Column:
    """A metric column: ``shown`` ones are visible by default, the rest behind the column chooser."""

    name: str
    label: str
    group: str
    description: str
    higher_is_better: bool | None
    primary: bool = False
    shown: bool = False
    chance: bool = False  # the metric has a chance level: ranked by the distance from it

    @property
    def group_title(self) -> str:
        return names.PREFIXES.get(self.group, "Other")

    @property
    def arrow(self) -> str:
        """``↑`` / ``↓``: which way is better, from the metric catalogue; empty when it ranks nothing."""
        return {True: "↑", False: "↓"}.get(self.higher_is_better, "")  # type: ignore[arg-type]


def _group(name: str) -> str:
    prefix = name.split(".", 1)[0] if "." in name else ""
    return prefix if prefix in _GROUPS else ""


def utility_metric(available: Iterable[str]) -> str | None:
    """The victim utility as served (``defended.*``) that the page ranks and charts, if any."""
    have = set(available)
    for suffix in _UTILITY_SUFFIXES:
        name = f"defended.{suffix}"
        if name in have and names.higher_is_better(name):
            return name
    return None


def order_columns(available: Iterable[str], primaries: Iterable[str]) -> list[Column]:
    """Columns for ``available`` metric names: primaries (with what is shown beside them, :data:`_BESIDE`)
    and the utility as served shown first.

    ``primaries``: the metrics ranking the page's rows (each threat's primary, the
    attacks' declared ones). Within a group: shown first, then catalogue order, then name.
    The stored ``defended.hr@10_cost`` waits in the chooser: it is a cell's own cost (0 for a
    defense that trains the model it serves); the page's cost column compares with the
    undefended row instead (:mod:`recsec.reports.protection`).
    """
    have = set(available)
    prime = [p for p in dict.fromkeys(primaries) if p in have]
    served = utility_metric(have)
    beside = [m for p in prime for m in _BESIDE.get(p, ()) if m in have]
    shown = {*prime, *beside, *([served] if served else [])}
    catalogue = list(names.CATALOG)

    def key(n: str) -> tuple[int, int, int, str]:
        group = _group(n)
        rank = _GROUPS.index(group) if group in _GROUPS else len(_GROUPS)
        return (0 if n in shown else 1, rank, catalogue.index(n) if n in catalogue else len(catalogue), n)

    columns = []
    for n in sorted(have, key=key):
        info = names.info(n)
        group = _group(n)
        columns.append(
            Column(
                name=n,
                label=n.split(".", 1)[1] if group else n,
                group=group,
                description=info.description if info else ("self-reported by a component" if group == "diag" else ""),
                higher_is_better=info.higher_is_better if info else None,
                primary=n in prime,
                shown=n in shown,
                chance=names.has_chance(n),
            )
        )
    return columns
