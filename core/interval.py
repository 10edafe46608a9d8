"""Intervals in the notation people write them in: ``[1, inf)``, ``(0, 1]``, ``[0, 1]``.

A parameter's validity range (``Param(valid="(0, 1]")``) is written this way,
shown this way by ``recsec plugins`` and quoted this way in error messages, so
the declaration, the listing and the message read the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A real interval; ``inf``/``-inf`` ends are always open."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def parse(cls, text: str) -> "Interval":
        """``"[1, inf)"`` -> Interval(1, inf, False, True); ValueError on anything else."""
        t = text.strip()
        if len(t) < 5 or t[0] not in "[(" or t[-1] not in "])" or t.count(",") != 1:
            raise ValueError(f"interval {text!r}: write it as [a, b], (a, b], [a, inf) ...")
        lo_text, hi_text = (s.strip() for s in t[1:-1].split(","))
        try:
            low, high = float(lo_text), float(hi_text)
        except ValueError:
            raise ValueError(f"interval {text!r}: the ends must be numbers, inf or -inf") from None
        if math.isnan(low) or math.isnan(high) or low > high:
            raise ValueError(f"interval {text!r}: the lower end must not exceed the upper end")
        if (math.isinf(low) and t[0] == "[") or (math.isinf(high) and t[-1] == "]"):
            raise ValueError(f"interval {text!r}: an infinite end is open: write ( or )")
        return cls(low, high, t[0] == "(", t[-1] == ")")

    @classmethod
    def closed(cls, low: float, high: float) -> "Interval":
        return cls(low, high, math.isinf(low), math.isinf(high))

    def __contains__(self, x: object) -> bool:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
            return False
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return above and below

    def covers(self, low: float, high: float) -> bool:
        """Whether every value of the closed range [low, high] lies inside."""
        return low in self and high in self

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}{')' if self.high_open else ']'}"


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))
