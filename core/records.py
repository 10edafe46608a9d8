"""Frozen records of stored results: cells with every identity field, their trials and runs.

Built by :mod:`recsec.results` (from a database or from plain dicts) and read by
everything that shows results; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recsec.cells import stable_hash
from recsec.judges import names

__all__ = ["KINDS", "ComponentRecord", "TrialRecord", "RunRecord", "CellRecord", "Results", "split_instance", "to_int"]

#: The four components of a cell, in the order everything lists them.
KINDS: tuple[str, ...] = ("dataset", "recommender", "attack", "defense")
#: Config entries that follow from the components (not identity of their own) or vary per seed.
_NOT_SETUP = ("seed", "primary_metric", "metric_directions")


def to_int(value: Any) -> int | None:
    """``value`` as an int, or None when it is none (bools are not numbers here)."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def split_instance(instance: str) -> tuple[str, tuple[str, ...]]:
    """``"lfm[dim=32,lr=0.01]"`` -> ``("lfm", ("dim=32", "lr=0.01"))``.

    Commas inside brackets, braces or quotes (list and string values) do not split.
    """
    head, bracket, rest = instance.partition("[")
    if not bracket or not rest.endswith("]"):
        return instance, ()
    parts: list[str] = []
    depth, quote, start, inner = 0, "", 0, rest[:-1]
    for i, ch in enumerate(inner):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return head, tuple(p for p in parts if p)


@dataclass(frozen=True)
class ComponentRecord:
    """A cell's dataset, recommender, attack or defense: instance name, version, every parameter."""

    kind: str
    instance: str
    name: str
    version: str
    params: Mapping[str, Any]

    @property
    def given(self) -> tuple[str, ...]:
        """The parameters the spec set explicitly, as ``k=v`` texts (from the instance name)."""
        return split_instance(self.instance)[1]


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial of a tuned cell."""

    number: int
    state: str
    value: float | None
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]

    @property
    def complete(self) -> bool:
        return self.state.upper() == "COMPLETE" and self.value is not None


@dataclass(frozen=True)
class RunRecord:
    """One ``recsec run`` invocation: where its cells came from."""

    id: int
    benchmark: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    recsec_version: str
    hardware: Mapping[str, Any]
    spec_path: str
    spec_text: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class CellRecord:
    """One stored cell with every identity field, its outcome and its provenance."""

    id: int
    config_hash: str
    setup_hash: str
    benchmark: str
    dataset: ComponentRecord
    recommender: ComponentRecord
    attack: ComponentRecord
    defense: ComponentRecord
    seed: int
    k: int | None
    tune: Mapping[str, Any] | None
    data_fingerprint: str | None
    status: str
    skip_reason: str | None
    error: str | None
    traceback: str | None
    metrics: Mapping[str, float | None]
    diagnostics: Mapping[str, Any]
    timings: Mapping[str, Any]
    versions: Mapping[str, Any]
    hardware: Mapping[str, Any]
    curves: Mapping[str, Any]
    last_failure: Mapping[str, Any] | None
    n_trials: int | None
    study_name: str | None
    victim_key: str | None
    computations: int
    run: RunRecord | None
    created_at: datetime | None
    updated_at: datetime | None
    config: Mapping[str, Any]
    trials: tuple[TrialRecord, ...] = ()

    def component(self, kind: str) -> ComponentRecord:
        return getattr(self, kind)

    @property
    def components(self) -> tuple[ComponentRecord, ...]:
        return tuple(self.component(k) for k in KINDS)

    @property
    def run_id(self) -> int | None:
        return self.run.id if self.run is not None else None

    @property
    def primary_metric(self) -> str:
        value = self.config.get("primary_metric")
        return value if isinstance(value, str) else ""

    @property
    def tuned(self) -> bool:
        return self.tune is not None or bool(self.trials) or bool(self.n_trials)

    @property
    def trial_count(self) -> int:
        return len(self.trials) if self.trials else int(self.n_trials or 0)

    @property
    def tuning_text(self) -> str:
        """``untuned`` or e.g. ``attack tuned, 5 trials on attack.shadow_auc``."""
        if self.tune is None:
            return "untuned"
        tune = self.tune
        what = f"{tune.get('component') or 'component'} tuned, {tune.get('n_trials', '?')} trials"
        return what + (f" on {tune['metric']}" if tune.get("metric") else "")

    def best_trial(self) -> TrialRecord | None:
        """The trial whose metrics the cell reports: the runner records its number (``tune.best_trial``)."""
        recorded = to_int(self.metrics.get("tune.best_trial"))
        return next((t for t in self.trials if t.number == recorded), None) if recorded is not None else None

    @property
    def threats(self) -> tuple[str, ...]:
        """The threat models the cell measures: those whose primary metric it stored."""
        return tuple(t for t, metric in names.PRIMARY.items() if self.metrics.get(metric) is not None)

    def key_without(self, *fields: str) -> str:
        """A hash of the cell's identity without ``fields`` (``seed``, component kinds, ``benchmark``...).

        ``key_without()`` stays apart from ``config_hash`` (it also covers the
        columns); cells with equal ``key_without("seed")`` are seeds of one setup.
        """
        config = {k: v for k, v in self.config.items() if k not in _NOT_SETUP and k not in fields}
        columns = {"benchmark": self.benchmark, "data_fingerprint": self.data_fingerprint, "seed": self.seed}
        columns.update({kind: self.component(kind).instance for kind in KINDS})
        return stable_hash({"config": config, "columns": {k: v for k, v in columns.items() if k not in fields}})


@dataclass(frozen=True)
class Results:
    """Every loaded cell (ordered by identity) and every run, with the database they came from."""

    cells: tuple[CellRecord, ...]
    runs: Mapping[int, RunRecord]
    source: str = ""
