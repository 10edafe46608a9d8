"""The verdict rule: a published claim against recsec's seeds, by Student's t interval.

Three kinds of claim, each judged on the 95 % confidence interval of the mean over
seeds (t with n - 1 degrees of freedom: t(0.975, 2) = 4.30 at three seeds):

- **level** (a published value, e.g. DFME's Agr@10 .747): *reproduced* when the whole
  interval lies within the tolerance of the published value; *above* / *below* when it
  lies wholly beyond it; else *inconclusive* (the interval is wider than the tolerance,
  or straddles its edge), with the seeds a decision would need.
- **effect** (a paired difference, seed by seed, e.g. GRO's surrogate NDCG@10 -2.32
  points): in the published direction, *reproduced* when the interval holds the
  published difference and none of it is within the margin δ of no effect (or, with no
  published size, it lies wholly on its side of 0);
  *opposite effect* when it lies wholly on the other side of 0; *no effect by margin δ*
  when its far end stays short of δ (one-sided equivalence); *smaller* / *larger effect*
  when it lies wholly between 0 and the published size, or beyond it; else *inconclusive*.
- **cost** (a bound on a relative loss, e.g. "a small cost to the target": 10.4 % of its
  HR@10 as the table was edited, 15.4 % as first posted): *reproduced* when the interval
  of the relative cost, seed by seed, stays under the bound; *cost exceeds the bound*
  when it lies wholly above it; else *inconclusive*.

Fewer than :data:`MIN_SEEDS` seeds never decide. The rule is pure arithmetic on
aggregates (``recsec.reports.stats.Agg``); ``reproductions`` finds the cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .stats import Agg, fmt

__all__ = ["MIN_SEEDS", "NOT_RUN", "NO_COUNTERPART", "REPRODUCED", "INCONCLUSIVE", "ABOVE", "BELOW", "OPPOSITE",
           "NO_EFFECT", "SMALLER", "LARGER", "EXCEEDS", "Judgement", "t_interval", "seeds_for", "judge_level",
           "judge_effect", "judge_cost", "RULE", "verdict_class"]

MIN_SEEDS = 3
NOT_RUN = "not yet run"
NO_COUNTERPART = "no counterpart"
REPRODUCED = "reproduced"
INCONCLUSIVE = "inconclusive"
ABOVE = "above the published value"
BELOW = "below the published value"
OPPOSITE = "opposite effect"
NO_EFFECT = "no effect by margin"
SMALLER = "smaller effect"
LARGER = "larger effect"
EXCEEDS = "cost exceeds the bound"
#: Seeds beyond which "how many would decide" is not worth saying exactly.
MOST_SEEDS = 100

#: The rule as the page states it, one item per step.
RULE: tuple[str, ...] = (
    "Only done cells on the headline's pinned protocol count (a cell that differs in data, recipe or attacker "
    "budget is a stand-in: shown apart, never counted); failed, skipped and pending cells never do.",
    f"No such cell: “{NOT_RUN}”. A claim with no published counterpart (another domain): “{NO_COUNTERPART}”.",
    "Every verdict reads the 95 % confidence interval of the mean over seeds, Student's t with n − 1 degrees of "
    f"freedom (t = 4.30 at 3 seeds). Fewer than {MIN_SEEDS} seeds: “{INCONCLUSIVE}”.",
    f"Level claims: “{REPRODUCED}” when the whole interval lies within the tolerance of the published value; "
    f"“{ABOVE}” / “{BELOW}” when it lies wholly beyond it; else “{INCONCLUSIVE}”.",
    "Effect claims (a difference between two rows, paired by seed; read in the published direction): "
    f"“{REPRODUCED}” when the interval holds the published difference and stays beyond the headline's margin δ "
    f"(with no published size: lies wholly on its side of 0); “{OPPOSITE}” when it lies wholly on the other side of 0; “{NO_EFFECT} δ” when its far end stays "
    f"short of the headline's margin δ; “{SMALLER}” / “{LARGER}” when it lies wholly between 0 and the published "
    f"size, or beyond it; else “{INCONCLUSIVE}”.",
    f"Cost claims (a bound on the relative loss, 1 − defended / undefended, paired by seed): “{REPRODUCED}” when "
    f"the whole interval stays under the published bound; “{EXCEEDS}” when it lies wholly above; else “{INCONCLUSIVE}”.",
    f"“{INCONCLUSIVE}” says how many seeds would decide at the spread measured so far.",
)


def verdict_class(verdict: str) -> str:
    """The badge style of a verdict: agreement green, disagreement red, undecided grey."""
    if verdict == REPRODUCED:
        return "status-done"
    if verdict in (INCONCLUSIVE, NOT_RUN, NO_COUNTERPART):
        return "status-skipped" if verdict == INCONCLUSIVE else "status-other"
    return "status-failed"


@dataclass(frozen=True)
class Judgement:
    """A verdict with the interval it was read from, the seeds a decision would need, and why."""

    verdict: str
    ci: tuple[float, float] | None = None
    seeds_needed: int | None = None
    reason: str = ""

    @property
    def decided(self) -> bool:
        return self.verdict not in (INCONCLUSIVE, NOT_RUN)


def t_interval(agg: Agg) -> tuple[float, float] | None:
    """The 95 % t interval of ``agg``'s mean (None below two values)."""
    return agg.ci95()


