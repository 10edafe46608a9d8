"""Optuna tuning of a cell: one study per cell over the attack's (or defense's) declared search space.

The study lives in the same database URL as the results (Optuna's own
tables); the best trial's metrics become the cell's metrics and every trial
is mirrored into ``recsec_trials`` for the leaderboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from .cells import Cell
    from .context import RunContext
    from .data import Split
    from .runner import Runner


def metric_direction(metric: str, cell: "Cell") -> str:
    """maximize / minimize for ``metric`` from the component that reports it."""
    prefix, _, name = metric.partition(".")
    owner = {"attack": cell.attack, "defense": cell.defense}.get(prefix)
    directions = getattr(owner, "metric_directions", {}) if owner is not None else {}
    if name in directions:
        return "maximize" if directions[name] else "minimize"
    if prefix in ("utility", "defended"):
        return "maximize"
    raise ValueError(
        f"cannot tell whether {metric!r} should be maximised: set tune.direction in the spec "
        f"or declare it in {type(owner).__name__ if owner else 'the component'}.metric_directions"
    )


def search_names(target: Any, named: "Sequence[str] | None") -> list[str]:
    """The parameters a study searches: those ``[tune] params`` names, else every parameter with
    ``Param.tunable`` (a space and ``search``) that the spec does not fix."""
    if named:
        return list(named)
    return [n for n, p in target.params.items() if p.tunable and n not in target.given_params]


def tune_cell(
    runner: "Runner", cell: "Cell", victim: Any, split: "Split", defense: Any, ctx: "RunContext"
) -> tuple[dict[str, float], dict[str, Any]]:
    import optuna

    tune = runner.spec.tune
    assert tune is not None
    metric = tune.metric or (f"attack.{cell.attack.primary_metric}" if cell.attack.primary_metric else None)
    if not metric:
        raise ValueError(f"tune.metric is not set and attack {cell.attack.name} declares no primary_metric")
    direction = tune.direction or metric_direction(metric, cell)
    target = cell.attack if tune.component == "attack" else defense
    names = search_names(target, tune.params)
    if not names:
        raise ValueError(f"{target.name} has no tunable parameter left (all are fixed in the spec or none declares a search space)")

    study_name = f"recsec-{cell.config_hash[:32]}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=runner.storage.url,
        sampler=optuna.samplers.TPESampler(seed=tune.sampler_seed),
        direction=direction,
        load_if_exists=True,
    )
    results: dict[int, dict[str, float]] = {}

    def objective(trial: "optuna.Trial") -> float:
        values = {n: target.params[n].suggest(trial, n) for n in names}
        params = {**target.given_params, **values}
        if tune.component == "attack":
            attack = type(cell.attack)(**params)
            m = runner.attack_once(cell, attack, defense, victim, split, ctx)
        else:
            tuned = type(defense)(**params)
            tuned.prepare(victim, split, ctx)
            m = runner.attack_once(cell, cell.attack, tuned, victim, split, ctx)
        if metric not in m:
            raise KeyError(f"tuned metric {metric!r} not among the cell's metrics: {sorted(m)}")
        results[trial.number] = m
        trial.set_user_attr("metrics", m)
        return m[metric]

    remaining = tune.n_trials - len([t for t in study.trials if t.state.is_finished()])
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, timeout=tune.timeout, catch=(Exception,))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        failures = [t.user_attrs.get("fail_reason") or t.system_attrs.get("fail_reason", "") for t in study.trials]
        raise RuntimeError(f"every tuning trial failed ({len(study.trials)} trials) {failures[-1:] if failures else ''}")
    best = study.best_trial
    best_metrics = dict(best.user_attrs.get("metrics") or results.get(best.number, {}))
    best_metrics["tune.best_trial"] = float(best.number)
    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": dict(t.params),
            "metrics": dict(t.user_attrs.get("metrics") or {}),
        }
        for t in study.trials
    ]
    return best_metrics, {"n_trials": len(study.trials), "study_name": study_name, "trials": trials}
