"""Line charts of a cell page (inline SVG geometry): training curves and a tuned cell's trials.

Curves come from the cell's ``curves`` (name -> per-epoch rows such as
``{"epoch": 1, "loss": ..., "valid_ndcg@10": ...}``); each numeric column gets
a small chart of its own, since a loss and a ranking metric share no scale.
The trial history plots each trial's objective and, where the catalogue gives
the tuned metric a direction, the best value so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from recsec.judges import names
from recsec.results import CellRecord

from .chart import axis_ticks, domain
from .stats import fmt

__all__ = ["LineChart", "curve_charts", "trial_chart"]

WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 14, 40
#: Columns per curve drawn at most (the rest stay in the cell's JSON download).
MAX_COLUMNS = 6


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    tooltip: str
    best: bool = False


@dataclass(frozen=True)
class LineChart:
    title: str
    x_label: str
    y_label: str
    width: int
    height: int
    plot: tuple[float, float, float, float]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    line: str  # polyline points of the series ("" for none)
    best_line: str  # the running best (trial history), "" otherwise
    dots: list[Dot]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _chart(title: str, x_label: str, y_label: str, xy: list[tuple[float, float]], best: list[tuple[float, float]] = (),
           highlight: float | None = None, connect: bool = True) -> LineChart:
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    x_lo, x_hi = domain([x for x, _ in xy])
    y_lo, y_hi = domain([y for _, y in xy])

    def px(v: float) -> float:
        return round(left + (v - x_lo) / (x_hi - x_lo) * (right - left), 2)

    def py(v: float) -> float:
        return round(bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top), 2)

    dots = [Dot(px(x), py(y), f"{x_label} {fmt(x)}: {fmt(y)}", best=x == highlight) for x, y in xy]
    return LineChart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        width=WIDTH,
        height=HEIGHT,
        plot=(left, top, right, bottom),
        x_ticks=axis_ticks(x_lo, x_hi, px, count=4),
        y_ticks=axis_ticks(y_lo, y_hi, py, count=4),
        line=" ".join(f"{px(x)},{py(y)}" for x, y in xy) if connect else "",
        best_line=" ".join(f"{px(x)},{py(y)}" for x, y in best),
        dots=dots,
    )


def curve_charts(curves: Mapping[str, Any]) -> list[LineChart]:
    """One chart per (curve, numeric column): x is ``epoch`` (else the row's position)."""
    charts = []
    for name, rows in curves.items():
        if not isinstance(rows, list):
            continue
        rows = [r for r in rows if isinstance(r, Mapping)]
        columns = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "epoch"]
        for column in columns[:MAX_COLUMNS]:
            xy = []
            for i, r in enumerate(rows):
                x, y = _number(r.get("epoch", i + 1)), _number(r.get(column))
                if x is not None and y is not None:
                    xy.append((x, y))
            if len(xy) >= 2:
                charts.append(_chart(f"{name}: {column}", "epoch", str(column), xy))
    return charts


def trial_chart(cell: CellRecord) -> LineChart | None:
    """Each complete trial's objective by trial number, the best one marked, the running best drawn."""
    done = [(float(t.number), t.value) for t in cell.trials if t.complete and t.value is not None]
    if len(done) < 2:
        return None
    metric = str((cell.tune or {}).get("metric") or cell.primary_metric or "objective")
    up = names.higher_is_better(metric)
    best: list[tuple[float, float]] = []
    if up is not None:
        so_far = None
        for x, y in done:
            so_far = y if so_far is None or (y > so_far if up else y < so_far) else so_far
            best.append((x, so_far))
    chosen = cell.best_trial()
    return _chart(f"Trials: {metric}", "trial", metric, done, best, float(chosen.number) if chosen else None, connect=False)
