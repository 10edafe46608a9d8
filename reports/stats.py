"""Seed aggregation (mean, sample std, n), number formatting and Pareto ranking."""

from __future__ import annotations

import math
import numbers
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

from recsec.metrics import is_number

__all__ = ["Agg", "aggregate", "fmt", "pareto_ranks"]


@dataclass(frozen=True)
class Agg:
    """Mean and sample standard deviation (ddof=1; None for a single value) of n values."""

    mean: float
    std: float | None
    n: int

    def text(self) -> str:
        """``0.8123 ± 0.0130`` (or just the mean when n == 1)."""
        if self.std is None:
            return fmt(self.mean)
        return f"{fmt(self.mean)} ± {fmt(self.std)}"

    def ci95(self) -> tuple[float, float] | None:
        """The 95% confidence interval of the mean, Student's t with n - 1 degrees of freedom;
        None below two values. Over paired seeds it says whether a difference is told apart
        from seed noise: with 3 seeds the half-width is 2.48 standard deviations."""
        if self.std is None:
            return None
        from scipy.stats import t  # lazy: scipy is heavy and only --paired needs it

        half = float(t.ppf(0.975, self.n - 1)) * self.std / math.sqrt(self.n)
        return (self.mean - half, self.mean + half)


def aggregate(values: Iterable[object]) -> Agg | None:
    """Aggregate the finite numbers among ``values``; None when there are none."""
    xs = [float(v) for v in values if is_number(v) and math.isfinite(float(v))]  # type: ignore[arg-type]
    if not xs:
        return None
    return Agg(mean=statistics.fmean(xs), std=statistics.stdev(xs) if len(xs) > 1 else None, n=len(xs))


def fmt(value: object, digits: int = 4) -> str:
    """Format a number compactly and stably: fixed decimals in the usual range, else scientific."""
    if not is_number(value):
        return "" if value is None else str(value)
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        return str(x)
    if isinstance(value, numbers.Integral):
        return str(value)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}f}"
    return f"{x:.{digits - 1}e}"


def pareto_ranks(points: Sequence[tuple[float, float]]) -> list[int]:
    """Non-dominated sorting of (cost, gain) points: minimise cost, maximise gain.

    Rank 1 is the Pareto front; rank k is the front once ranks < k are removed.
    A point dominates another when it is no worse on both axes and strictly
    better on one; equal points share a rank.
    """

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])

    ranks = [0] * len(points)
    left = set(range(len(points)))
    rank = 0
    while left:
        rank += 1
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
    return ranks
