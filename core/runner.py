"""The matrix runner: expands a spec into cells, trains each victim once, runs
attacks against (defended) victims, and stores every outcome.

Finished cells are skipped on the next run (``force`` recomputes), so an
interrupted run resumes where it stopped; a cell that raises is stored as
failed with its traceback and the matrix goes on.
"""

from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import __version__
from .blackbox import EVALUATOR, BlackBoxAPI
from .cells import Cell, plan
from .context import AttackContext, RunContext
from .dataset import DataContext
from .metrics import is_number, list_diversity, ranking_metrics
from .seeding import derive_seed, seed_global
from .victims import VictimStore, fresh_copy

if TYPE_CHECKING:  # pragma: no cover
    from .data import Interactions, Split
    from .spec import Spec
    from .storage.db import Storage


@dataclass
class RunOptions:
    """How to run a spec (the CLI's flags)."""

    device: str = "auto"
    force: bool = False
    artifacts_dir: Path = Path("recsec-artifacts")
    data_dir: str | None = None
    allow_download: bool = True
    progress: bool = False
    log: Callable[[str], None] = print
    #: (I, N): run only shard I of N (whole victim groups, see ``cells.shard``); None = every cell
    shard: tuple[int, int] | None = None
    #: run only the cells matching these fields (``cells.parse_only``, applied before ``shard``); empty = all
    only: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class RunSummary:
    run_id: int
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "cached": 0, "failed": 0, "skipped": 0})
    failures: list[tuple[str, str]] = field(default_factory=list)


