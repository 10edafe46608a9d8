"""The component registry: a typed façade over pluggy (in the manner of tox 4).

``load_registry()`` discovers plugins through the ``recsec`` entry-point group,
calls each plugin's ``recsec_register_*`` hooks with a ``Registry`` and
records failures instead of aborting: a broken plugin is listed with its
error, the others still load.
"""

from __future__ import annotations

import importlib.metadata as md
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .attack import Attack
from .component import Component
from .dataset import Dataset
from .defense import Defense
from .errors import RegistrationError, SpecError
from .params import parse_instance_name
from .recommender import Recommender

KINDS: dict[str, type[Component]] = {
    "dataset": Dataset,
    "recommender": Recommender,
    "attack": Attack,
    "defense": Defense,
}
_HOOKS = {
    "dataset": "recsec_register_datasets",
    "recommender": "recsec_register_recommenders",
    "attack": "recsec_register_attacks",
    "defense": "recsec_register_defenses",
}


@dataclass
class PluginFailure:
    """A plugin that could not be imported or whose hook raised."""

    plugin: str
    error: str
    traceback: str


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str


@dataclass
class Registry:
    """Components by kind and name, plus what went wrong while loading plugins."""

    components: dict[str, dict[str, type[Component]]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    _current: PluginInfo | None = None

    # -- the registration API plugins call ---------------------------------------------------
    def add_dataset(self, cls: type[Dataset]) -> None:
        self._add("dataset", cls)

    def add_recommender(self, cls: type[Recommender]) -> None:
        self._add("recommender", cls)

    def add_attack(self, cls: type[Attack]) -> None:
        self._add("attack", cls)

    def add_defense(self, cls: type[Defense]) -> None:
        self._add("defense", cls)

    def _add(self, kind: str, cls: type[Component]) -> None:
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RegistrationError(f"add_{kind}({cls!r}): not a subclass of {base.__module__}.{base.__name__}")
        if not cls.name or not isinstance(cls.name, str):
            raise RegistrationError(f"add_{kind}({cls.__name__}): the class has no 'name'")
        if any(c in cls.name for c in "[],= "):
            raise RegistrationError(f"add_{kind}({cls.__name__}): name {cls.name!r} contains one of '[],= '")
        existing = self.components[kind].get(cls.name)
        if existing is not None and existing is not cls:
            raise RegistrationError(
                f"{kind} {cls.name!r} is already registered by {existing.plugin or existing.__module__}"
            )
        if self._current is not None:
            cls.plugin = self._current.name
            cls.plugin_version = self._current.version
        self.components[kind][cls.name] = cls

    # -- lookups -------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> type[Component]:
        try:
            return self.components[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.components[kind])) or "none"
            raise SpecError(f"unknown {kind} {name!r} (registered {kind}s: {known})") from None

    def create(self, kind: str, text: str, **params: Any) -> Component:
        """Instantiate ``name[k=v]`` (plus ``params``) of ``kind``; errors name the component."""
        name, inline = parse_instance_name(text)
        cls = self.get(kind, name)
        return cls(**{**inline, **params})

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def describe(self) -> dict[str, Any]:
        return {
            "plugins": [vars(p) for p in self.plugins.values()],
            "components": {k: [c.describe() for _, c in sorted(v.items())] for k, v in self.components.items()},
            "failures": [vars(f) for f in self.failures],
        }

    # -- loading -------------------------------------------------------------------------------
    def register_plugin(self, plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        """Call ``plugin``'s register hooks now, recording (not raising) any failure."""
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # e.g. a hook with a misspelt argument
            self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            return
        info = PluginInfo(name, distribution, version or getattr(plugin, "__version__", "") or "unknown")
        self.plugins[name] = info
        for kind in KINDS:
            for impl in getattr(pm.hook, _HOOKS[kind]).get_hookimpls():
                self._current = info
                try:
                    impl.function(registry=self)
                except Exception as exc:
                    self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
                finally:
                    self._current = None


def _entry_points() -> Iterable[md.EntryPoint]:
    return md.entry_points(group=hookspecs.PROJECT)


def load_registry(extra_plugins: Iterable[tuple[str, Any]] = (), entry_points: bool = True) -> Registry:
    """Build a registry from installed entry points plus ``extra_plugins`` ((name, module) pairs)."""
    reg = Registry()
    if entry_points:
        for ep in sorted(_entry_points(), key=lambda e: (e.dist.name if e.dist else "", e.name)):
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            label = f"{dist}:{ep.name}" if dist else ep.name
            try:
                module = ep.load()
            except Exception as exc:
                reg.failures.append(PluginFailure(label, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
                continue
            reg.register_plugin(module, label, dist, version)
    for name, plugin in extra_plugins:
        reg.register_plugin(plugin, name)
    return reg


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry from installed entry points (built on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_registry()
    return _DEFAULT
