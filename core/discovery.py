"""Helper for plugin packages: find the component classes defined in a package's modules."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Iterator

from .component import Component


def components_in_package(package: str, base: type[Component]) -> Iterator[type[Component]]:
    """Yield the ``base`` subclasses with a ``name`` defined in ``package``'s public modules.

    Modules whose name starts with ``_`` are skipped (use them for heavy
    implementation code: torch networks are imported only when a component
    trains, so ``recsec plugins`` stays fast).
    """
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, base) and obj.__module__ == module.__name__ and obj.name and not inspect.isabstract(obj):
                yield obj
