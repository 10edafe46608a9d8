"""Resumable training of the sequential recommenders: where the state lives, the stopping rules it replays.

When ``ctx.work_dir`` is set, the full training state (weights, optimizer,
random generators, best weights so far, the net's ``training_state``) is
written there after every epoch and a killed run resumes where it stopped,
with the same result as an uninterrupted one. The state is kept when training
ends: a rerun with a larger epoch limit, patience or time limit continues the
same trajectory. A rerun whose stopping rules would have ended that
trajectory earlier (``trajectory_length``) trains from scratch instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # pragma: no cover
    from recsec.context import RunContext
    from recsec.data import Split

    from .base import SequentialRecommender


def resume_path(rec: "SequentialRecommender", split: "Split", ctx: "RunContext") -> Path | None:
    """Where the resumable training state lives: ``ctx.work_dir``, keyed by model, parameters, seed and data."""
    if ctx.work_dir is None:
        return None
    # The net's class is part of the key: a GRO-wrapped net trains the same recommender with
    # the same parameters and seed as the plain one, and must never resume from its state.
    # Stopping rules are not part of the key: they decide where a trajectory ends, not what
    # it is, so a run stopped by its time limit continues when rerun with a larger one.
    shape = sorted((k, v) for k, v in rec.param_values.items() if not rec.params[k].stopping)
    ident = repr((rec.name, rec.version, type(rec.net).__name__, shape, ctx.seed,
                  rec.n_items, len(split.train), int(split.train.items.sum()), len(split.valid)))
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return Path(ctx.work_dir) / f"{rec.name}-training-{digest}.pt"


def stop_reason(done: int, bad: int, spent_s: float, p: Any, validated: bool) -> str | None:
    """Why a run under ``p``'s stopping rules trains no epoch after ``done`` epochs (``bad``
    epochs since the best validation, ``spent_s`` seconds of training and validation), or None.
    Checked before each epoch, so a resumed run that had already stopped trains no further."""
    if done >= p.max_epochs:
        return "max_epochs"
    if validated and p.patience > 0 and bad >= p.patience:
        return "patience"
    if p.time_limit_s > 0 and spent_s >= p.time_limit_s:
        return "time_limit"
    return None


def trajectory_length(history: list[dict[str, float]], p: Any) -> int:
    """How many of the recorded epochs a run under ``p``'s stopping rules would have trained:
    ``stop_reason`` replayed on the recorded validation scores and times."""
    best, bad, spent = -1.0, 0, 0.0
    for done, row in enumerate(history):
        if stop_reason(done, bad, spent, p, "valid_ndcg@10" in row):
            return done
        spent += row["epoch_s"] + row.get("valid_s", 0.0)
        if "valid_ndcg@10" in row:
            best, bad = (row["valid_ndcg@10"], 0) if row["valid_ndcg@10"] > best else (best, bad + 1)
    return len(history)


def rng_states(gens: list[torch.Generator]) -> dict[str, Any]:
    """The states of ``gens`` and of torch's global generators (CPU, and CUDA when present)."""
    out: dict[str, Any] = {"gens": [g.get_state() for g in gens], "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_states(gens: list[torch.Generator], states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    for g, st in zip(gens, states["gens"]):
        g.set_state(st)
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def read_state(path: Path | None) -> dict[str, Any] | None:
    """A state written by ``write_state``, or None when there is none. Loaded with
    ``weights_only=True`` (tensors, numbers, strings and containers only): a state file is
    data, and whoever can write the artifacts folder must not run code in the worker."""
    import pickle

    if path is None or not path.exists():
        return None
    try:
        # On the CPU first: generator states must stay CPU byte tensors; load_state_dict copies to the device.
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: the training state does not load as data only "
                         f"({str(exc).splitlines()[0][:160]}); delete it to train from scratch") from None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (a temporary file per process, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")  # never shared between processes
    torch.save(state, tmp)
    tmp.replace(path)
