"""Shared data that no component can write: the split every cell of a group reads.

A split is built once and shared by the cells of a victim group, the judges and the next
group's cells; a recommender that wrote into the evaluation arrays it was handed would
change every later cell's numbers. ``freeze`` copies every numpy array into a buffer that
cannot be written, not even after ``setflags(write=True)`` (its memory is an immutable
``bytes`` object), and turns lists into tuples, through dataclasses, dicts and sequences.
A component that tries to write gets numpy's "assignment destination is read-only" and
its cell fails, named; the data stays as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def frozen_array(arr: np.ndarray) -> np.ndarray:
    """A copy of ``arr`` over immutable memory (object arrays are returned as they are)."""
    if arr.dtype == object:
        return arr
    out = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=arr.dtype).reshape(arr.shape)
    assert not out.flags.writeable
    return out


def freeze(obj: Any) -> Any:
    """``obj`` with every array frozen and every list a tuple (dataclasses rebuilt, dicts copied)."""
    if isinstance(obj, np.ndarray):
        return frozen_array(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: freeze(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, dict):
        return {k: freeze(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(v) for v in obj)
    return obj
