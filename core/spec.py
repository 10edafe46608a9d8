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

from .bounded import SPEC_MAX_BYTES, read_limited
from .device import device_problem
from .errors import ParameterError, RecsecError, SpecError
from .limits import INT32_MAX, NAME_MAX, control_character, int32_problem
from .params import parse_instance_name

if TYPE_CHECKING:  # pragma: no cover
    from .arena import JudgeSettings
    from .component import Component
    from .registry import Registry

SECTIONS = {"datasets": "dataset", "recommenders": "recommender", "attacks": "attack", "defenses": "defense"}
TOP_LEVEL = set(SECTIONS) | {"benchmark", "tune", "judge"}
BENCHMARK_KEYS = {"name", "description", "seeds", "k", "device"}
#: How deep tables and arrays may nest: a grid of lists inside a component's params is about 5.
MAX_NESTING = 32
TUNE_KEYS = {"component", "n_trials", "metric", "direction", "sampler_seed", "params", "timeout", "allow_test_metric"}


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
    #: optimise a test metric (one the attacker could not observe): reports mark such cells
    allow_test_metric: bool = False

    def identity(self) -> dict[str, Any]:
        """What a tuned cell's result is filed under. ``n_trials`` and ``timeout`` are stopping
        rules, not identity: raising ``n_trials`` continues the cell's study (``Runner``)."""
        keys = ("component", "metric", "direction", "sampler_seed", "params")
        out = {k: getattr(self, k) for k in keys}
        if self.allow_test_metric:  # only when set: the identity of existing tuned cells is unchanged
            out["allow_test_metric"] = True
        return out


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
    judge: "JudgeSettings | None" = None
    k: int = 100
    device: str | None = None
    where: dict[int, str] = field(default_factory=dict)  # id(component) -> field path, for messages


def _fail(path: str, where: str, msg: str) -> SpecError:
    return SpecError(f"{path}: {where}: {msg}")


def load_spec(path: str | Path, registry: "Registry") -> Spec:
    """Read and validate a spec file; raises SpecError naming the file, line or field."""
    p = Path(path)
    try:  # a FIFO, a device or a huge file is refused before it is read (recsec.bounded)
        data = read_limited(p, SPEC_MAX_BYTES, "spec")
    except OSError as exc:
        raise SpecError(f"{p}: cannot read spec: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"{p}: line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); save the spec as UTF-8") from None
    return parse_spec(text, registry, str(p))


def parse_spec(text: str, registry: "Registry", path: str = "<spec>") -> Spec:
    """Validate spec ``text`` (``path`` names it in messages); raises SpecError naming the field."""
    if len(text) > SPEC_MAX_BYTES:
        raise SpecError(f"{path}: is {len(text)} characters long, over the {SPEC_MAX_BYTES} limit for a spec")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line L, column C)".
        raise SpecError(f"{path}: malformed TOML: {exc}") from exc
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise SpecError(f"{path}: malformed TOML: arrays or tables nested too deeply to read "
                        f"(a spec needs at most {MAX_NESTING} levels)") from None
    if (deep := _too_deep(raw)) is not None:
        raise _fail(path, deep, f"nested more than {MAX_NESTING} levels deep; a spec needs far fewer")
    try:
        return _parse_raw(raw, text, registry, path)
    except RecursionError:  # a name[k=v] value nested in brackets beyond what the parser can follow
        raise SpecError(f"{path}: a value is nested too deeply (brackets inside brackets) to read") from None


