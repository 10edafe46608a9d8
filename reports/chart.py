"""Geometry of the utility-versus-protection scatter chart (inline SVG, drawn server-side).

This module computes numbers only; ``templates/_chart.html`` turns them into SVG
with autoescaping on, so defense names and metric names never reach the
markup unescaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .stats import Agg

__all__ = ["ChartInput", "ChartPoint", "Chart", "build_chart", "nice_ticks"]

WIDTH, HEIGHT = 680, 420
LEFT, RIGHT, TOP, BOTTOM = 72, 28, 20, 64
LABEL_MAX = 28
AXIS_LABEL_MAX = 48


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ChartInput:
    """One defense: mean ± std of attacker success (x) and victim utility (y), its Pareto rank."""

    label: str
    x: Agg
    y: Agg
    rank: int
    anchor: str = ""


@dataclass(frozen=True)
class ChartPoint:
    label: str
    short_label: str
    cx: float
    cy: float
    x_err: tuple[float, float] | None
    y_err: tuple[float, float] | None
    front: bool
    rank: int
    anchor: str
    tooltip: str
    label_x: float
    label_anchor: str


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    x_axis: str  # x_label shortened to fit under the plot
    y_axis: str
    x_hint: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    points: list[ChartPoint]
    front_line: str

    @property
    def n_front(self) -> int:
        return sum(p.front for p in self.points)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))


    def n_ticks(step: float) -> int:
        return math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1

    # The round step whose tick count is closest to ``count`` (ties: the coarser step).
    step = min((m * mag for m in (10, 5, 2.5, 2, 1)), key=lambda s: abs(n_ticks(s) - count))
    first = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12) + 0.0)
        t += step
    return ticks


def _domain(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= 0:
        span = max(abs(lo) * 0.1, 0.05)
        return lo - span, hi + span
    return lo - 0.08 * span, hi + 0.08 * span


def _extent(a: Agg) -> list[float]:
    s = a.std or 0.0
    return [a.mean - s, a.mean + s]


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, min(6, -math.floor(math.log10(step)) + 1)) if step > 0 else 2
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def build_chart(
    title: str,
    x_label: str,
    y_label: str,
    points: list[ChartInput],
    attacker_higher_is_better: bool = True,
) -> Chart:
    """Lay out the scatter: x = attacker success, y = victim utility; rank-1 points form the front."""
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    xs = [v for p in points for v in _extent(p.x)]
    ys = [v for p in points for v in _extent(p.y)]
    x_lo, x_hi = _domain(xs)
    y_lo, y_hi = _domain(ys)

    def px(v: float) -> float:
        return round(left + (v - x_lo) / (x_hi - x_lo) * (right - left), 2)

    def py(v: float) -> float:
        return round(bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top), 2)

    def ticks(lo: float, hi: float, to_px: object) -> list[tuple[float, str]]:
        vals = nice_ticks(lo, hi)
        step = vals[1] - vals[0] if len(vals) > 1 else abs(hi - lo) or 1.0
        return [(to_px(v), _tick_label(v, step)) for v in vals]  # type: ignore[operator]

    laid: list[ChartPoint] = []
    for p in points:
        cx, cy = px(p.x.mean), py(p.y.mean)
        near_right = cx > right - 150
        short = _shorten(p.label, LABEL_MAX)
        laid.append(
            ChartPoint(
                label=p.label,
                short_label=short,
                cx=cx,
                cy=cy,
                x_err=(px(p.x.mean - p.x.std), px(p.x.mean + p.x.std)) if p.x.std else None,
                y_err=(py(p.y.mean - p.y.std), py(p.y.mean + p.y.std)) if p.y.std else None,
                front=p.rank == 1,
                rank=p.rank,
                anchor=p.anchor,
                tooltip=f"{p.label}\n{x_label}: {p.x.text()} (n={p.x.n})\n{y_label}: {p.y.text()} (n={p.y.n})"
                + ("\nPareto front" if p.rank == 1 else f"\nPareto rank {p.rank}"),
                label_x=cx - 9 if near_right else cx + 9,
                label_anchor="end" if near_right else "start",
            )
        )
    front = sorted((p for p in laid if p.front), key=lambda p: (p.cx, p.cy))
    hint = "lower = better protection" if attacker_higher_is_better else "higher = better protection"
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_axis=_shorten(x_label, AXIS_LABEL_MAX),
        y_axis=_shorten(y_label, AXIS_LABEL_MAX),
        x_hint=hint,
        width=WIDTH,
        height=HEIGHT,
        plot=(left, top, right, bottom),
        x_ticks=ticks(x_lo, x_hi, px),
        y_ticks=ticks(y_lo, y_hi, py),
        points=laid,
        front_line=" ".join(f"{p.cx},{p.cy}" for p in front),
    )

