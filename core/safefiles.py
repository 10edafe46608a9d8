"""Checkpoints that are data, never code.

``torch.load`` unpickles: with ``weights_only=False`` a file can run any code in the
process that loads it, and anyone who can write a spec's ``checkpoint=`` file or the
artifacts folder could run code in every worker. recsec therefore writes checkpoints
whose content is only tensors, numbers, strings and containers (numpy arrays travel as
tensors with a marker) and reads every one with ``weights_only=True``; a state that
holds anything else is refused when it is saved, not discovered when it is loaded.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

_ARRAY = "__recsec_ndarray__"


def to_safe(obj: Any) -> Any:
    """``obj`` with numpy arrays (and numpy scalars) turned into what ``weights_only`` loads."""
    import torch

    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("an object array cannot be saved safely")
        return {_ARRAY: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_safe(v) for v in obj)
    return obj


def from_safe(obj: Any) -> Any:
    """Undo ``to_safe``."""
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY}:
            return obj[_ARRAY].numpy()
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_safe(v) for v in obj)
    return obj


def dumps(state: Any) -> bytes:
    """The bytes of a safe checkpoint of ``state``; TypeError if it holds anything ``weights_only`` refuses."""
    import pickle

    import torch

    buf = io.BytesIO()
    torch.save(to_safe(state), buf)
    data = buf.getvalue()
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        raise TypeError("the state holds objects other than tensors, arrays, numbers, strings and containers "
                        f"({str(exc).splitlines()[0][:160]})") from None
    return data


def load(path: Path) -> Any:
    """A checkpoint read with ``weights_only=True`` (ValueError naming the file when it holds code or objects)."""
    import pickle

    import torch

    try:
        return from_safe(torch.load(Path(path), map_location="cpu", weights_only=True))
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as exc:
        raise ValueError(f"{path}: not a recsec checkpoint that loads as data only "
                         f"({str(exc).splitlines()[0][:160]})") from None