def _too_deep(raw: dict[str, Any]) -> str | None:
    """The field path of the first value nested deeper than MAX_NESTING, or None (iterative: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(raw, "top level", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_NESTING:
            return where
        if isinstance(value, dict):
            stack += [(v, k if where == "top level" else f"{where}.{k}", depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    return None


def _parse_raw(raw: dict[str, Any], text: str, registry: "Registry", path: str) -> Spec:

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
    name = _name(path, bench.get("name", Path(path).stem))
    seeds = bench.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not (isinstance(seeds, list) and seeds and all(_is_int(s) for s in seeds)):
        raise _fail(path, "benchmark.seeds", f"must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        if (problem := int32_problem(seed)) is not None:
            raise _fail(path, "benchmark.seeds", f"seed {problem}")
    k = _int(path, "benchmark.k", bench.get("k", 100), 1, INT32_MAX)
    description = bench.get("description", "")
    if not isinstance(description, str) or "\x00" in description:
        raise _fail(path, "benchmark.description", f"must be a string without NUL characters, got {description!r}")
    device = bench.get("device")
    if device is not None:
        if not isinstance(device, str) or (problem := device_problem(device)) is not None:
            raise _fail(path, "benchmark.device", problem if isinstance(device, str) else f"must be a string, got {device!r}")

    spec = Spec(
        name=name,
        path=path,
        text=text,
        description=description,
        seeds=list(dict.fromkeys(seeds)),
        components={},
        k=k,
        device=device,
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
    spec.judge = _parse_judge(raw.get("judge", {}), path)
    return spec


def _parse_judge(raw: Any, path: str) -> "JudgeSettings":
    """The ``[judge]`` table: how the judges score (``recsec.arena.JudgeSettings``)."""
    import dataclasses

    from .arena import JudgeSettings

    if not isinstance(raw, dict):
        raise _fail(path, "judge", "must be a table")
    known = {f.name for f in dataclasses.fields(JudgeSettings)}
    bad = sorted(set(raw) - known)
    if bad:
        raise _fail(path, "judge", f"unknown key(s) {', '.join(map(repr, bad))}; expected {', '.join(sorted(known))}")
    for key, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _fail(path, f"judge.{key}", f"must be a non-negative integer, got {value!r}")
    return JudgeSettings(**raw)


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
        except Exception as exc:  # noqa: BLE001 - a plugin's own check that raised something else
            raise _fail(path, where, f"{kind} {name!r}: {type(exc).__name__}: {exc}") from None
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(path: str, where: str, value: Any, low: int, high: int) -> int:
    """An integer field in [low, high] (TOML gives exact ints: 1.0 is not one)."""
    if not _is_int(value) or not low <= value <= high:
        raise _fail(path, where, f"must be an integer from {low} to {high}, got {value!r}")
    return value


def _name(path: str, value: Any) -> str:
    """benchmark.name: stored in VARCHAR(200) columns and printed on one line."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, "benchmark.name", f"must be a non-empty string, got {value!r}")
    name = value.strip()
    if len(name) > NAME_MAX:
        raise _fail(path, "benchmark.name", f"is {len(name)} characters long; at most {NAME_MAX} fit the results database")
    if (bad := control_character(name)) is not None:
        raise _fail(path, "benchmark.name", f"contains the control character {bad}")
    return name


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
    n = _int(path, "tune.n_trials", raw.get("n_trials", 10), 1, INT32_MAX)
    direction = raw.get("direction")
    if direction not in (None, "maximize", "minimize"):
        raise _fail(path, "tune.direction", f"must be 'maximize' or 'minimize', got {direction!r}")
    # Optuna's samplers seed numpy's RandomState: 0 to 2**32 - 1.
    sampler_seed = _int(path, "tune.sampler_seed", raw.get("sampler_seed", 0), 0, 2**32 - 1)
    metric = raw.get("metric")
    if metric is not None and (not isinstance(metric, str) or "." not in metric or control_character(metric)):
        raise _fail(path, "tune.metric", f"must be a metric name such as 'attack.auc', got {metric!r}")
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < float("inf")):
        raise _fail(path, "tune.timeout", f"must be a positive number of seconds, got {timeout!r}")
    params = raw.get("params")
    if params is not None:
        if not (isinstance(params, list) and params and all(isinstance(x, str) for x in params)):
            raise _fail(path, "tune.params", f"must be a non-empty list of parameter names, got {params!r}")
        if len(set(params)) != len(params):
            raise _fail(path, "tune.params", f"names a parameter twice: {params!r}")
    for inst in spec.components[comp]:
        _check_searchable(inst, params, path)
    allow = raw.get("allow_test_metric", False)
    if not isinstance(allow, bool):
        raise _fail(path, "tune.allow_test_metric", f"must be true or false, got {allow!r}")
    tune = TuneSpec(
        component=comp,
        n_trials=n,
        metric=metric,
        direction=direction,
        sampler_seed=sampler_seed,
        params=tuple(params) if params is not None else None,
        timeout=float(timeout) if timeout is not None else None,
        allow_test_metric=allow,
    )
    from .tuning import study_metric

    for attack in spec.components["attack"]:
        try:
            study_metric(tune, attack)
        except SpecError as exc:
            raise _fail(path, "tune", str(exc)) from None
    return tune


def _check_searchable(inst: "Component", params: list[str] | None, path: str) -> None:
    """Each tuned instance must have something to search, or every one of its cells would fail."""
    from .tuning import search_names

    if params is not None:
        missing = [x for x in params if x not in inst.params]
        if missing:
            raise _fail(path, "tune.params", f"{inst.name} has no parameter {', '.join(map(repr, missing))}")
        untunable = [x for x in params if not inst.params[x].has_space]
        if untunable:
            raise _fail(path, "tune.params", f"{inst.name}: {', '.join(map(repr, untunable))} declares no search space")
    elif not search_names(inst, None):
        raise _fail(path, "tune", f"{inst.instance_name} has nothing to search: every parameter with a search "
                    "space is fixed in the spec, or none declares one; name some in tune.params or drop [tune]")


