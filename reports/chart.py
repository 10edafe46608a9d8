"""Geometry of the utility-versus-protection scatter chart (inline SVG, drawn server-side).

This module computes numbers only; ``templates/_chart.html`` turns them into SVG
with autoescaping on, so defense names and metric names never reach the
markup unescaped. Labels never overlap: points that coincide on screen are
drawn once with their names joined (a tie), every label takes the first free
spot around its point, and a label with no free spot becomes a number whose
name is listed under the chart. A metric with a chance level (a ROC AUC) gets its
chance line: its points are ranked by their distance from it, on either side.
Points may lie on a curve (the settings of one defense along a privacy budget, see
:mod:`recsec.reports.privacy`): they are labelled with their ``tag`` (``ε = 29.8``) and
joined in the order the curve gives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from recsec.judges import names

from .stats import Agg

__all__ = ["ChartInput", "ChartPoint", "Curve", "Chart", "build_chart", "nice_ticks", "domain", "axis_ticks"]

WIDTH, HEIGHT = 680, 420
LEFT, RIGHT, TOP, BOTTOM = 72, 28, 20, 64
LABEL_MAX = 28
#: Ties join their names: they may run longer before they are shortened.
TIE_LABEL_MAX = 44
AXIS_LABEL_MAX = 48
#: Average advance of a character at the labels' 11px size (system sans-serif), and a label's height.
CHAR_W, LABEL_H = 6.2, 12.0
#: Points closer than this many pixels on both axes are one tie.
TIE_PX = 4.0
POINT_R = 7.0

Box = tuple[float, float, float, float]  # left, top, right, bottom


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ChartInput:
    """One defense: mean ± std of attacker success (x) and victim utility (y), its Pareto rank
    (0: not ranked, ``note`` says why), and what the tooltip adds (``note``: the attack it is ranked on).
    ``tag`` is drawn instead of the name (the name stays in the tooltip); a point with a ``curve``
    is joined to the others of that curve in the order of ``order`` (its ε)."""

    label: str
    x: Agg
    y: Agg
    rank: int
    anchor: str = ""
    note: str = ""
    tag: str = ""
    curve: str = ""
    order: float | None = None

    @property
    def full(self) -> str:
        """The name with its tag: ``dp-sgd[noise_multiplier=1.0] (ε = 29.8)``."""
        return f"{self.label} ({self.tag})" if self.tag else self.label


@dataclass(frozen=True)
class ChartPoint:
    label: str
    cx: float
    cy: float
    x_err: tuple[float, float] | None
    y_err: tuple[float, float] | None
    front: bool
    rank: int
    anchor: str
    tooltip: str
    text: str  # what is drawn beside the point: the (shortened) label, or a footnote number
    label_x: float
    label_y: float
    label_anchor: str
    leader: tuple[float, float, float, float] | None = None  # a line to a label placed further out
    curve: str = ""


@dataclass(frozen=True)
class Curve:
    """A defense's settings joined in order (of ε, for a privacy budget): ``points`` is an SVG polyline."""

    name: str
    points: str
    n: int


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
    footnotes: list[tuple[str, str, str]]  # number, label, anchor
    chance: float | None = None  # the attacker metric's chance level, drawn as a vertical line
    chance_x: float | None = None  # its pixel
    curves: tuple[Curve, ...] = ()
    unranked_reasons: tuple[str, ...] = ()  # why the unranked points are not ranked

    @property
    def n_unranked(self) -> int:
        return sum(p.rank == 0 for p in self.points)

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


