"""Published headlines of the literature beside recsec's numbers on the same protocol.

Each :class:`Headline` names a paper's claim, the protocol it needs as matchers on a
cell's components, the metric, the published value and the spec that produces it.
:func:`build_reproductions` finds the matching done cells in the results and gives a
verdict per matching setup (:data:`VERDICT_RULE`); "stand-in" protocols (a nearby
dataset file, a CPU-sized recipe) are shown apart and never give the verdict.

Papers (the registry, :data:`recsec.reports.published.HEADLINES`, cites them per claim):

- Yue et al., "Black-Box Attacks on Sequential Recommenders via Data-Free Model
  Extraction", RecSys 2021 (DFME): autoregressive Agr@10 per victim.
- Zhang & Liu, "Few-shot Model Extraction Attacks against Sequential Recommender
  Systems", arXiv 2411.11677: few-shot beats data-free at an equal query budget.
- Zhang et al., "Defense Against Model Extraction Attacks on Recommender Systems",
  WSDM 2024 (GRO): what the defense costs the surrogate and the target.
- Zhang et al., "Membership Inference Attacks Against Recommender Systems", CCS 2021.
- Xie et al., "SAME: Sample Reconstruction against Model Extraction Attacks", AAAI
  2024: image domain, so no published counterpart for recommenders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from recsec.results import KINDS, CellRecord, ComponentRecord

from .stats import Agg, aggregate, fmt
from .summary import difference, metric_value, pair_key, relative_cost
from .verdicts import (NO_COUNTERPART, NOT_RUN, RULE, Judgement, judge_cost, judge_effect, judge_level)

__all__ = ["Match", "Protocol", "StandIn", "surrogate_converged", "Headline", "Outcome", "Reproduction", "VERDICT_RULE",
           "match", "verdict", "reproduce", "build_reproductions"]

#: The rule as the page states it (``recsec.reports.verdicts`` applies it).
VERDICT_RULE = RULE


@dataclass(frozen=True)
class Match:
    """Matches one component of a cell: its name (None: any) and parameters.

    ``params``: (key, value) pairs the component must have; a tuple value lists
    alternatives. ``exclude``: (key, value) pairs it must not have. Values are read
    from the stored parameters (defaults included), else from the instance name.
    """

    name: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    exclude: tuple[tuple[str, Any], ...] = ()

    def matches(self, comp: ComponentRecord) -> bool:
        if self.name is not None and comp.name != self.name:
            return False
        for key, wanted in self.params:
            found, value = _param(comp, key)
            options = wanted if isinstance(wanted, tuple) else (wanted,)
            if not found or not any(_same(value, w) for w in options):
                return False
        excluded = ((_param(comp, key), v) for key, v in self.exclude)
        return not any(found and _same(value, v) for (found, value), v in excluded)

    @property
    def text(self) -> str:
        """``gro[lam=0.001]``-like text of what it requires."""
        parts = [f"{k}={'|'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in self.params]
        parts += [f"{k}≠{v}" for k, v in self.exclude]
        return (self.name or "any") + (f"[{','.join(parts)}]" if parts else "")


def match(name: str | None = None, exclude: Mapping[str, Any] | None = None, **params: Any) -> Match:
    """``match("gro", lam=0.001)``, ``match("gro", exclude={"lam": 0.0})``."""
    return Match(name, tuple(params.items()), tuple((exclude or {}).items()))


def _param(comp: ComponentRecord, key: str) -> tuple[bool, Any]:
    if key in comp.params:
        return True, comp.params[key]
    for text in comp.given:
        k, sep, v = text.partition("=")
        if sep and k.strip() == key:
            return True, v.strip().strip("\"'")
    return False, None


def _same(value: Any, wanted: Any) -> bool:
    """Equal as numbers when ``wanted`` is a number (text values parsed), else as text."""
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return math.isclose(float(value), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return str(value).lower() == str(wanted).lower()


@dataclass(frozen=True)
class Protocol:
    """What a cell must be to count for a headline: a matcher per component kind.

    ``converged``: None takes any cell; True only cells whose surrogate stopped because its
    held-out agreement stopped improving (:func:`surrogate_converged`); False only the others
    (stopped at an epoch or time cap, or not known): a lower bound, never the verdict.
    """

    dataset: Match = Match()
    recommender: Match = Match()
    attack: Match = Match()
    defense: Match = match("none")
    converged: bool | None = None

    def matches(self, cell: CellRecord) -> bool:
        if not all(getattr(self, kind).matches(cell.component(kind)) for kind in KINDS):
            return False
        return self.converged is None or surrogate_converged(cell) is self.converged

    def with_(self, kind: str, m: Match) -> "Protocol":
        return replace(self, **{kind: m})

    @property
    def text(self) -> str:
        return " · ".join(getattr(self, kind).text for kind in KINDS)


def surrogate_converged(cell: CellRecord) -> bool:
    """Whether the cell's surrogate ran out of patience (DFME's "trained to convergence"), as
    the extraction attack records it (``diag.converged``); a cell without it is not known to."""
    return metric_value(cell, "diag.converged") == 1.0


@dataclass(frozen=True)
class StandIn:
    """A nearby protocol (another file of the dataset, a CPU-sized recipe), shown apart, never the verdict."""

    label: str
    protocol: Protocol
    spec: str


@dataclass(frozen=True)
class Headline:
    """A published claim and the protocol recsec reproduces it on.

    ``kind``: ``level`` compares the mean of ``metric`` with ``published`` within
    ``tolerance``; ``paired`` (an effect) compares, seed by seed, ``metric`` of the
    protocol's cells with ``baseline_metric`` (default ``metric``) of the cells whose
    ``vary`` component matches ``baseline`` instead, everything else equal, against the
    published difference and the margin δ (``margin``, in the metric's units); ``sign``
    (default: the sign of ``published``) is the direction the paper reports. ``cost``
    pairs the same way but judges the relative loss 1 − this / baseline against
    ``bound`` (``bounds`` adds other published bounds, shown beside). ``controls``:
    further rows the difference is shown against (not the verdict); ``also``: metrics
    shown beside. See ``recsec.reports.verdicts`` for the rule.
    """

    id: str
    paper: str
    claim: str
    protocol: Protocol
    metric: str
    published: float | None
    specs: tuple[str, ...]
    kind: str = "level"
    tolerance: float = 0.03
    vary: str = ""
    baseline: Match | None = None
    baseline_metric: str = ""
    sign: int = 0
    margin: float = 0.0
    bound: float | None = None
    bounds: tuple[tuple[str, float], ...] = ()
    controls: tuple[tuple[str, Match], ...] = ()
    also: tuple[str, ...] = ()
    stand_ins: tuple[StandIn, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("level", "paired", "cost"):
            raise ValueError(f"{self.id}: kind must be 'level', 'paired' or 'cost', not {self.kind!r}")
        if self.kind in ("paired", "cost") and (self.vary not in KINDS or self.baseline is None):
            raise ValueError(f"{self.id}: a {self.kind} headline needs vary and baseline")
        if self.kind == "paired" and (not self.expected_sign or not self.margin > 0):
            raise ValueError(f"{self.id}: a paired headline needs a published sign and a margin > 0")
        if self.kind == "paired" and self.published is not None and not self.margin < abs(self.published):
            raise ValueError(f"{self.id}: the margin δ must be smaller than the published difference")
        if self.kind == "cost" and self.bound is None:
            raise ValueError(f"{self.id}: a cost headline needs its published bound")

    @property
    def pairs(self) -> bool:
        return self.kind in ("paired", "cost")

    @property
    def expected_sign(self) -> int:
        if self.sign:
            return 1 if self.sign > 0 else -1
        return 0 if not self.published else (1 if self.published > 0 else -1)

    @property
    def published_text(self) -> str:
        if self.kind == "cost":
            return f"relative cost ≤ {self.bound:.1%}"
        if self.published is None:
            if self.kind == "paired":
                return "positive difference" if self.expected_sign > 0 else "negative difference"
            return "no published counterpart"
        return f"{self.published:+g}" if self.kind == "paired" else f"{self.published:g}"

    @property
    def decision_text(self) -> str:
        """What decides, in words: the tolerance, the margin and direction, or the bounds."""
        if self.kind == "level":
            return "" if self.published is None else f"tolerance ± {fmt(self.tolerance)}"
        if self.kind == "paired":
            return f"direction: {'rise' if self.expected_sign > 0 else 'fall'}; margin δ = {fmt(self.margin)}"
        return "; ".join(f"{label}: {value:.1%}" for label, value in self.bounds)

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(f"recsec run {s} --data-dir ../shared/data" for s in self.specs)


@dataclass(frozen=True)
class Outcome:
    """One matching setup: its value (the mean or the mean paired difference) and verdict."""

    label: str
    cells: tuple[CellRecord, ...]
    value: Agg | None
    judgement: Judgement
    gap: float | None = None
    baseline_label: str = ""
    baseline_cells: tuple[CellRecord, ...] = ()
    before: Agg | None = None
    after: Agg | None = None
    extras: tuple[tuple[str, Agg | None], ...] = ()
    note: str = ""

    @property
    def n(self) -> int:
        return self.value.n if self.value is not None else 0

    @property
    def verdict(self) -> str:
        return self.judgement.verdict


@dataclass(frozen=True)
class Reproduction:
    """A headline with its matching setups, its stand-ins' and how many matching cells failed or were skipped."""

    headline: Headline
    outcomes: tuple[Outcome, ...]
    stand_ins: tuple[tuple[StandIn, tuple[Outcome, ...]], ...] = ()
    not_counted: int = 0

    @property
    def verdict(self) -> str:
        """The verdict of its one setup; with several, each row has its own (``not yet run`` with none)."""
        verdicts = {o.verdict for o in self.outcomes}
        return NOT_RUN if not verdicts else verdicts.pop() if len(verdicts) == 1 else "mixed"


def _label(cell: CellRecord) -> str:
    return f"{cell.benchmark}: " + " · ".join(cell.component(k).instance for k in KINDS)


def _latest_per_seed(cells: Iterable[CellRecord]) -> list[CellRecord]:
    by_seed: dict[int, CellRecord] = {}
    for c in sorted(cells, key=lambda c: c.id):
        by_seed[c.seed] = c
    return [by_seed[s] for s in sorted(by_seed)]


def verdict(h: Headline, value: Agg | None) -> tuple[Judgement, float | None]:
    """The judgement on ``value`` (a setup's mean; paired: the mean difference; cost: the mean
    relative cost, seed by seed) and, for a level claim, the gap mean − published."""
    if h.kind == "level" and h.published is None:
        return Judgement(NO_COUNTERPART), None
    if h.kind == "level":
        assert h.published is not None
        gap = value.mean - h.published if value is not None else None
        return judge_level(value, h.published, h.tolerance), gap
    if h.kind == "cost":
        assert h.bound is not None
        return judge_cost(value, h.bound), None
    return judge_effect(value, h.published, h.expected_sign, h.margin), None


def _by_setup(cells: list[CellRecord]) -> list[list[CellRecord]]:
    """Cells grouped by setup (every identity field but the seed), the newest cell per seed."""
    groups: dict[str, list[CellRecord]] = {}
    for c in cells:
        groups.setdefault(c.setup_hash, []).append(c)
    return [_latest_per_seed(members) for members in groups.values()]


def _level(h: Headline, cells: list[CellRecord]) -> list[Outcome]:
    out = []
    for members in _by_setup(cells):
        value = aggregate(metric_value(c, h.metric) for c in members)
        j, gap = verdict(h, value)
        extras = tuple((m, aggregate(metric_value(c, m) for c in members)) for m in h.also)
        out.append(Outcome(_label(members[0]), tuple(members), value, j, gap, extras=extras))
    return out


def _pairs(treated: list[CellRecord], others: list[CellRecord], vary: str) -> dict[str, list[tuple[CellRecord, CellRecord]]]:
    """``treated`` paired with ``others`` of the same seed differing in ``vary`` only, per other setup."""
    index: dict[tuple[str, int], list[CellRecord]] = {}
    for c in others:
        index.setdefault(pair_key(c, vary), []).append(c)
    by_setup: dict[str, dict[int, tuple[CellRecord, CellRecord]]] = {}
    for t in sorted(treated, key=lambda c: c.id):
        for b in sorted(index.get(pair_key(t, vary), []), key=lambda c: c.id):
            by_setup.setdefault(b.setup_hash, {})[t.seed] = (t, b)
    return {k: [v[s] for s in sorted(v)] for k, v in by_setup.items()}


def _diff(pairs: list[tuple[CellRecord, CellRecord]], metric: str, base_metric: str, relative: bool = False) -> Agg | None:
    of = relative_cost if relative else difference
    return aggregate(of(metric_value(t, metric), metric_value(b, base_metric)) for t, b in pairs)


def _paired(h: Headline, protocol: Protocol, cells: list[CellRecord], pool: list[CellRecord]) -> list[Outcome]:
    assert h.baseline is not None
    base_metric = h.baseline_metric or h.metric
    base_protocol = protocol.with_(h.vary, h.baseline)
    bases = [c for c in pool if base_protocol.matches(c)]
    controls = [(label, [c for c in pool if protocol.with_(h.vary, m).matches(c)]) for label, m in h.controls]
    out = []
    for members in _by_setup(cells):
        by_base = _pairs(members, bases, h.vary)
        if not by_base:
            j, _ = verdict(h, None)
            note = f"no done {h.vary} {h.baseline.text} row with the same seeds and everything else equal"
            out.append(Outcome(_label(members[0]), tuple(members), None, j, note=note))
        for pairs in by_base.values():
            value = _diff(pairs, h.metric, base_metric, relative=h.kind == "cost")
            keep = [(t, b) for t, b in pairs
                    if math.isfinite(difference(metric_value(t, h.metric), metric_value(b, base_metric)) or math.nan)]
            extras = [(f"Δ {m} vs {pairs[0][1].component(h.vary).instance}", _diff(pairs, m, m)) for m in h.also]
            for label, ctrl in controls:
                for ctrl_pairs in _pairs(members, ctrl, h.vary).values():
                    name = ctrl_pairs[0][1].component(h.vary).instance
                    extras.append((f"{'relative cost' if h.kind == 'cost' else 'Δ'} {h.metric} vs {label} ({name})",
                                   _diff(ctrl_pairs, h.metric, h.metric, relative=h.kind == "cost")))
                    extras += [(f"Δ {m} vs {label} ({name})", _diff(ctrl_pairs, m, m)) for m in h.also]
            j, _ = verdict(h, value)
            out.append(Outcome(
                _label(pairs[0][0]), tuple(t for t, _ in pairs), value, j,
                baseline_label=pairs[0][1].component(h.vary).instance, baseline_cells=tuple(b for _, b in pairs),
                before=aggregate(metric_value(b, base_metric) for _, b in keep),
                after=aggregate(metric_value(t, h.metric) for t, _ in keep), extras=tuple(extras),
            ))
    return out


def _outcomes(h: Headline, protocol: Protocol, done: list[CellRecord], exclude: Protocol | None = None) -> list[Outcome]:
    cells = [c for c in done if protocol.matches(c) and not (exclude is not None and exclude.matches(c))]
    found = _paired(h, protocol, cells, done) if h.pairs else _level(h, cells)
    return sorted(found, key=lambda o: o.label)


def reproduce(h: Headline, cells: Iterable[CellRecord]) -> Reproduction:
    """``h`` judged on ``cells``: only done cells count; matching failed or skipped ones are counted apart."""
    cells = list(cells)
    done = [c for c in cells if c.status == "done"]
    # a failed cell stored no diagnostics: its components alone say it was meant for this headline
    meant = replace(h.protocol, converged=None)
    not_counted = sum(1 for c in cells if c.status in ("failed", "skipped") and meant.matches(c))
    stand_ins = tuple((s, tuple(_outcomes(h, s.protocol, done, exclude=h.protocol))) for s in h.stand_ins)
    return Reproduction(h, tuple(_outcomes(h, h.protocol, done)), tuple(x for x in stand_ins if x[1]), not_counted)


def build_reproductions(cells: Iterable[CellRecord], headlines: Iterable[Headline]) -> list[Reproduction]:
    """Every headline (the site uses the registry, :data:`recsec.reports.published.HEADLINES`) on ``cells``."""
    cells = list(cells)
    return [reproduce(h, cells) for h in headlines]
