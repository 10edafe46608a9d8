"""The argparse types of the command line's numeric options: each out-of-range value is a
one-line usage error (``--workers -1`` used to hang, ``--lease 0`` to turn the claims off)."""

from __future__ import annotations

import argparse
import math
from typing import Callable

__all__ = ["count_arg", "seconds_arg", "gpus_arg"]


def count_arg(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number >= ``minimum`` (``--workers -1`` is refused, not hung on)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    parse.__name__ = "count"
    return parse


def seconds_arg(text: str) -> float:
    """A positive, finite number of seconds (a lease of 0, -1, nan or inf would turn the claims off)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number of seconds, got {text!r}")
    return value


def gpus_arg(text: str) -> list[int]:
    """``0,1,...``: distinct GPU indices."""
    try:
        gpus = [int(g) for g in text.split(",")]
    except ValueError:
        gpus = []
    if not gpus or min(gpus) < 0 or len(set(gpus)) != len(gpus):
        raise argparse.ArgumentTypeError(f"expected distinct GPU indices such as 0,1, got {text!r}")
    return gpus