def domain(values: list[float]) -> tuple[float, float]:
    """The axis range holding ``values`` with a margin (a flat series gets a small band)."""
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= 0:
        span = max(abs(lo) * 0.1, 0.05)
        return lo - span, hi + span
    return lo - 0.08 * span, hi + 0.08 * span


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, min(6, -math.floor(math.log10(step)) + 1)) if step > 0 else 2
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def axis_ticks(lo: float, hi: float, to_px: Callable[[float], float], count: int = 5) -> list[tuple[float, str]]:
    """(pixel, text) of round ticks in [lo, hi]."""
    vals = nice_ticks(lo, hi, count)
    step = vals[1] - vals[0] if len(vals) > 1 else abs(hi - lo) or 1.0
    return [(to_px(v), _tick_label(v, step)) for v in vals]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _candidates(cx: float, cy: float, width: float) -> list[tuple[float, float, str, Box]]:
    """Spots for a label around a point: (x, baseline y, text-anchor, box), nearest first."""
    out = []
    for dist in (9.0, 20.0, 34.0):
        up, down = cy - dist, cy + dist + LABEL_H - 2  # baselines above and below the point
        diagonal = dist * 0.7
        for x, y, anchor in (
            (cx + dist, cy + 4, "start"),
            (cx - dist, cy + 4, "end"),
            (cx, up, "middle"),
            (cx, down, "middle"),
            (cx + 4, up, "end"),
            (cx - 4, up, "start"),
            (cx + 4, down, "end"),
            (cx - 4, down, "start"),
            (cx + diagonal, cy - diagonal, "start"),
            (cx + diagonal, cy + diagonal + LABEL_H, "start"),
            (cx - diagonal, cy - diagonal, "end"),
            (cx - diagonal, cy + diagonal + LABEL_H, "end"),
        ):
            left = {"start": x, "end": x - width, "middle": x - width / 2}[anchor]
            out.append((x, y, anchor, (left, y - LABEL_H + 2, left + width, y + 2)))
    return out


def _place(text: str, cx: float, cy: float, taken: list[Box], plot: Box) -> tuple[float, float, str, Box] | None:
    """The first spot for ``text`` inside ``plot`` that overlaps nothing in ``taken``."""
    for spot in _candidates(cx, cy, len(text) * CHAR_W):
        box = spot[3]
        inside = box[0] >= plot[0] and box[2] <= plot[2] and box[1] >= plot[1] and box[3] <= plot[3]
        if inside and not any(_overlaps(box, t) for t in taken):
            return spot
    return None


def _leader(cx: float, cy: float, box: Box) -> tuple[float, float, float, float] | None:
    """A line from the point's edge to its label's nearest corner or side, when the label sits apart."""
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    gap = math.hypot(nx - cx, ny - cy)
    if gap <= POINT_R + 8:
        return None
    ex, ey = cx + (nx - cx) * POINT_R / gap, cy + (ny - cy) * POINT_R / gap
    return (round(ex, 2), round(ey, 2), round(nx, 2), round(ny, 2))


def _ties(points: list[ChartInput], px: Callable[[float], float], py: Callable[[float], float]) -> list[list[ChartInput]]:
    """Points that land on the same spot, grouped (order kept: front points first). A point on the
    front never shares its mark with one off it (nor a ranked one with an unranked one): they
    look different, and a joined label would put an unranked defense on the front."""
    groups: list[list[ChartInput]] = []
    for p in sorted(points, key=lambda p: (p.rank == 0, p.rank, p.x.mean, -p.y.mean, p.label)):
        x, y = px(p.x.mean), py(p.y.mean)
        for g in groups:
            same_kind = (g[0].rank == 1, g[0].rank == 0) == (p.rank == 1, p.rank == 0)
            if same_kind and abs(px(g[0].x.mean) - x) < TIE_PX and abs(py(g[0].y.mean) - y) < TIE_PX:
                g.append(p)
                break
        else:
            groups.append([p])
    return groups


def _front_line(front: list[ChartPoint], chance_x: float | None) -> str:
    """The front's points joined left to right; none across a chance line (the front then lies on
    both sides of it, ranked by distance, and a line through chance would read as a trade-off)."""
    if chance_x is not None and len({p.cx < chance_x for p in front}) > 1:
        return ""
    return " ".join(f"{p.cx},{p.cy}" for p in sorted(front, key=lambda p: (p.cx, p.cy)))


def _curves(points: list[ChartInput], px: Callable[[float], float], py: Callable[[float], float]) -> tuple[Curve, ...]:
    """Each curve of two points or more, its points in ``order`` (ε ascending, ∞ last)."""
    by_curve: dict[str, list[ChartInput]] = {}
    for p in points:
        if p.curve and p.order is not None:
            by_curve.setdefault(p.curve, []).append(p)
    return tuple(
        Curve(name, " ".join(f"{px(p.x.mean)},{py(p.y.mean)}" for p in sorted(ps, key=lambda p: (p.order, p.label))), len(ps))
        for name, ps in sorted(by_curve.items()) if len(ps) > 1
    )