def seeds_for(sd: float | None, half_width: float) -> int | None:
    """The fewest seeds whose 95 % t interval, at sample sd ``sd``, is at most ``half_width`` wide
    on each side (None: no spread measured yet; ``MOST_SEEDS + 1`` past ``MOST_SEEDS``)."""
    if sd is None or not math.isfinite(sd) or half_width <= 0:
        return None
    if sd == 0:
        return MIN_SEEDS
    from scipy.stats import t

    for n in range(MIN_SEEDS, MOST_SEEDS + 1):
        if float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n) <= half_width:
            return n
    return MOST_SEEDS + 1


def _few(agg: Agg | None) -> Judgement | None:
    if agg is None or agg.n < MIN_SEEDS or agg.std is None:
        n = 0 if agg is None else agg.n
        return Judgement(INCONCLUSIVE, agg.ci95() if agg is not None else None,
                         reason=f"{n} seed{'s' if n != 1 else ''}: a verdict needs at least {MIN_SEEDS}")
    return None


def _needed(agg: Agg, half_width: float) -> int | None:
    return seeds_for(agg.std, half_width)


def _ci_text(lo: float, hi: float) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"


def judge_level(agg: Agg | None, published: float, tolerance: float) -> Judgement:
    """A level claim: the interval against ``published`` ± ``tolerance``."""
    few = _few(agg)
    if few is not None:
        return few
    assert agg is not None
    lo, hi = agg.ci95() or (agg.mean, agg.mean)
    band = (published - tolerance, published + tolerance)
    where = f"interval {_ci_text(lo, hi)}, published {fmt(published)} ± {fmt(tolerance)}"
    if band[0] <= lo and hi <= band[1]:
        return Judgement(REPRODUCED, (lo, hi), reason=where)
    if lo > band[1]:
        return Judgement(ABOVE, (lo, hi), reason=where)
    if hi < band[0]:
        return Judgement(BELOW, (lo, hi), reason=where)
    gap = abs(agg.mean - published)
    need = _needed(agg, tolerance - gap if gap < tolerance else gap - tolerance)
    return Judgement(INCONCLUSIVE, (lo, hi), need, f"{where}: wider than the tolerance or across its edge")


def judge_effect(agg: Agg | None, published: float | None, sign: int, margin: float) -> Judgement:
    """A paired effect: the interval of the seed-by-seed difference, read in direction ``sign``
    (+1: the paper reports an increase), against the published difference and the margin δ."""
    few = _few(agg)
    if few is not None:
        return few
    assert agg is not None
    lo, hi = agg.ci95() or (agg.mean, agg.mean)
    a, b = sorted((sign * lo, sign * hi))  # the interval in the published direction
    size = None if published is None else sign * published
    where = (f"difference interval {_ci_text(lo, hi)}, published "
             f"{'a ' + ('rise' if sign > 0 else 'fall') if published is None else fmt(published)}, margin δ {fmt(margin)}")
    if (size is not None and a <= size <= b and a >= margin) or (size is None and a > 0):
        # holding the published size is not enough: a wide interval holds it and "no effect" too
        verdict = REPRODUCED
    elif b < 0:
        verdict = OPPOSITE
    elif b < margin:
        verdict = NO_EFFECT
    elif size is not None and a > 0 and b < size:
        verdict = SMALLER
    elif size is not None and a > size:
        verdict = LARGER
    else:
        # wide enough to hold both the published size (or a real effect) and less than δ
        target = (size - margin) / 2 if size is not None and size > margin else margin / 2
        return Judgement(INCONCLUSIVE, (lo, hi), _needed(agg, target), where)
    return Judgement(verdict, (lo, hi), reason=where)


def judge_cost(agg: Agg | None, bound: float) -> Judgement:
    """A cost bound: the interval of the relative cost (1 − defended / undefended, per seed) against ``bound``."""
    few = _few(agg)
    if few is not None:
        return few
    assert agg is not None
    lo, hi = agg.ci95() or (agg.mean, agg.mean)
    where = f"relative cost interval {_ci_text(lo, hi)}, published bound {fmt(bound)}"
    if hi <= bound:
        return Judgement(REPRODUCED, (lo, hi), reason=where)
    if lo > bound:
        return Judgement(EXCEEDS, (lo, hi), reason=where)
    return Judgement(INCONCLUSIVE, (lo, hi), _needed(agg, abs(agg.mean - bound)), where)
