"""The matrix runner on toy components: storage of every outcome, victim reuse,
failures, resume after an interruption, --force, and Optuna tuning."""

from __future__ import annotations

import pytest

from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import repository as repo

SPEC = """
datasets = ["toy-data"]
recommenders = ["toy-popular"]
defenses = ["none", "toy-reverse"]

[benchmark]
name = "toy"
seeds = [0, 1]

[[attacks]]
name = "toy-probe"
params = { n_queries = [5, 10] }
"""


def _run(spec_text, registry, storage, tmp_path, **kw):
    spec = parse_spec(spec_text, registry, "toy.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None, **kw)
    return Runner(spec, storage, opts).run()


def _cells(storage, **filters):
    with storage.transaction() as s:
        return {(c.attack, c.defense, c.seed): c for c in repo.list_cells(s, **filters)}


def test_run_stores_every_cell_and_reuses_victims(toy_registry, storage, tmp_path):
    import recsec_toy_plugin as toy

    summary = _run(SPEC, toy_registry, storage, tmp_path)
    assert summary.counts == {"done": 8, "cached": 0, "failed": 0, "skipped": 0}
    assert toy.CALLS["fit"] == 2  # one victim per seed, shared by both attacks and both defenses
    cells = _cells(storage)
    c = cells[("toy-probe[n_queries=10]", "none", 0)]
    assert c.status == "done" and c.config["primary_metric"] == "attack.agr@10"
    for name in ("attack.agr@10", "attack.holdout_agr@10", "attack.queries", "utility.ndcg@10", "utility.hr@10", "defended.ndcg@10", "utility.distinct_top1"):
        assert name in c.metrics, name
    assert c.metrics["attack.queries"] == 12 and c.diagnostics == {"diag.sent": 12.0}
    assert c.versions["attack"].startswith("toy-probe@3") and c.versions["recsec"]
    assert c.timings["total_s"] > 0 and "cpu_count" in c.hardware and c.hardware["cpu_capability"]
    # the reversing defense destroys utility; the undefended list does not
    rev = cells[("toy-probe[n_queries=10]", "toy-reverse", 0)]
    assert rev.metrics["defended.hr@10"] <= c.metrics["defended.hr@10"]
    assert rev.metrics["utility.hr@10"] == c.metrics["utility.hr@10"]

    again = _run(SPEC, toy_registry, storage, tmp_path)
    assert again.counts["cached"] == 8 and again.counts["done"] == 0
    assert toy.CALLS["fit"] == 2

    forced = _run(SPEC, toy_registry, storage, tmp_path, force=True)
    assert forced.counts["done"] == 8
    assert toy.CALLS["fit"] == 2  # the checkpoint is reloaded, not retrained


def test_failing_cell_is_stored_with_traceback_and_matrix_goes_on(toy_registry, storage, tmp_path):
    spec = SPEC.replace("params = { n_queries = [5, 10] }", "params = { fail = [false, true] }")
    summary = _run(spec, toy_registry, storage, tmp_path)
    assert summary.counts["failed"] == 4 and summary.counts["done"] == 4
    failed = _cells(storage, status="failed")
    (c, *_) = failed.values()
    assert "ValueError: toy attack failed on purpose" in c.error
    assert "Traceback" in c.traceback and "recsec_toy_plugin.py" in c.traceback
    # a re-run retries failed cells only
    assert _run(spec, toy_registry, storage, tmp_path).counts == {"done": 0, "cached": 4, "failed": 4, "skipped": 0}


def test_interrupted_run_resumes_where_it_stopped(toy_registry, storage, tmp_path, monkeypatch):
    """The user's Ctrl-C (a real SIGINT) stops the matrix; the cell goes back to pending."""
    import recsec_toy_plugin as toy

    monkeypatch.setenv("RECSEC_ISOLATE", "0")  # INTERRUPT counts attack runs in this process
    toy.INTERRUPT["at"] = 3
    with pytest.raises(KeyboardInterrupt):
        _run(SPEC, toy_registry, storage, tmp_path)
    cells = _cells(storage)
    assert sorted(c.status for c in cells.values()) == ["done", "done", "pending"]
    with storage.transaction() as s:
        from sqlalchemy import select

        from recsec.storage.models import Run

        assert s.scalars(select(Run.status)).all() == ["interrupted"]
    toy.INTERRUPT["at"] = None
    resumed = _run(SPEC, toy_registry, storage, tmp_path)
    assert resumed.counts == {"done": 6, "cached": 2, "failed": 0, "skipped": 0}
    assert all(c.status == "done" for c in _cells(storage).values())


def test_skip_reasons_are_stored(toy_registry, storage, tmp_path, monkeypatch):
    import recsec_toy_plugin as toy

    monkeypatch.setattr(toy.ToyProbe, "families", ("sequential",))
    summary = _run(SPEC, toy_registry, storage, tmp_path)
    assert summary.counts["skipped"] == 8
    c = next(iter(_cells(storage).values()))
    assert c.status == "skipped" and "sequential" in c.skip_reason


def test_tune_runs_an_optuna_study_per_cell_in_the_same_database(toy_registry, storage, tmp_path):
    import optuna

    spec = SPEC.replace("params = { n_queries = [5, 10] }", "") + "\n[tune]\nn_trials = 4\nsampler_seed = 3\n"
    spec = spec.replace('defenses = ["none", "toy-reverse"]', 'defenses = ["none"]').replace("seeds = [0, 1]", "seeds = [0]")
    summary = _run(spec, toy_registry, storage, tmp_path)
    assert summary.counts["done"] == 1
    (c,) = _cells(storage).values()
    assert c.n_trials == 4 and c.study_name
    with storage.transaction() as s:
        cell = repo.get_cell(s, c.config_hash)
        trials = [(t.number, t.value, t.params) for t in cell.trials]
    assert len(trials) == 4 and all("n_queries" in p for _, _, p in trials)
    best = max(v for _, v, _ in trials)
    # the study maximises the observable held-out agreement, never the test users' agreement
    assert c.metrics["attack.holdout_agr@10"] == pytest.approx(best)
    study = optuna.load_study(study_name=c.study_name, storage=storage.url)
    assert len(study.trials) == 4 and study.metric_names == ["attack.holdout_agr@10"]
    assert study.user_attrs["recsec_config_hash"] == c.config_hash and "toy-probe" in study.user_attrs["recsec_cell"]


def test_raising_n_trials_continues_the_study_and_force_recomputes_it(toy_registry, storage, tmp_path):
    """Trial counts are stopping rules, not identity: more trials extend the cell's study;
    --force starts the study over instead of returning the old best trial."""
    import optuna

    base = SPEC.replace("params = { n_queries = [5, 10] }", "").replace('defenses = ["none", "toy-reverse"]', 'defenses = ["none"]')
    base = base.replace("seeds = [0, 1]", "seeds = [0]") + "\n[tune]\nn_trials = {n}\nsampler_seed = 3\n"
    _run(base.format(n=2), toy_registry, storage, tmp_path)
    (first,) = _cells(storage).values()
    study = optuna.load_study(study_name=first.study_name, storage=storage.url)
    kept = [(t.number, t.params) for t in study.trials]
    assert first.n_trials == 2 and len(kept) == 2

    more = _run(base.format(n=4), toy_registry, storage, tmp_path)
    (cell,) = _cells(storage).values()
    assert more.counts["done"] == 1 and cell.config_hash == first.config_hash  # the same cell, continued
    study = optuna.load_study(study_name=cell.study_name, storage=storage.url)
    assert cell.n_trials == 4 and [(t.number, t.params) for t in study.trials][:2] == kept
    assert _run(base.format(n=4), toy_registry, storage, tmp_path).counts["cached"] == 1

    _run(base.format(n=2), toy_registry, storage, tmp_path, force=True)
    (cell,) = _cells(storage).values()
    study = optuna.load_study(study_name=cell.study_name, storage=storage.url)
    assert cell.n_trials == 2 and len(study.trials) == 2 and cell.computations == 3


def test_shards_split_the_matrix_by_victim_without_overlap(toy_registry, storage, tmp_path):
    import recsec_toy_plugin as toy

    from recsec.cells import expand, parse_shard, shard
    from recsec.errors import SpecError

    spec = parse_spec(SPEC, toy_registry, "toy.toml")
    cells = list(expand(spec))
    parts = [shard(cells, i, 3) for i in (1, 2, 3)]
    keys = [{c.config_hash for c in p} for p in parts]
    assert sum(len(k) for k in keys) == len(cells) and set().union(*keys) == {c.config_hash for c in cells}
    for p in parts:  # a victim group is never split across workers
        for other in parts:
            if other is not p:
                assert not {c.victim_key for c in p} & {c.victim_key for c in other}
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/"):
        with pytest.raises(SpecError, match="--shard"):
            parse_shard(bad)

    # two workers on one database: together they store every cell, each victim trained once
    first = _run(SPEC, toy_registry, storage, tmp_path, shard=(1, 2))
    second = _run(SPEC, toy_registry, storage, tmp_path, shard=(2, 2))
    assert first.counts["done"] == 4 and second.counts["done"] == 4
    assert toy.CALLS["fit"] == 2
    assert {c.status for c in _cells(storage).values()} == {"done"}


def test_only_selects_cells_by_field_before_sharding(toy_registry, storage, tmp_path):
    from recsec.cells import expand, parse_only, select
    from recsec.errors import SpecError

    spec = parse_spec(SPEC, toy_registry, "toy.toml")
    cells = list(expand(spec))
    only = parse_only(["defense=toy-reverse", "seed=1", "attack=toy-probe[n_queries=5]", "attack=toy-probe[n_queries=10.0]"],
                      spec, toy_registry)
    chosen = select(cells, only)
    assert {(c.attack.instance_name, c.defense.instance_name, c.seed) for c in chosen} == {
        ("toy-probe[n_queries=5]", "toy-reverse", 1), ("toy-probe[n_queries=10]", "toy-reverse", 1)}
    assert len(select(cells, parse_only(["attack=toy-probe"], spec, toy_registry))) == len(cells)  # a bare name: all
    assert select(cells, {}) == cells
    for bad, says in [("defense=gro", "matches none of the spec's defenses: none, toy-reverse"),
                      ("seed=7", r"the spec's seeds are \[0, 1\]"), ("colour=red", "expected FIELD=VALUE"),
                      ("attack=toy-probe[n_queries=7]", "matches none"), ("attack=nope[x=1]", "--only 'attack=nope")]:
        with pytest.raises(SpecError, match=says):
            parse_only([bad], spec, toy_registry)

    summary = _run(SPEC, toy_registry, storage, tmp_path, only=only)
    assert summary.counts["done"] == 2 and set(_cells(storage)) == {
        ("toy-probe[n_queries=5]", "toy-reverse", 1), ("toy-probe[n_queries=10]", "toy-reverse", 1)}


RAISED_LIMIT_SPEC = """
datasets = ["synthetic[n_users=80,n_items=40,mean_events=10.0]"]
recommenders = ["sasrec[hidden=16,max_len=8,n_blocks=1,patience=0,{stop}]"]
defenses = ["none", "gro[k=10]"]

[benchmark]
name = "raised-limit"
seeds = [0]

[[attacks]]
name = "dfme-random"
params = {{ n_sequences = 6, seq_len = 4, gen_batch = 6, epochs = 1 }}

[judge]
eval_users = 10
"""


def test_a_raised_epoch_or_time_limit_continues_the_stored_training(storage, tmp_path):
    """Stopping rules stay in the result's hash but not in the training folder's key (``stopping_params``)."""
    from recsec.cells import expand, shard
    from recsec.registry import default_registry

    reg = default_registry()
    short = parse_spec(RAISED_LIMIT_SPEC.format(stop="max_epochs=3,time_limit_s=1e-9"), reg, "a.toml")
    longer = parse_spec(RAISED_LIMIT_SPEC.format(stop="max_epochs=3"), reg, "b.toml")
    a, b = list(expand(short)), list(expand(longer))
    assert [c.victim_key for c in a] != [c.victim_key for c in b]
    assert [c.training_key for c in a] == [c.training_key for c in b]
    assert a[0].training_key != a[1].training_key  # a GRO victim never shares a plain victim's folder
    # victims sharing a training folder always go to the same worker (dealt by victim key over
    # three shards, the plain victims of `short` and `longer` would land on workers 1 and 3)
    both = a + b
    parts = [shard(both, i, 3) for i in (1, 2, 3)]
    assert sum(len(p) for p in parts) == len(both)
    for part in parts:
        keys = {c.training_key for c in part}
        assert all(c in part for c in both if c.training_key in keys)

    logs: list[str] = []
    for spec in (short, longer):
        opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=logs.append)
        assert Runner(spec, storage, opts).run().counts["failed"] == 0
    assert sum("resuming after epoch 1" in m for m in logs) == 2  # the plain and the GRO victim
    with storage.transaction() as s:
        epochs = sorted(c.metrics["victim.epochs"] for c in repo.list_cells(s))
    assert epochs == [1.0, 1.0, 3.0, 3.0]
