"""recsec: a benchmark for attacks and defenses on recommender systems.

Heavy modules (torch, SQLAlchemy, Optuna) are imported lazily by the modules
that need them, so ``import recsec`` and ``recsec --help`` stay fast.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("recsec")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
