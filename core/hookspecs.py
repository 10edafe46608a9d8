"""Hook specifications: the documentation of recsec's plugin interface.

A plugin is a module (or object) with functions decorated by ``hookimpl``,
advertised through the ``recsec`` entry-point group::

    # pyproject.toml of a third-party package
    [project.entry-points.recsec]
    my_attacks = "my_package.recsec_plugin"

    # my_package/recsec_plugin.py
    from recsec.hookspecs import hookimpl

    @hookimpl
    def recsec_register_attacks(registry):
        registry.add_attack(MyAttack)

recsec's own datasets, recommenders, attacks and defenses are registered the
same way (see ``recsec.plugins``). Every hook receives the ``Registry`` and
returns nothing; a plugin that raises is reported by ``recsec plugins`` and
the other plugins still load. A registration that is refused (no own
``name``, a name a built-in or another plugin holds) is reported the same way
and the rest of the hook still runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

PROJECT = "recsec"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def recsec_register_datasets(registry: "Registry") -> None:
    """Register dataset classes with ``registry.add_dataset(cls)``.

    Called once per process when the registry is first built, before any spec
    is expanded. ``cls`` must subclass ``recsec.dataset.Dataset`` and have a
    ``name`` unique among datasets. Return nothing.
    """


@hookspec
def recsec_register_recommenders(registry: "Registry") -> None:
    """Register recommender classes with ``registry.add_recommender(cls)``.

    Called once per process when the registry is first built. ``cls`` must
    subclass ``recsec.recommender.Recommender`` and have a unique ``name``.
    Return nothing.
    """


@hookspec
def recsec_register_attacks(registry: "Registry") -> None:
    """Register attack classes with ``registry.add_attack(cls)``.

    Called once per process when the registry is first built. ``cls`` must
    subclass ``recsec.attack.Attack`` and have a unique ``name``. Return nothing.
    """


@hookspec
def recsec_register_defenses(registry: "Registry") -> None:
    """Register defense classes with ``registry.add_defense(cls)``.

    Called once per process when the registry is first built. ``cls`` must
    subclass ``recsec.defense.Defense`` and have a unique ``name``. Return nothing.
    """