def _rank_text(p: ChartInput) -> str:
    if p.rank == 0:
        return f"not ranked: {p.note}" if p.note else "not ranked"
    return ("Pareto front" if p.rank == 1 else f"Pareto rank {p.rank}") + (f"\n{p.note}" if p.note else "")


def build_chart(title: str, x_label: str, y_label: str, points: list[ChartInput], chance: float | None = None) -> Chart:
    """Lay out the scatter: x = attacker success, y = victim utility; rank-1 points form the front.
    ``chance``: the x metric's chance level, drawn as a line (and kept inside the axis)."""
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    xs = [v for p in points for v in (p.x.mean - (p.x.std or 0), p.x.mean + (p.x.std or 0))]
    x_lo, x_hi = domain(xs + ([chance] if chance is not None else []))
    y_lo, y_hi = domain([v for p in points for v in (p.y.mean - (p.y.std or 0), p.y.mean + (p.y.std or 0))])

    def px(v: float) -> float:
        return round(left + (v - x_lo) / (x_hi - x_lo) * (right - left), 2)

    def py(v: float) -> float:
        return round(bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top), 2)

    groups = _ties(points, px, py)
    # Labels keep clear of every point and every whisker (a thin box along each error bar).
    taken: list[Box] = []
    for g in groups:
        p = g[0]
        cx, cy = px(p.x.mean), py(p.y.mean)
        taken.append((cx - POINT_R, cy - POINT_R, cx + POINT_R, cy + POINT_R))
        if p.x.std:
            taken.append((px(p.x.mean - p.x.std), cy - 1, px(p.x.mean + p.x.std), cy + 1))
        if p.y.std:
            taken.append((cx - 1, py(p.y.mean + p.y.std), cx + 1, py(p.y.mean - p.y.std)))
    laid: list[ChartPoint] = []
    footnotes: list[tuple[str, str, str]] = []
    for g in groups:
        p = g[0]
        cx, cy = px(p.x.mean), py(p.y.mean)
        label = " = ".join(q.full for q in g)
        text = _shorten(" = ".join(q.tag or q.label for q in g), TIE_LABEL_MAX if len(g) > 1 else LABEL_MAX)
        spot = _place(text, cx, cy, taken, (left, 0, WIDTH, bottom))
        if spot is None:  # no room for the name: a number, explained under the chart
            text = str(len(footnotes) + 1)
            footnotes.append((text, label, p.anchor))
            spot = _place(text, cx, cy, taken, (left, 0, WIDTH, bottom)) or (cx + 9, cy + 4, "start", (cx, cy, cx, cy))
        taken.append(spot[3])
        lines = [f"{q.full}\n{x_label}: {q.x.text()} (n={q.x.n})\n{y_label}: {q.y.text()} (n={q.y.n})\n{_rank_text(q)}" for q in g]
        laid.append(
            ChartPoint(
                label=label,
                cx=cx,
                cy=cy,
                x_err=(px(p.x.mean - p.x.std), px(p.x.mean + p.x.std)) if p.x.std else None,
                y_err=(py(p.y.mean - p.y.std), py(p.y.mean + p.y.std)) if p.y.std else None,
                front=p.rank == 1,
                rank=p.rank,
                anchor=p.anchor,
                tooltip="\n\n".join(lines) + ("\n(tied on the chart)" if len(g) > 1 else ""),
                text=text,
                label_x=round(spot[0], 2),
                label_y=round(spot[1], 2),
                label_anchor=spot[2],
                leader=_leader(cx, cy, spot[3]),
                curve=p.curve,
            )
        )
    up = names.higher_is_better(x_label)
    hint = {True: "lower = better protection", False: "higher = better protection"}.get(up, "")  # type: ignore[arg-type]
    chance_x = px(chance) if chance is not None else None
    if chance is not None:
        hint = "nearer chance = better protection"
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
        x_ticks=axis_ticks(x_lo, x_hi, px),
        y_ticks=axis_ticks(y_lo, y_hi, py),
        points=laid,
        front_line=_front_line([p for p in laid if p.front], chance_x),
        footnotes=footnotes,
        chance=chance,
        chance_x=chance_x,
        curves=_curves(points, px, py),
        unranked_reasons=tuple(sorted({p.note or "not ranked" for p in points if p.rank == 0})),
    )
