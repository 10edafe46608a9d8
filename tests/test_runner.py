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
    assert c.status == "done" and c.config["primary_metric"] == "attack.hit"
    for name in ("attack.hit", "attack.queries", "utility.ndcg@10", "utility.hr@10", "defended.ndcg@10", "utility.distinct_top1"):
        assert name in c.metrics, name
    assert c.metrics["attack.queries"] == 10
    assert c.versions["attack"].startswith("toy-probe@2") and c.versions["recsec"]
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


def test_interrupted_run_resumes_where_it_stopped(toy_registry, storage, tmp_path):
    import recsec_toy_plugin as toy

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
    assert c.metrics["attack.hit"] == pytest.approx(best)  # maximise: the attack declares hit as higher-is-better
    study = optuna.load_study(study_name=c.study_name, storage=storage.url)
    assert len(study.trials) == 4


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
params = {{ n_sequences = 6, seq_len = 4, gen_batch = 6, epochs = 1, eval_users = 10 }}
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


def test_results_summary_aggregates_seeds_per_group(toy_registry, storage, tmp_path, db_url, capsys):
    import statistics

    from recsec.cli import main

    _run(SPEC, toy_registry, storage, tmp_path)
    with storage.transaction() as s:
        rows = repo.export_rows(s)
    hits = [r["attack.hit"] for r in rows if r["defense"] == "none" and r["attack"] == "toy-probe[n_queries=10]"]
    assert len(hits) == 2

    assert main(["results", "--db", db_url, "--summary", "attack.hit", "--format", "json"]) == 0
    import json

    groups = json.loads(capsys.readouterr().out)
    assert len(groups) == 4 and all(g["seeds"] == [0, 1] for g in groups)
    g = next(g for g in groups if g["defense"] == "none" and g["attack"] == "toy-probe[n_queries=10]")
    assert g["attack.hit"]["mean"] == pytest.approx(statistics.fmean(hits))
    assert g["attack.hit"]["std"] == pytest.approx(statistics.stdev(hits)) and g["attack.hit"]["n"] == 2

    assert main(["results", "--db", db_url, "--summary", "attack.hit", "utility.hr@10"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| dataset | recommender | attack | defense | seeds | attack.hit | utility.hr@10 |" and len(table) == 6
    assert all(" ± " in line and "| 0,1 |" in line for line in table[2:])
    assert main(["results", "--db", db_url, "--summary", "attack.hitt"]) == 2
    assert "no stored metric 'attack.hitt'; stored: attack.hit" in capsys.readouterr().err


def test_results_paired_differences_by_seed(toy_registry, storage, tmp_path, db_url, capsys):
    import json

    from recsec.cli import main
    from recsec.errors import RecsecError
    from recsec.reports.summary import paired

    _run(SPEC, toy_registry, storage, tmp_path)
    with storage.transaction() as s:
        rows = repo.export_rows(s)
    by = {(r["attack"], r["defense"], r["seed"]): r for r in rows}

    def diff(attack, seed, metric="defended.hr@10"):  # the reversing defense costs utility: non-zero differences
        return by[(attack, "toy-reverse", seed)][metric] - by[(attack, "none", seed)][metric]

    attack = "toy-probe[n_queries=10]"
    # drop one baseline seed: only seed 0 can then be paired for that attack
    rows = [r for r in rows if not (r["attack"] == attack and r["defense"] == "none" and r["seed"] == 1)]
    groups = paired(rows, ["defended.hr@10", "attack.hit"], "defense=none")
    assert {g["defense"] for g in groups} == {"toy-reverse"} and len(groups) == 2
    g = next(g for g in groups if g["attack"] == attack)
    assert diff(attack, 0) != 0 and g["seeds"] == [0] and g["diff.defended.hr@10"].n == 1
    assert g["diff.defended.hr@10"].mean == pytest.approx(diff(attack, 0))
    other = next(g for g in groups if g["attack"] != attack)
    diffs = [diff(other["attack"], s) for s in (0, 1)]
    assert other["seeds"] == [0, 1] and other["diff.defended.hr@10"].mean == pytest.approx(sum(diffs) / 2)
    assert other["diff.defended.hr@10"].std == pytest.approx(abs(diffs[0] - diffs[1]) / 2**0.5)
    # the baseline may also be another instance; a bare name must stand for one stored instance
    assert {g["attack"] for g in paired(rows, ["attack.hit"], "attack=toy-probe[n_queries=5]")} == {attack}
    for bad, says in (("attack=toy-probe", "ambiguous"), ("defense=gro", "matches none"), ("seed=0", "FIELD=VALUE")):
        with pytest.raises(RecsecError, match=says):
            paired(rows, ["attack.hit"], bad)

    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none", "--format", "json"]) == 0
    out = {g["attack"]: g for g in json.loads(capsys.readouterr().out)}
    assert len(out) == 2 and all(g["seeds"] == [0, 1] and g["diff.defended.hr@10"]["n"] == 2 for g in out.values())
    agg = out[attack]["diff.defended.hr@10"]
    assert agg["mean"] == pytest.approx((diff(attack, 0) + diff(attack, 1)) / 2)
    # the 95% interval of the mean difference: t(0.975, 1 df) = 12.7062 standard errors either side
    # (the toy differences may not vary by seed; tests/test_reports.py checks the interval on spread values)
    half = 12.7062 * agg["std"] / 2**0.5
    assert agg["ci95"] == pytest.approx([agg["mean"] - half, agg["mean"] + half], rel=1e-4)
    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].endswith("| seeds | diff.defended.hr@10 |")
    assert all(line.count(" ± ") == 1 and line.rstrip(" |").endswith("]") for line in table[2:])
    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none", "--format", "csv"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.endswith("diff.defended.hr@10_n,diff.defended.hr@10_ci95_low,diff.defended.hr@10_ci95_high")
    cells = [[float(x) for x in line.split(",")[-5:]] for line in lines]  # mean, std, n, low, high
    assert len(cells) == 2 and all(low <= mean <= high for mean, _, _, low, high in cells)
    with pytest.raises(SystemExit):
        main(["results", "--db", db_url, "--paired", "defense=none"])
    assert "--paired needs --summary" in capsys.readouterr().err
