"""Benchmark specs: TOML files expanded into a matrix of cells.

A spec names the datasets, recommenders, attacks and defenses to combine and
the seeds to repeat them with::

    datasets = ["ml-latest-small"]                 # "name" or "name[k=v,...]"
    recommenders = ["lfm[dim=100]", "itemcf"]
    defenses = ["none", "popularity-randomization"]

    [benchmark]                                    # tables come after the plain keys (TOML)
    name = "mia-movielens"
    seeds = [0, 1, 2]

    [[attacks]]                                    # or an array of tables: name + params
    name = "mia-zhang"
    params = { nonmember_lists = ["popular", "foldin"] }   # a list expands into a grid

    [tune]                                         # optional: an Optuna study per cell
    component = "attack"                           # whose declared search space to search
    n_trials = 20
    metric = "attack.auc"                          # default: the attack's primary metric
    direction = "maximize"                         # default: from the metric
    sampler_seed = 0

Every error names the file and the field (``attacks[0].params.k``).
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ParameterError, RecsecError, SpecError
from .params import parse_instance_name

if TYPE_CHECKING:  # pragma: no cover
    from .component import Component
    from .registry import Registry

SECTIONS = {"datasets": "dataset", "recommenders": "recommender", "attacks": "attack", "defenses": "defense"}
TOP_LEVEL = set(SECTIONS) | {"benchmark", "tune"}
BENCHMARK_KEYS = {"name", "description", "seeds", "k", "device"}
TUNE_KEYS = {"component", "n_trials", "metric", "direction", "sampler_seed", "params", "timeout"}


@dataclass(frozen=True)
class TuneSpec:
    """The ``[tune]`` table: an Optuna study per cell over one component's search space."""

    component: str = "attack"
    n_trials: int = 10
    metric: str | None = None
    direction: str | None = None
    sampler_seed: int = 0
    params: tuple[str, ...] | None = None
    timeout: float | None = None

    def identity(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("component", "n_trials", "metric", "direction", "sampler_seed", "params")}


@dataclass
class Spec:
    """A parsed, validated benchmark spec."""

    name: str
    path: str
    text: str
    description: str
    seeds: list[int]
    components: dict[str, list["Component"]]
    tune: TuneSpec | None = None
    k: int = 100
    device: str | None = None
    where: dict[int, str] = field(default_factory=dict)  # id(component) -> field path, for messages


def _fail(path: str, where: str, msg: str) -> SpecError:
    return SpecError(f"{path}: {where}: {msg}")


