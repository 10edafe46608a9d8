"""Optuna tuning of a cell: one study per cell over the attack's (or defense's) declared search space.

The study lives in the results database (Optuna's own tables); every trial runs in the
cell's arena, the best trial's judged metrics become the cell's metrics, and every trial
is mirrored into ``recsec_trials`` for the leaderboard. A study optimises a metric the
attacker could observe (``recsec.judges.names``: ``observable``), never a test metric,
unless the spec sets ``[tune] allow_test_metric = true`` (the cell's identity then says so).
A defense is tuned against the attack: it minimises what the attacker maximises.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .judges import names

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from .arena import Arena, Verdict
    from .cells import Cell
    from .spec import TuneSpec


def study_metric(tune: "TuneSpec", attack: Any) -> tuple[str, str]:
    """(metric, direction) a study of ``attack``'s cells optimises; a clear error when the metric
    is not judged, ranks nothing, or is a test metric the spec did not explicitly allow."""
    threat = attack.output.threat
    metric = tune.metric or names.OBSERVABLE_DEFAULT.get(threat)
    if not metric:
        raise SpecError(f"tune.metric: {attack.name} ({threat or 'no'} threat) has no observable default; name one")
    info = names.info(metric)
    if info is None or info.higher_is_better is None and tune.direction is None:
        raise SpecError(f"tune.metric {metric!r} is not a judged metric with a direction (recsec.judges.names)")
    if not info.observable and not tune.allow_test_metric:
        observable = names.OBSERVABLE_DEFAULT.get(threat, "an observable metric")
        raise SpecError(f"tune.metric {metric!r} is measured on data the attacker never sees; tune {observable} "
                        "or set [tune] allow_test_metric = true (reports then mark the cell)")
    direction = tune.direction or info.direction
    if tune.direction is None and tune.component == "defense":  # the defender works against the attacker
        direction = "minimize" if direction == "maximize" else "maximize"
    return metric, str(direction)


def search_names(target: Any, named: "Sequence[str] | None") -> list[str]:
    """The parameters a study searches: those ``[tune] params`` names, else every parameter with
    ``Param.tunable`` (a space and ``search``) that the spec does not fix."""
    if named:
        return list(named)
    return [n for n, p in target.params.items() if p.tunable and n not in target.given_params]


#: Longest study name written (Optuna's column holds 512 characters).
_STUDY_NAME_MAX = 400


def readable_study_name(cell: "Cell") -> str:
    """``dataset/recommender/attack/defense/seed<N>-<hash>``: what optuna-dashboard lists, one study per cell.

    The names say which cell a study tunes; the config hash's first 12 digits keep two cells
    apart whose names agree (another benchmark, judge or tuning). Long instance names are
    shortened (the hash still tells them apart)."""
    parts = [c.instance_name for c in (cell.dataset, cell.recommender, cell.attack, cell.defense)] + [f"seed{cell.seed}"]
    suffix = f"-{cell.config_hash[:12]}"
    if len("/".join(parts)) + len(suffix) > _STUDY_NAME_MAX:
        each = (_STUDY_NAME_MAX - len(suffix)) // len(parts) - 1
        parts = [p if len(p) <= each else p[: each - 1] + "…" for p in parts]
    return "/".join(parts) + suffix


def tune_cell(arena: "Arena", cell: "Cell", tune: "TuneSpec", storage_url: str, force: bool = False,
              n_trials: int | None = None, finalize: bool = True) -> tuple["Verdict", dict[str, Any]] | None:
    """Run (or continue) the cell's study up to ``tune.n_trials`` finished trials; the best trial's
    verdict and the trials. ``n_trials``/``finalize=False``: run at most that many trials and
    return nothing (one of several processes sharing the study; the cell's task finalizes it)."""
    import optuna

    metric, direction = study_metric(tune, cell.attack)
    target = cell.attack if tune.component == "attack" else cell.defense
    names_ = search_names(target, tune.params)
    if not names_:
        raise ValueError(f"{target.name} has no tunable parameter left (all are fixed in the spec or none declares a search space)")

    study_name = readable_study_name(cell)
    legacy = f"recsec-{cell.config_hash[:32]}"  # how studies were named before: continued under that name
    if legacy in (stored := optuna.get_all_study_names(storage=storage_url)) and study_name not in stored:
        study_name = legacy
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if force:  # --force recomputes: a stored study's trials describe the old computation
        try:
            optuna.delete_study(study_name=study_name, storage=storage_url)
        except KeyError:
            pass
    study = optuna.create_study(study_name=study_name, storage=storage_url, direction=direction, load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=tune.sampler_seed))
    import warnings

    with warnings.catch_warnings():  # experimental in Optuna 3.x, stable in 4
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric])
    study.set_user_attr("recsec_cell", cell.label)
    study.set_user_attr("recsec_config_hash", cell.config_hash)
    study.set_user_attr("recsec_component", tune.component)
    verdicts: dict[int, "Verdict"] = {}

    def objective(trial: "optuna.Trial") -> float:
        values = {n: target.params[n].suggest(trial, n) for n in names_}
        params = {**target.given_params, **values}
        if tune.component == "attack":
            verdict = arena.attack(type(cell.attack)(**params))
        else:
            verdict = arena.attack(cell.attack, arena.prepare(type(cell.defense)(**params)))
        if metric not in verdict.metrics:
            raise KeyError(f"tuned metric {metric!r} not among the cell's judged metrics: {sorted(verdict.metrics)}")
        verdicts[trial.number] = verdict
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("metrics", verdict.metrics)
        trial.set_user_attr("diagnostics", verdict.diagnostics)
        return verdict.metrics[metric]

    remaining = tune.n_trials - len([t for t in study.trials if t.state.is_finished()])
    if n_trials is not None:
        remaining = min(remaining, n_trials)
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, timeout=tune.timeout, catch=(Exception,))
    if not finalize:
        return None
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        failures = [t.user_attrs.get("fail_reason") or t.system_attrs.get("fail_reason", "") for t in study.trials]
        raise RuntimeError(f"every tuning trial failed ({len(study.trials)} trials) {failures[-1:] if failures else ''}")
    from .arena import Verdict

    best = study.best_trial
    verdict = verdicts.get(best.number) or Verdict(dict(best.user_attrs.get("metrics") or {}),
                                                   dict(best.user_attrs.get("diagnostics") or {}))
    verdict.metrics["tune.best_trial"] = float(best.number)
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params),
               "metrics": dict(t.user_attrs.get("metrics") or {})} for t in study.trials]
    return verdict, {"n_trials": len(study.trials), "study_name": study_name, "trials": trials}
