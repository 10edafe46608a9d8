"""Trained victims: built once per victim key, checkpointed, and reused by every cell sharing them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .dataset import sha256_file
from .memory import peak_memory

if TYPE_CHECKING:  # pragma: no cover
    from .cells import Cell
    from .context import RunContext
    from .data import Split
    from .recommender import Recommender


def fresh_copy(component: Any) -> Any:
    """A new, untrained instance with the same parameters (components carry state once used)."""
    return type(component)(**component.given_params)


@dataclass
class Victim:
    model: "Recommender"
    key: str
    train_stats: dict[str, float]
    train_seconds: float
    loaded: bool  # True when restored from a checkpoint instead of trained


class VictimStore:
    """Keeps the victim of the current group in memory and checkpoints on disk.

    ``lookup(key)`` / ``record(key, path, sha, meta)`` connect it to the results
    database's artifact table so a resumed or repeated run reloads the
    checkpoint instead of training again.
    """

    def __init__(
        self,
        artifacts_dir: Path,
        lookup: Callable[[str], dict[str, Any] | None],
        record: Callable[[str, str, str, dict[str, Any]], None],
    ) -> None:
        self.dir = Path(artifacts_dir) / "victims"
        self._lookup = lookup
        self._record = record
        self._current: Victim | None = None

    def get(self, cell: "Cell", split: "Split", ctx: "RunContext") -> Victim:
        key = cell.victim_key
        if self._current is not None and self._current.key == key:
            return self._current
        self._current = None  # free the previous group's victim before building the next
        victim = self._load(cell, key, ctx) or self._train(cell, split, key, ctx)
        self._current = victim
        return victim

    def _load(self, cell: "Cell", key: str, ctx: "RunContext") -> Victim | None:
        info = self._lookup(key)
        if not info:
            return None
        path = Path(info["path"])
        if not path.exists() or sha256_file(path) != info["sha256"]:
            ctx.log(f"checkpoint {path} missing or changed; retraining the victim")
            return None
        model = fresh_copy(cell.recommender)
        model.load(path)
        model.to(ctx.device)
        meta = info.get("meta") or {}
        return Victim(model, key, meta.get("train_stats", {}), float(meta.get("train_seconds", 0.0)), True)

    def _train(self, cell: "Cell", split: "Split", key: str, ctx: "RunContext") -> Victim:
        model = fresh_copy(cell.recommender)
        model.to(ctx.device)
        t0 = time.perf_counter()
        with peak_memory(ctx.device) as memory:
            # A training-time defense (trains_victim) replaces the training; the
            # default Defense.train_victim is plain recommender.fit.
            stats = cell.defense.train_victim(model, split, ctx) or {}
        seconds = time.perf_counter() - t0
        stats = {**stats, **memory}  # stored as victim.peak_rss_mb / victim.peak_cuda_mb
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{key}.pt"
        model.save(path)
        meta = {"train_stats": stats, "train_seconds": seconds, "label": cell.recommender.instance_name}
        self._record(key, str(path.resolve()), sha256_file(path), meta)
        return Victim(model, key, dict(stats), seconds, False)
