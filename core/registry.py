"""The component registry: a typed façade over pluggy (in the manner of tox 4).

``load_registry()`` discovers plugins through the ``recsec`` entry-point group,
calls each plugin's ``recsec_register_*`` hooks with a ``Registry`` and
records failures instead of aborting: a broken plugin is listed with its
error, the others still load.

Precedence: recsec's own distribution registers first, and a built-in can
never be displaced: a third party registering a built-in's name is reported
as a conflict and ignored. Two third parties registering one name are both
reported and neither is used (a spec naming it fails, listing both), so no
component ever silently stands in for another. A rejected registration is
recorded and the rest of that plugin's hook still runs.
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
from .limits import control_character
from .params import parse_instance_name
from .recommender import Recommender

KINDS: dict[str, type[Component]] = {
    "dataset": Dataset,
    "recommender": Recommender,
    "attack": Attack,
    "defense": Defense,
}
#: The distribution whose components are built-ins: registered first, never displaced.
BUILTIN_DISTRIBUTION = "recsec"
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

    @property
    def builtin(self) -> bool:
        """Registered by recsec's own distribution."""
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else self.version
        return f"{self.name} ({dist})"


@dataclass
class Conflict:
    """One name registered by more than one plugin; ``kept`` is the built-in that stays, else None."""

    kind: str
    name: str
    registrants: list[str]
    kept: str | None

    @property
    def message(self) -> str:
        who = ", ".join(self.registrants)
        if self.kept is not None:
            return f"{self.kind} {self.name!r} is registered by {who}: the built-in {self.kept} is kept, the others are ignored"
        return f"{self.kind} {self.name!r} is registered by {who}: neither is used; uninstall all but one"


@dataclass
class Registry:
    """Components by kind and name, plus what went wrong while loading plugins."""

    components: dict[str, dict[str, type[Component]]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    _current: PluginInfo | None = None
    #: (kind, name) -> the plugin whose class is registered under it
    _origins: dict[tuple[str, str], PluginInfo | None] = field(default_factory=dict)

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
        """Register ``cls`` under its name, or record why not (see the module docstring's precedence)."""
        problem = _problem(kind, cls)
        if problem is not None:
            return self._reject(problem)
        key, info = (kind, cls.name), self._current
        conflict = next((c for c in self.conflicts if (c.kind, c.name) == key), None)
        existing = self.components[kind].get(cls.name)
        if conflict is None and existing is None:
            return self._accept(kind, cls)
        held = self._origins.get(key)
        if conflict is None and existing is cls and held is info:
            return None  # the same plugin registering the same class twice
        if info is None:  # a direct call, not from a plugin's hook: the caller hears of it at once
            raise RegistrationError(f"{kind} {cls.name!r} is already registered by {_who(held, existing)}")
        if conflict is None:
            conflict = Conflict(kind, cls.name, [_who(held, existing)], None)
            self.conflicts.append(conflict)
            if held is not None and held.builtin:
                conflict.kept = conflict.registrants[0]
            else:  # neither of two third parties wins: the name is withdrawn
                del self.components[kind][cls.name]
        conflict.registrants.append(_who(info, cls))
        if info.builtin and conflict.kept is None:  # a built-in arriving late still wins
            conflict.kept = conflict.registrants[-1]
            self._accept(kind, cls)
        return None

    def _accept(self, kind: str, cls: type[Component]) -> None:
        info = self._current
        if info is not None:
            cls.plugin, cls.plugin_version, cls.distribution = info.name, info.version, info.distribution
        self.components[kind][cls.name] = cls
        self._origins[(kind, cls.name)] = info

    def _reject(self, message: str) -> None:
        """Inside a plugin's hook: record and carry on with its other registrations; else raise."""
        if self._current is None:
            raise RegistrationError(message)
        self.failures.append(PluginFailure(self._current.name, f"RegistrationError: {message}", ""))

    # -- lookups -------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> type[Component]:
        try:
            return self.components[kind][name]
        except KeyError:
            disputed = next((c for c in self.conflicts if (c.kind, c.name) == (kind, name)), None)
            if disputed is not None:
                raise SpecError(disputed.message) from None
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
            "conflicts": [{**vars(c), "message": c.message} for c in self.conflicts],
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


def _problem(kind: str, cls: Any) -> str | None:
    """Why ``cls`` cannot be registered as a ``kind``, or None."""
    base = KINDS[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return f"add_{kind}({cls!r}): not a subclass of {base.__module__}.{base.__name__}"
    if not cls.name or not isinstance(cls.name, str):
        return f"add_{kind}({cls.__name__}): the class has no 'name'"
    if "name" not in vars(cls):
        # A subclass that forgot to rename itself would take over its parent's results.
        parent = next(b for b in cls.__mro__[1:] if "name" in vars(b))
        return (f"add_{kind}({cls.__name__}): the class inherits name {cls.name!r} from {parent.__name__}; "
                f"set its own 'name'")
    if any(c in cls.name for c in "[],= ") or control_character(cls.name):
        return f"add_{kind}({cls.__name__}): name {cls.name!r} contains one of '[],= ' or a control character"
    return None


def _who(info: PluginInfo | None, cls: type[Component] | None) -> str:
    where = f"{cls.__module__}.{cls.__qualname__}" if cls is not None else "?"
    return f"{info.label}: {where}" if info is not None else where


def _entry_points() -> Iterable[md.EntryPoint]:
    return md.entry_points(group=hookspecs.PROJECT)


def load_registry(extra_plugins: Iterable[tuple[str, Any]] = (), entry_points: bool = True) -> Registry:
    """Build a registry from installed entry points plus ``extra_plugins`` ((name, module) pairs)."""
    reg = Registry()
    if entry_points:
        # recsec's own plugins first: a third party can then never take a built-in's name.
        def order(ep: md.EntryPoint) -> tuple[bool, str, str]:
            dist = ep.dist.name if ep.dist else ""
            return (dist != BUILTIN_DISTRIBUTION, dist, ep.name)

        for ep in sorted(_entry_points(), key=order):
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