def load_spec(path: str | Path, registry: "Registry") -> Spec:
    """Read and validate a spec file; raises SpecError naming the file, line or field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{p}: cannot read spec: {exc.strerror or exc}") from exc
    return parse_spec(text, registry, str(p))


def parse_spec(text: str, registry: "Registry", path: str = "<spec>") -> Spec:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line L, column C)".
        raise SpecError(f"{path}: malformed TOML: {exc}") from exc

    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise _fail(path, "top level", f"unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(sorted(TOP_LEVEL))}")
    bench = raw.get("benchmark", {})
    if not isinstance(bench, dict):
        raise _fail(path, "benchmark", "must be a table")
    misplaced = sorted(set(bench) & set(SECTIONS))
    if misplaced:
        raise _fail(
            path,
            "benchmark",
            f"{', '.join(map(repr, misplaced))} belong(s) at the top level: in TOML every key after a "
            "[table] header belongs to that table, so list them above the [benchmark] table",
        )
    bad = sorted(set(bench) - BENCHMARK_KEYS)
    if bad:
        raise _fail(path, "benchmark", f"unknown key(s) {', '.join(map(repr, bad))}; expected {', '.join(sorted(BENCHMARK_KEYS))}")
    name = bench.get("name") or Path(path).stem
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, "benchmark.name", "must be a non-empty string")
    seeds = bench.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise _fail(path, "benchmark.seeds", f"must be a non-empty list of integers, got {seeds!r}")
    k = bench.get("k", 100)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise _fail(path, "benchmark.k", f"must be a positive integer, got {k!r}")

    spec = Spec(
        name=name.strip(),
        path=path,
        text=text,
        description=str(bench.get("description", "")),
        seeds=list(dict.fromkeys(seeds)),
        components={},
        k=k,
        device=bench.get("device"),
    )
    for section, kind in SECTIONS.items():
        entries = raw.get(section)
        if entries is None:
            if kind == "defense":
                entries = ["none"]
            else:
                raise _fail(path, section, f"missing: list at least one {kind}")
        if not isinstance(entries, list) or not entries:
            raise _fail(path, section, f"must be a non-empty list of {kind} names or tables")
        spec.components[kind] = []
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            for inst in _expand_entry(entry, kind, registry, path, where):
                spec.where[id(inst)] = where
                spec.components[kind].append(inst)
        _reject_duplicates(spec.components[kind], path, section)
    if "tune" in raw:
        spec.tune = _parse_tune(raw["tune"], path, spec)
    return spec


def _expand_entry(entry: Any, kind: str, registry: "Registry", path: str, where: str) -> list["Component"]:
    if isinstance(entry, str):
        try:
            name, params = parse_instance_name(entry)
        except ParameterError as exc:
            raise _fail(path, where, str(exc)) from None
    elif isinstance(entry, dict):
        extra = sorted(set(entry) - {"name", "params"})
        if extra:
            raise _fail(path, where, f"unknown key(s) {', '.join(map(repr, extra))}; a {kind} table has 'name' and 'params'")
        name = entry.get("name")
        if not isinstance(name, str):
            raise _fail(path, f"{where}.name", f"missing or not a string: {name!r}")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise _fail(path, f"{where}.params", "must be a table of parameter values")
    else:
        raise _fail(path, where, f"expected a {kind} name or a table, got {entry!r}")
    try:
        cls = registry.get(kind, name)
    except SpecError as exc:
        raise _fail(path, where, str(exc)) from None
    # A list value expands into a grid over that parameter.
    keys = sorted(params)
    grids = [params[k] if isinstance(params[k], list) else [params[k]] for k in keys]
    for k, g in zip(keys, grids):
        if not g:
            raise _fail(path, f"{where}.params.{k}", "an empty list gives no grid values")
    out = []
    for combo in itertools.product(*grids):
        try:
            out.append(cls(**dict(zip(keys, combo))))
        except RecsecError as exc:
            raise _fail(path, where, str(exc)) from None
    return out


def _reject_duplicates(instances: list["Component"], path: str, section: str) -> None:
    seen: dict[str, int] = {}
    for inst in instances:
        n = inst.instance_name
        if n in seen:
            raise _fail(path, section, f"{n!r} appears twice")
        seen[n] = 1


def _parse_tune(raw: Any, path: str, spec: Spec) -> TuneSpec:
    if not isinstance(raw, dict):
        raise _fail(path, "tune", "must be a table")
    bad = sorted(set(raw) - TUNE_KEYS)
    if bad:
        raise _fail(path, "tune", f"unknown key(s) {', '.join(map(repr, bad))}; expected {', '.join(sorted(TUNE_KEYS))}")
    comp = raw.get("component", "attack")
    if comp not in ("attack", "defense"):
        raise _fail(path, "tune.component", f"must be 'attack' or 'defense', got {comp!r}")
    n = raw.get("n_trials", 10)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise _fail(path, "tune.n_trials", f"must be a positive integer, got {n!r}")
    direction = raw.get("direction")
    if direction not in (None, "maximize", "minimize"):
        raise _fail(path, "tune.direction", f"must be 'maximize' or 'minimize', got {direction!r}")
    params = raw.get("params")
    if params is not None:
        if not (isinstance(params, list) and all(isinstance(x, str) for x in params)):
            raise _fail(path, "tune.params", "must be a list of parameter names")
        for inst in spec.components[comp]:
            missing = [x for x in params if x not in inst.params]
            if missing:
                raise _fail(path, "tune.params", f"{inst.name} has no parameter {', '.join(map(repr, missing))}")
            untunable = [x for x in params if not inst.params[x].has_space]
            if untunable:
                raise _fail(path, "tune.params", f"{inst.name}: {', '.join(map(repr, untunable))} declares no search space")
    metric = raw.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise _fail(path, "tune.metric", "must be a metric name such as 'attack.auc'")
    timeout = raw.get("timeout")
    return TuneSpec(
        component=comp,
        n_trials=n,
        metric=metric,
        direction=direction,
        sampler_seed=int(raw.get("sampler_seed", 0)),
        params=tuple(params) if params is not None else None,
        timeout=float(timeout) if timeout is not None else None,
    )