def package_versions() -> dict[str, str]:
    import platform

    import numpy
    import torch

    return {"recsec": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def component_versions(cell: Cell) -> dict[str, str]:
    out = {}
    for comp in (cell.dataset, cell.recommender, cell.attack, cell.defense):
        out[comp.kind] = f"{comp.name}@{comp.version} ({comp.plugin or comp.__module__} {comp.plugin_version})".strip()
    return out


class Runner:
    """Runs one spec against one results store."""

    def __init__(self, spec: "Spec", storage: "Storage", options: RunOptions) -> None:
        from .device import resolve_device, use_deterministic_kernels

        self.spec = spec
        self.storage = storage
        self.opt = options
        self.device = resolve_device(options.device if options.device != "auto" or not spec.device else spec.device)
        use_deterministic_kernels(self.device)  # before hardware_info records it (RunContexts do it too)
        self.data_ctx = DataContext.from_env(options.data_dir, allow_download=options.allow_download, progress=options.progress)
        self._data: dict[str, "Interactions"] = {}
        self._splits: dict[tuple, "Split"] = {}
        self.victims = VictimStore(options.artifacts_dir, self._lookup_artifact, self._record_artifact)

    # -- storage glue ----------------------------------------------------------------------------
    def _lookup_artifact(self, key: str) -> dict[str, Any] | None:
        from .storage import repository as repo

        with self.storage.transaction() as s:
            return repo.get_artifact(s, key)

    def _record_artifact(self, key: str, path: str, sha: str, meta: dict[str, Any]) -> None:
        from .storage import repository as repo

        with self.storage.transaction() as s:
            repo.record_artifact(s, key=key, kind="victim", path=path, sha256=sha, meta=meta)

    # -- the matrix ------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        from tqdm import tqdm

        from .device import hardware_info
        from .storage import repository as repo

        hardware = hardware_info()
        with self.storage.transaction() as s:
            run_id = repo.start_run(
                s,
                benchmark=self.spec.name,
                spec_path=self.spec.path,
                spec_text=self.spec.text,
                recsec_version=__version__,
                hardware=hardware,
                options={"device": str(self.device), "force": self.opt.force,
                         "only": {k: sorted(v) for k, v in self.opt.only.items()}},
            )
        summary = RunSummary(run_id)
        cells = plan(self.spec, self.opt.only, self.opt.shard)
        bar = tqdm(cells, desc=self.spec.name, unit="cell", disable=not self.opt.progress, dynamic_ncols=True)
        status = "finished"
        try:
            for cell in bar:
                bar.set_postfix_str(cell.label[-60:])
                outcome = self._run_one(cell, run_id, hardware)
                summary.counts[outcome] += 1
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            bar.close()
            with self.storage.transaction() as s:
                repo.finish_run(s, run_id, status)
        return summary

    def _run_one(self, cell: Cell, run_id: int, hardware: dict[str, Any]) -> str:
        from .storage import repository as repo

        key = cell.config_hash
        common = dict(
            config_hash=key,
            benchmark=cell.benchmark,
            dataset=cell.dataset.instance_name,
            recommender=cell.recommender.instance_name,
            attack=cell.attack.instance_name,
            defense=cell.defense.instance_name,
            seed=cell.seed,
            config={
                **cell.config,
                "primary_metric": self._primary_metric(cell),
                # reports need to know which way is "better" for each metric
                "metric_directions": {
                    **{f"attack.{k}": v for k, v in cell.attack.metric_directions.items()},
                    **{f"defense.{k}": v for k, v in cell.defense.metric_directions.items()},
                },
            },
            run_id=run_id,
        )
        with self.storage.transaction() as s:
            existing = repo.get_cell(s, key)
            if existing is not None and existing.status in ("done", "skipped") and not self.opt.force:
                return "cached"
            reason = cell.skip_reason()
            if reason:
                repo.save_skipped(s, reason=reason, **common)
                return "skipped"
            repo.claim_cell(s, **common)
        try:
            metrics, timings, extra = self._compute(cell)
        except KeyboardInterrupt:
            with self.storage.transaction() as s:
                repo.save_failed(s, key, error="interrupted", traceback="KeyboardInterrupt: the run was interrupted", status="pending")
            raise
        except Exception as exc:  # a failing cell is recorded and the matrix goes on
            tb = traceback.format_exc()
            with self.storage.transaction() as s:
                repo.save_failed(s, key, error=f"{type(exc).__name__}: {exc}", traceback=tb)
            self.opt.log(f"FAILED {cell.label}: {type(exc).__name__}: {exc}")
            return "failed"
        with self.storage.transaction() as s:
            repo.save_done(
                s,
                key,
                metrics=metrics,
                timings=timings,
                versions={**package_versions(), **component_versions(cell)},
                hardware=hardware,
                victim_key=cell.victim_key,
                n_trials=extra.get("n_trials"),
                study_name=extra.get("study_name"),
            )
            if extra.get("trials"):
                repo.save_trials(s, key, extra["trials"])
        return "done"

    @staticmethod
    def _primary_metric(cell: Cell) -> str:
        m = cell.attack.primary_metric
        return f"attack.{m}" if m else ""

    # -- one cell --------------------------------------------------------------------------------
    def _compute(self, cell: Cell) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        seed_global(derive_seed(cell.seed, "global"))
        ctx = RunContext(
            seed=derive_seed(cell.seed, "victim"),
            device=self.device,
            progress=self.opt.progress,
            work_dir=self._training_dir(cell),
            log=self.opt.log,
        )
        t = time.perf_counter()
        data = self._load_data(cell)
        split = self._split(cell, data)
        timings["data_s"] = time.perf_counter() - t

        victim = self.victims.get(cell, split, ctx)
        timings["victim_train_s"] = victim.train_seconds
        timings["victim_loaded"] = float(victim.loaded)

        t = time.perf_counter()
        defense = fresh_copy(cell.defense) if not cell.defense.trains_victim else cell.defense
        defense.prepare(victim.model, split, ctx)
        timings["defense_prepare_s"] = time.perf_counter() - t

        t = time.perf_counter()
        metrics = self._utility(cell, victim.model, split, defense, ctx)
        timings["evaluation_s"] = time.perf_counter() - t

        t = time.perf_counter()
        if self.spec.tune is not None:
            from .tuning import tune_cell

            attack_metrics, extra = tune_cell(self, cell, victim.model, split, defense, ctx)
        else:
            attack_metrics, extra = self.attack_once(cell, cell.attack, defense, victim.model, split, ctx), {}
        timings["attack_s"] = time.perf_counter() - t
        metrics.update(attack_metrics)
        metrics.update({f"victim.{k}": float(v) for k, v in victim.train_stats.items() if is_number(v)})
        timings["total_s"] = time.perf_counter() - t_all
        return metrics, timings, extra

    def attack_once(self, cell: Cell, attack, defense, victim, split: "Split", ctx: RunContext) -> dict[str, float]:
        """Run ``attack`` once against a private copy of the prepared defense."""
        defense = copy.deepcopy(defense)
        init_labels = defense.init_seed_labels(cell.recommender)
        actx = AttackContext(
            seed=derive_seed(cell.seed, "attack"),
            device=self.device,
            progress=self.opt.progress,
            work_dir=self._training_dir(cell),
            log=self.opt.log,
            split=split,
            n_items=victim.n_items,
            victim_factory=lambda: fresh_copy(cell.recommender).to(self.device),
            reference_topk=lambda queries, k: victim.topk(queries, k),
            victim_init_seed=ctx.seed_for(*init_labels) if init_labels else None,
        )
        api = BlackBoxAPI(
            victim,
            defense=defense,
            popular=split.train.popularity_ranking(),
            rng=np.random.default_rng(derive_seed(cell.seed, "api")),
            **{"k": cell.k, **attack.serving()},
        )
        raw = attack.run(api, actx)
        out = {f"attack.{k}": float(v) for k, v in raw.items() if is_number(v)}
        out["attack.queries"] = float(api.queries_used)
        out.update({f"defense.{k}": float(v) for k, v in defense.metrics(api.log, ctx).items() if is_number(v)})
        return out

    def _utility(self, cell: Cell, victim, split: "Split", defense, ctx: RunContext) -> dict[str, float]:
        """The victim's quality on ``split.test``: undefended (full ranking) and through the defense."""
        from .evaluation import evaluate

        neg_seed = derive_seed(cell.seed, "test-negatives")
        out = {f"utility.{k}": v for k, v in evaluate(victim, split.test, mode="full", ks=(10,)).items()}
        # the sampled protocol (100 negatives) of the DFME/BERT4Rec literature, for comparison with papers
        sampled = evaluate(victim, split.test, mode="sampled", ks=(10,), seed=neg_seed)
        out.update({f"utility.sampled_{k}": v for k, v in sampled.items()})
        if len(split.test) == 0:
            return out
        from .queries import Queries

        api = BlackBoxAPI(
            victim,
            defense=copy.deepcopy(defense),
            popular=split.train.popularity_ranking(),
            rng=np.random.default_rng(derive_seed(cell.seed, "evaluator")),
            **{"k": cell.k, **cell.attack.serving()},
        )
        lists = api.query(Queries(split.test.histories, split.test.users), account=EVALUATOR)
        hit = lists == split.test.targets[:, None]
        ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max // 2)
        out.update({f"defended.{k}": v for k, v in ranking_metrics(ranks, ks=(10,)).items()})
        # A victim returning nearly one list to everybody makes agreement meaningless (methods.md section 7).
        own = victim.topk(Queries(split.test.histories, split.test.users), 10)
        out.update({f"utility.{k}": v for k, v in list_diversity(own).items()})
        return out

    # -- data ------------------------------------------------------------------------------------
    def _training_dir(self, cell: Cell) -> Path:
        """Resumable training state, one folder per victim trajectory (``Cell.training_key``):
        workers sharing the artifacts folder (--shard deals out whole training keys) never see
        each other's half-trained models, and a victim whose epoch or time limit was raised
        continues from its state."""
        return Path(self.opt.artifacts_dir) / "training" / cell.training_key[:24]

    def _load_data(self, cell: Cell) -> "Interactions":
        name = cell.dataset.instance_name
        if name not in self._data:
            self.opt.log(f"loading {name}")
            self._data[name] = cell.dataset.load(self.data_ctx)
        return self._data[name]

    def _split(self, cell: Cell, data: "Interactions") -> "Split":
        key = (cell.dataset.instance_name, cell.attack.split_key(), cell.seed)
        if key not in self._splits:
            if len(self._splits) > 8:  # splits of finished groups are not needed again
                self._splits.clear()
            rng = np.random.default_rng(derive_seed(cell.seed, "split", cell.attack.split_key()))
            self._splits[key] = cell.attack.split(data, rng)
        return self._splits[key]
