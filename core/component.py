"""The base class shared by datasets, recommenders, attacks and defenses."""

from __future__ import annotations

from typing import Any, ClassVar

from .params import Param, ParamSet, instance_name


class Component:
    """A named, versioned, parameterised piece of a benchmark.

    Subclasses set ``name`` (unique within its kind), ``version`` (bump it when
    a change alters results: it is part of every cached result's key) and
    ``params`` (declared parameters with defaults and search spaces).
    Parameter values are reachable as ``self.p["lr"]`` or ``self.p.lr``.
    """

    kind: ClassVar[str] = "component"  # "dataset" | "recommender" | "attack" | "defense"
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    params: ClassVar[dict[str, Param]] = {}
    #: Where the component comes from; filled in by the registry: the plugin (entry point) that
    #: registered it, its distribution and the distribution's version.
    plugin: ClassVar[str] = ""
    plugin_version: ClassVar[str] = ""
    distribution: ClassVar[str] = ""

    def __init__(self, **given: Any) -> None:
        self._paramset = ParamSet.build(f"{self.kind} {self.name!r}", self.params, given)
        self.p = Values(self._paramset.values)

    @property
    def instance_name(self) -> str:
        """``name[k=v,...]`` with the values the spec set explicitly."""
        return instance_name(self.name, self._paramset.given)

    @property
    def param_values(self) -> dict[str, Any]:
        """Every parameter's value, defaults included."""
        return dict(self._paramset.values)

    @property
    def given_params(self) -> dict[str, Any]:
        return dict(self._paramset.given)

    def identity(self) -> dict[str, Any]:
        """What identifies this instance in a result's configuration hash.

        The registering distribution and its version are part of it: a third-party
        class that took a built-in's name, or a new release of the package that
        ships a component, never reuses results computed by other code.
        """
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution or self.plugin,
            "distribution_version": self.plugin_version,
            "params": self.param_values,
        }

    def skip(self, **context: Any) -> str | None:
        """Return a reason when this component does not apply to ``context``, else None.

        ``context`` holds the other components of the cell, by kind:
        ``dataset``, ``recommender``, ``attack``, ``defense``.
        """
        return None

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "kind": cls.kind,
            "name": cls.name,
            "version": cls.version,
            "plugin": cls.plugin,
            "plugin_version": cls.plugin_version,
            "distribution": cls.distribution,
            "doc": (cls.__doc__ or "").strip().split("\n\n")[0],
            "params": {k: p.describe() for k, p in cls.params.items()},
        }

    def __repr__(self) -> str:
        return f"<{self.kind} {self.instance_name}>"


class Values(dict):
    """A component's parameter values, readable as attributes (``self.p.lr``): what its
    implementation functions take, so parameters are declared once (the ``params`` dict)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc
