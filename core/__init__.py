"""recsec: a benchmark for attacks and defenses on recommender systems.

Heavy modules (torch, SQLAlchemy, Optuna, pandas) are imported lazily by the
modules that need them, so ``import recsec`` and ``recsec --help`` stay fast.
``recsec.run`` (see :mod:`recsec.api`), ``recsec.load_results`` and
``recsec.load_trials`` (see :mod:`recsec.tables`) load on first use for the same reason.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version
from typing import Any

try:
    __version__ = _version("recsec")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"

__all__ = ["__version__", "load_results", "load_trials", "run"]

#: Public names defined in submodules, imported on first access (PEP 562).
_LAZY = {"load_results": "recsec.tables", "load_trials": "recsec.tables", "run": "recsec.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'recsec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
