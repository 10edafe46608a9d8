"""Declared component parameters, their Optuna search spaces and ``name[k=v]`` naming.

A component declares its parameters as class-level ``Param`` objects (as in
benchopt). Values given in a spec are validated against the declaration, so a
typo or a wrong type fails before any work starts, naming the component and
the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from .errors import ParameterError
from .interval import Interval
from .limits import control_character

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Attributes:
        default: value used when the spec does not set one; its type is the
            parameter's type (bool, int, float or str) unless ``type`` is given.
        help: one line for ``recsec plugins`` and the leaderboard.
        choices: allowed values (categorical); also the search space if tuned.
        low, high: numeric search range for Optuna (inclusive).
        log: sample the numeric range on a log scale.
        type: explicit type when the default is ``None``.
        search: include the parameter in a study's default search space. Set
            False for a switch that changes the experiment rather than tunes
            it (the surrogate's init protocol, a reference-code fault): it
            keeps its choices for validation and can still be named in
            ``[tune] params``.
        stopping: the parameter only decides when training stops (an epoch cap,
            patience, a time limit), which of its epochs is served (the best or
            the last) or checks an input (a checkpoint's digest), not what a
            training step does: it stays in
            the result's identity but not in the key of resumable training
            state, so a stopped run continues when rerun with a larger value.
        valid: the values that make sense at all, as an interval such as
            ``"[1, inf)"`` or ``"(0, 1]"``. When given, ``low``/``high`` and
            ``choices`` are only the search space: a spec may set any value
            in ``valid`` (a paper's 1,000 epochs when the search stops at 200).
        search_only: without ``valid``, ``low``/``high`` and ``choices`` bound
            the value (a spec outside them is an error); True makes them a
            search space only and leaves the value unbounded.

    A declaration whose default or search space falls outside its own bounds
    raises ParameterError when the class is defined.
    """

    default: Any
    help: str = ""
    choices: Sequence[Any] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    type: type | None = None
    search: bool = True
    stopping: bool = False
    valid: str | None = None
    search_only: bool = False
    _valid: Interval | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A declaration error names the parameter by its default and help (the name is not known here).
        me = f"Param({self.default!r}, {self.help[:40]!r})"
        if self.valid is not None:
            try:
                object.__setattr__(self, "_valid", Interval.parse(self.valid))
            except ValueError as exc:
                raise ParameterError(f"{me}: {exc}") from None
        bounds = self.bounds
        if bounds is not None and self.low is not None and self.high is not None and not bounds.covers(self.low, self.high):
            raise ParameterError(f"{me}: search range [{self.low}, {self.high}] leaves the valid range {bounds}")
        if bounds is not None and self.choices is not None:
            outside = [c for c in self.choices if c not in bounds]
            if outside:
                raise ParameterError(f"{me}: choices {outside} lie outside the valid range {bounds}")
        if self.default is not None:
            self._check_bounds(self.default, f"{me} default")

    @property
    def value_type(self) -> type:
        if self.type is not None:
            return self.type
        if self.default is None:
            return object
        return type(self.default)

    @property
    def has_space(self) -> bool:
        """Whether the parameter declares a search space (choices or a numeric range)."""
        return self.choices is not None or (self.low is not None and self.high is not None)

    @property
    def tunable(self) -> bool:
        """Whether an Optuna study searches it by default: a declared space and ``search``."""
        return self.has_space and self.search

    @property
    def space_is_bound(self) -> bool:
        """Whether the declared choices / range also bound the value (not merely a search space)."""
        return self.has_space and self.valid is None and not self.search_only

    @property
    def bounds(self) -> Interval | None:
        """The numeric range a value must lie in (``valid``, else a bounding ``low``/``high``), or None."""
        if self._valid is not None:
            return self._valid
        if self.space_is_bound and self.low is not None and self.high is not None:
            return Interval.closed(self.low, self.high)
        return None

    def _check_bounds(self, value: Any, where: str) -> None:
        if self.choices is not None and self.space_is_bound and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ParameterError(f"{where}: {value!r} is not one of {allowed}")
        bounds = self.bounds
        if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value not in bounds:
            raise ParameterError(f"{where}: {value!r} is out of range: must be in {bounds}")

    def coerce(self, value: Any, where: str) -> Any:
        """Check ``value`` against the declaration; ``where`` names the field in errors."""
        t = self.value_type
        if value is None and self.default is None:
            return None
        if t is object:
            out = value
        elif t is bool:
            if not isinstance(value, bool):
                raise ParameterError(f"{where}: expected true or false, got {value!r}")
            out = value
        elif t is int:
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                raise ParameterError(f"{where}: expected an integer, got {value!r}")
            out = int(value)
            if not -(2**63) <= out < 2**63:  # numpy and torch hold 64-bit integers (1e300 is an integer float)
                raise ParameterError(f"{where}: {value!r} does not fit a 64-bit integer")
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{where}: expected a number, got {value!r}")
            out = float(value)
            if not math.isfinite(out):
                raise ParameterError(f"{where}: expected a finite number, got {value!r}")
        elif t is str:
            if not isinstance(value, str):
                raise ParameterError(f"{where}: expected a string, got {value!r}")
            out = value
        else:
            out = value
        if isinstance(out, str) and (bad := control_character(out)) is not None:
            raise ParameterError(f"{where}: the value contains the control character {bad}")
        self._check_bounds(out, where)
        return out

    def suggest(self, trial: "optuna.Trial", name: str) -> Any:
        """Draw a value from this parameter's search space for an Optuna trial."""
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        if self.low is None or self.high is None:
            raise ParameterError(f"{name}: no search space declared")
        if self.value_type is int:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description for ``recsec plugins --json`` and reports."""
        d: dict[str, Any] = {"default": self.default, "type": self.value_type.__name__, "help": self.help}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.low is not None:
            d["low"], d["high"], d["log"] = self.low, self.high, self.log
        if self.has_space and not self.search:
            d["search"] = False
        if self.has_space and not self.space_is_bound:
            d["search_only"] = True  # low/high/choices: the Optuna space, not a limit
        if self.bounds is not None:
            d["valid"] = str(self.bounds)
        return d


def format_value(v: Any) -> str:
    """Render a parameter value for an instance name (stable, compact)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        # Bare where it reads back as the same string; quoted where it would read back as
        # something else (``nan``, ``2024``, ``true``) or would split the name (``,`` ``]``).
        plain = v == v.strip() and not any(c in v for c in ',"\'') and parse_value(v) == v and _balanced(v)
        return v if plain else json.dumps(v)
    return json.dumps(v, sort_keys=True)


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += {"[": 1, "]": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def split_top_level(text: str) -> list[str]:
    """``a=1,b=x[c=2,d=3],e="p,q"`` -> the three assignments: commas inside brackets or quotes
    do not split (a surrogate named with its own parameters, a quoted string)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote:
            if c == quote and text[i - 1] != "\\":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def instance_name(name: str, values: dict[str, Any]) -> str:
    """``lfm[dim=100,lr=0.01]``: the component name with its explicitly set values."""
    if not values:
        return name
    inner = ",".join(f"{k}={format_value(values[k])}" for k in sorted(values))
    return f"{name}[{inner}]"


def parse_value(text: str) -> Any:
    """A parameter value as written after ``k=``: a TOML scalar (``0.1``, ``true``, ``"a"``), else the bare word."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    """``["lr=0.01", "mode=fast"]`` (command-line ``--set`` options) -> ``{"lr": 0.01, "mode": "fast"}``."""
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"{pair!r} is not key=value")
        k, v = (s.strip() for s in pair.split("=", 1))
        values[k] = parse_value(v)
    return values


def parse_instance_name(text: str) -> tuple[str, dict[str, Any]]:
    """Parse ``name[k=v,k2=v2]`` into ``(name, {k: v})``; values are parsed as TOML scalars."""
    text = text.strip()
    if "[" not in text:
        return text, {}
    if not text.endswith("]"):
        raise ParameterError(f"{text!r}: expected name[key=value,...]")
    name, inner = text[:-1].split("[", 1)
    values: dict[str, Any] = {}
    for part in split_top_level(inner):
        if "=" not in part:
            raise ParameterError(f"{text!r}: {part!r} is not key=value")
        k, v = (s.strip() for s in part.split("=", 1))
        values[k] = parse_value(v)
    return name.strip(), values


@dataclass
class ParamSet:
    """Validated values for one component instance (defaults filled in)."""

    declared: dict[str, Param]
    given: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, owner: str, declared: dict[str, Param], given: dict[str, Any]) -> "ParamSet":
        unknown = sorted(set(given) - set(declared))
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(
                f"{owner}: unknown parameter {', '.join(map(repr, unknown))} (known parameters: {known})"
            )
        values = {k: p.default for k, p in declared.items()}
        clean = {}
        for k, v in given.items():
            clean[k] = declared[k].coerce(v, f"{owner}: parameter {k!r}")
            values[k] = clean[k]
        return cls(declared, clean, values)
