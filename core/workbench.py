"""Building the arena of each cell and computing its outcome.

The workbench keeps what cells share in memory: loaded datasets, protocol splits and the
trained victim of the current group (``VictimStore``). ``compute(cell)`` builds the cell's
arena, measures the victim's utility, runs the attack (or an Optuna study of it) and
returns the ``Outcome`` the runner stores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .arena import Arena, JudgeSettings, fresh_copy
from .context import RunContext
from .dataset import DataContext
from .frozen import freeze
from .seeding import seed_global
from .streams import Streams
from .victims import VictimStore

if TYPE_CHECKING:  # pragma: no cover
    from .cells import Cell
    from .data import Interactions, Split
    from .spec import TuneSpec
    from .storage.db import Storage
    from .victims import Victim


@dataclass
class Outcome:
    """A computed cell: what the runner stores."""

    metrics: dict[str, float]
    diagnostics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    trials: list[dict[str, Any]] | None = None
    n_trials: int | None = None
    study_name: str | None = None


class Workbench:
    """Arenas for the cells of one run (``device``: a torch device)."""

    def __init__(self, *, device: Any, data_ctx: DataContext, artifacts_dir: Path, storage: "Storage | None" = None,
                 log: Callable[[str], None] = print, progress: bool = False, isolate: bool | None = None) -> None:
        self.device, self.data_ctx, self.artifacts_dir = device, data_ctx, Path(artifacts_dir)
        self.storage, self.log, self.progress = storage, log, progress
        # Attacks run in their own process (recsec.isolation) unless RECSEC_ISOLATE=0 (debugging a plugin).
        self.isolate = os.environ.get("RECSEC_ISOLATE", "1") != "0" if isolate is None else isolate
        self.victims = VictimStore(self.artifacts_dir, storage)
        self._data: dict[str, "Interactions"] = {}
        self._splits: dict[tuple, "Split"] = {}

    def training_dir(self, cell: "Cell") -> Path:
        """Resumable training state, one folder per victim trajectory (``Cell.training_key``):
        workers sharing the artifacts folder never see each other's half-trained models, and a
        victim whose epoch or time limit was raised continues from its state."""
        return self.artifacts_dir / "training" / cell.training_key[:24]

    def attack_dir(self, cell: "Cell") -> Path:
        """The attack's own folder for this cell (its resumable state and the journal of the
        victim's answers, ``recsec.journal``), shared by cells that differ only in the attack's
        stopping parameters, so a larger epoch or time limit continues the stored attack. Kept
        after the cell is stored; deleting it costs only the head start of a rerun."""
        return self.artifacts_dir / "attacks" / cell.attack_key[:24]

    def data(self, cell: "Cell") -> "Interactions":
        name = cell.dataset.instance_name
        if name not in self._data:
            self.log(f"loading {name}")
            self._data[name] = cell.dataset.load(self.data_ctx)
        return self._data[name]

    def split(self, cell: "Cell", streams: Streams) -> "Split":
        protocol = cell.attack.protocol()
        key = (cell.dataset.instance_name, protocol.key, cell.seed)
        if key not in self._splits:
            if len(self._splits) > 8:  # splits of finished groups are not needed again
                self._splits.clear()
            # frozen: every cell of the group, and every judge, reads this one split
            self._splits[key] = freeze(protocol.split(self.data(cell), streams.rng("split", protocol.key)))
        return self._splits[key]

    def victim(self, cell: "Cell", timings: dict[str, float] | None = None) -> "tuple[Victim, Split, Streams]":
        """The cell's trained victim (trained now, or from memory or its checkpoint), its split and streams."""
        timings = {} if timings is None else timings
        streams = Streams(cell.seed)
        seed_global(streams.seed_of("global"))
        t = time.perf_counter()
        split = self.split(cell, streams)
        timings["data_s"] = time.perf_counter() - t
        ctx = RunContext(seed=streams.seed_of("victim"), device=self.device, progress=self.progress,
                         work_dir=self.training_dir(cell), log=self.log)
        return self.victims.get(cell.victim_key, cell.recommender, cell.defense, split, ctx), split, streams

    def arena(self, cell: "Cell", timings: dict[str, float] | None = None) -> Arena:
        """The cell's arena: data, split, the (shared) trained victim, the prepared defense."""
        timings = {} if timings is None else timings
        victim, split, streams = self.victim(cell, timings)
        arena = Arena(victim=victim.model, recommender=cell.recommender, split=split, defense=fresh_copy(cell.defense),
                      streams=streams, k=cell.k, device=self.device, report=victim.report,
                      judge=cell.judge or JudgeSettings(), log=self.log, progress=self.progress,
                      work_dir=self.training_dir(cell), attack_dir=self.attack_dir(cell), isolate=self.isolate)
        timings["victim_train_s"], timings["victim_loaded"] = victim.train_seconds, float(victim.loaded)
        t = time.perf_counter()
        arena.prepare(arena.defense)
        timings["defense_prepare_s"] = time.perf_counter() - t
        return arena

    def compute(self, cell: "Cell", tune: "TuneSpec | None" = None, force: bool = False) -> Outcome:
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        arena = self.arena(cell, timings)
        t = time.perf_counter()
        metrics = arena.utility()  # one serving rule for every attack: the cost belongs to the defense
        timings["evaluation_s"] = time.perf_counter() - t
        t = time.perf_counter()
        out = Outcome(metrics)
        if tune is not None:
            from .tuning import tune_cell

            if self.storage is None:
                raise ValueError("tuning needs a results database (the Optuna study lives there)")
            verdict, extra = tune_cell(arena, cell, tune, self.storage.url, force=force)
            out.trials, out.n_trials, out.study_name = extra["trials"], extra["n_trials"], extra["study_name"]
        else:
            verdict = arena.attack(cell.attack)
        timings["attack_s"] = time.perf_counter() - t
        out.metrics.update(verdict.metrics)
        out.metrics.update({f"victim.{k}": v for k, v in arena.report.stats.items()})
        out.diagnostics, out.curves = verdict.diagnostics, dict(verdict.curves)
        if arena.report.curve:
            out.curves["victim"] = arena.report.curve
        timings["total_s"] = time.perf_counter() - t_all
        out.timings = timings
        return out
