"""Trained victims: built once per victim key, checkpointed, and reused by every cell sharing them.

A checkpoint is recorded in the results database's artifact table with its sha256 and the
victim's training report (statistics, init seed, training curve), so a resumed or repeated
run reloads it instead of training again, and a changed or missing file is retrained.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .dataset import sha256_file
from .memory import peak_memory
from .recommender import TrainReport

if TYPE_CHECKING:  # pragma: no cover
    from .context import RunContext
    from .data import Split
    from .defense import Defense
    from .recommender import Recommender
    from .storage.db import Storage


@dataclass
class Victim:
    model: "Recommender"
    key: str
    report: TrainReport
    train_seconds: float
    loaded: bool  # True when restored from a checkpoint instead of trained


class VictimStore:
    """Keeps the victim of the current group in memory and checkpoints under ``artifacts_dir``;
    ``storage`` (optional) indexes the checkpoints so later runs find them."""

    def __init__(self, artifacts_dir: Path, storage: "Storage | None" = None) -> None:
        self.dir = Path(artifacts_dir) / "victims"
        self.storage = storage
        self._current: Victim | None = None

    def get(self, key: str, recommender: "Recommender", defense: "Defense", split: "Split", ctx: "RunContext") -> Victim:
        """The victim ``key``: in memory, from its checkpoint, or trained now by ``defense.train_victim``
        (plain ``fit`` unless the defense trains the victim itself)."""
        if self._current is not None and self._current.key == key:
            return self._current
        self._current = None  # free the previous group's victim before building the next
        victim = self._load(key, recommender, ctx) or self._train(key, recommender, defense, split, ctx)
        self._current = victim
        return victim

    def _lookup(self, key: str) -> dict | None:
        if self.storage is None:
            return None
        from .storage import repository as repo

        with self.storage.transaction(readonly=True) as s:
            return repo.get_artifact(s, key)

    def _load(self, key: str, recommender: "Recommender", ctx: "RunContext") -> Victim | None:
        info = self._lookup(key)
        if not info:
            return None
        path = Path(info["path"])
        if not path.exists() or sha256_file(path) != info["sha256"]:
            ctx.log(f"checkpoint {path} missing or changed; retraining the victim")
            return None
        model = type(recommender)(**recommender.given_params)
        try:
            model.load(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable or unsafe checkpoint is retrained, never trusted
            ctx.log(f"checkpoint {path} cannot be loaded ({str(exc).splitlines()[0][:200]}); retraining the victim")
            return None
        model.to(ctx.device)
        meta = info.get("meta") or {}
        report = TrainReport(dict(meta.get("train_stats", {})), meta.get("init_seed"), list(meta.get("curve", [])))
        return Victim(model, key, report, float(meta.get("train_seconds", 0.0)), True)

    def _train(self, key: str, recommender: "Recommender", defense: "Defense", split: "Split", ctx: "RunContext") -> Victim:
        model = type(recommender)(**recommender.given_params)
        model.to(ctx.device)
        who = (f"defense {defense.name!r}: train_victim()" if defense.trains_victim
               else f"recommender {recommender.name!r}: fit()")
        t0 = time.perf_counter()
        with peak_memory(ctx.device) as memory:
            report = TrainReport.of(defense.train_victim(model, split, ctx), who)
        seconds = time.perf_counter() - t0
        report.stats.update(memory)  # stored as victim.peak_rss_mb / victim.peak_cuda_mb
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{key}.pt"
        model.save(path)
        if self.storage is not None:
            from .storage import repository as repo

            meta = {"train_stats": report.stats, "train_seconds": seconds, "label": recommender.instance_name,
                    "init_seed": report.init_seed, "curve": report.curve}
            with self.storage.transaction() as s:
                repo.record_artifact(s, key=key, kind="victim", path=str(path.resolve()), sha256=sha256_file(path), meta=meta)
        return Victim(model, key, report, seconds, False)
