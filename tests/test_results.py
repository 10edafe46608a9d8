"""The read model (recsec.results) and what reads through it: exports with identity, summaries
that keep configurations apart, read-only commands, and the pandas API. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recsec.cells import stable_hash
from recsec.cli import main
from recsec.results import load, split_instance
from recsec.storage import repository as repo
from recsec.storage.db import Storage
from test_runner import SPEC, _run

TUNE3 = {"component": "attack", "n_trials": 3, "metric": "attack.shadow_auc", "direction": None, "sampler_seed": 0, "params": None}
TUNE5 = {**TUNE3, "n_trials": 5}


def _ident(seed: int, *, defense: str = "none", benchmark: str = "bench", k: int = 100, tune: Any = None) -> repo.CellIdentity:
    """A cell identity as the runner builds it: config holds every component's name, version, params."""
    config = {
        "benchmark": benchmark,
        "dataset": {"name": "synthetic", "version": "1", "params": {"n_users": 50}},
        "recommender": {"name": "lfm", "version": "1", "params": {"dim": 8, "lr": 0.01}},
        "attack": {"name": "mia", "version": "2", "params": {"lists": "popular"}},
        "defense": {"name": defense.split("[")[0], "version": "1", "params": {"s": 0.1} if "[" in defense else {}},
        "seed": seed,
        "k": k,
        "tune": tune,
    }
    key = stable_hash(config)
    config.update(primary_metric="attack.auc", metric_directions={"attack.auc": True})
    return repo.CellIdentity(key, benchmark, "synthetic", "lfm[dim=8]", "mia[lists=popular]", defense, seed, config)


def _store(storage: Storage) -> dict[str, int]:
    """Same names, five setups: untuned (seeds 0, 1), tuned with 3 and with 5 trials, another
    benchmark with another k, and a defense. Returns cell ids by label."""
    ids = {}
    with storage.transaction() as s:
        run = repo.start_run(s, "bench", spec_path="specs/bench.toml", spec_text='name = "bench"\n', options={"device": "cpu"})
        for label, ident, auc in [
            ("plain0", _ident(0), 0.8),
            ("plain1", _ident(1), 0.6),
            ("noise0", _ident(0, defense="noise[s=0.1]"), 0.5),
            ("tuned3", _ident(0, tune=TUNE3), 0.9),
            ("tuned5-0", _ident(0, tune=TUNE5), 0.91),
            ("tuned5-1", _ident(1, tune=TUNE5), 0.93),
            ("other", _ident(0, benchmark="other", k=50), 0.7),
        ]:
            trials = None
            if label.startswith("tuned"):
                trials = [{"number": 0, "value": 0.5, "params": {"lr": 0.1}, "metrics": {"attack.shadow_auc": 0.5}},
                          {"number": 1, "value": 0.7, "params": {"lr": 0.01}, "metrics": {"attack.shadow_auc": 0.7}}]
            metrics = {"attack.auc": auc, "defended.ndcg@10": 0.3, "tune.best_trial": 1.0} if trials else {"attack.auc": auc, "defended.ndcg@10": 0.3}
            cell = repo.save_done(s, ident, metrics, versions={"recsec": "9.9", "torch": "2.13.0"}, hardware={"cpu_model": "test"},
                                  n_trials=len(trials) if trials else None, trials=trials, run_id=run)
            # Columns another engineer's save functions will fill; set here as the runner will.
            cell.diagnostics = {"epochs_run": 3.0}
            cell.data_fingerprint = "f" * 64
            cell.curves = {"victim": [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}]}
            ids[label] = cell.id
        failed = repo.save_failed(s, _ident(2), "RuntimeError: boom\nmore", run_id=run)
        failed.last_failure = {"error": "older"}
        ids["failed"] = failed.id
        repo.finish_run(s, run)
    return ids


def test_split_instance() -> None:
    assert split_instance("lfm") == ("lfm", ())
    assert split_instance("lfm[dim=32,lr=0.01]") == ("lfm", ("dim=32", "lr=0.01"))
    assert split_instance('x[a=[1, 2],b="p,q",c={"k": 1}]') == ("x", ("a=[1, 2]", 'b="p,q"', 'c={"k": 1}'))


def test_read_model_holds_every_identity_field(storage: Storage) -> None:
    ids = _store(storage)
    results = load(storage)
    assert results.source == storage.display_url
    cells = {c.id: c for c in results.cells}
    plain = cells[ids["plain0"]]
    assert plain.config_hash == _ident(0).config_hash and plain.benchmark == "bench" and plain.seed == 0 and plain.k == 100
    assert (plain.recommender.instance, plain.recommender.name, plain.recommender.version) == ("lfm[dim=8]", "lfm", "1")
    assert plain.recommender.params == {"dim": 8, "lr": 0.01} and plain.recommender.given == ("dim=8",)
    assert plain.attack.version == "2" and plain.tune is None and plain.tuning_text == "untuned"
    assert plain.data_fingerprint == "f" * 64 and plain.diagnostics == {"epochs_run": 3.0}
    assert plain.curves["victim"][1] == {"epoch": 2, "loss": 1.0} and plain.versions["torch"] == "2.13.0"
    assert plain.metrics == {"attack.auc": 0.8, "defended.ndcg@10": 0.3} and plain.threats == ("membership",)
    assert plain.run is not None and plain.run.spec_text == 'name = "bench"\n' and plain.run.options == {"device": "cpu"}
    # seeds of one setup share a setup hash; any other identity field parts them
    assert plain.setup_hash == cells[ids["plain1"]].setup_hash
    setups = {cells[ids[k]].setup_hash for k in ("plain0", "noise0", "tuned3", "tuned5-0", "other")}
    assert len(setups) == 5 and cells[ids["tuned5-0"]].setup_hash == cells[ids["tuned5-1"]].setup_hash
    tuned = cells[ids["tuned3"]]
    assert tuned.tuning_text == "attack tuned, 3 trials on attack.shadow_auc" and tuned.trial_count == 2
    assert [t.number for t in tuned.trials] == [0, 1] and tuned.best_trial().params == {"lr": 0.01}
    failed = cells[ids["failed"]]
    assert failed.status == "failed" and failed.last_failure == {"error": "older"} and failed.metrics == {}
    with pytest.raises(AttributeError):
        plain.seed = 3  # type: ignore[misc]  # frozen records
    assert [c.benchmark for c in load(storage, benchmark="other").cells] == ["other"]


def test_export_carries_identity(storage: Storage, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _store(storage)
    assert main(["results", "--db", db_url]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == f"recsec: reading {storage.display_url}"
    rows = {int(r["config_hash"] == _ident(0).config_hash): r for r in csv.DictReader(io.StringIO(out))}
    row = rows[1]
    assert row["recommender_params"] == '{"dim":8,"lr":0.01}' and row["attack_version"] == "2"
    assert row["k"] == "100" and row["tune"] == "" and row["data_fingerprint"] == "f" * 64
    assert json.loads(row["versions"])["torch"] == "2.13.0" and row["diag.epochs_run"] == "3.0"
    assert main(["results", "--db", db_url, "--format", "json"]) == 0
    by_id = {r["config_hash"]: r for r in json.loads(capsys.readouterr().out)}
    tuned = by_id[_ident(0, tune=TUNE3).config_hash]
    assert tuned["tune"] == TUNE3 and tuned["n_trials"] == 2 and tuned["attack.auc"] == 0.9
    assert tuned["setup_hash"] != by_id[_ident(0, tune=TUNE5).config_hash]["setup_hash"]
    assert len(by_id) == len(ids)


def test_summary_keeps_configurations_apart(storage: Storage, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store(storage)
    assert main(["results", "--db", db_url, "--summary", "attack.auc", "--format", "json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    by = {(g["benchmark"], g["defense"], g["k"], g["tuning"]): g for g in groups}
    assert len(groups) == len(by) == 5
    plain = by[("bench", "none", 100, "untuned")]
    assert plain["n"] == 2 and plain["seeds"] == [0, 1]
    assert plain["attack.auc"]["mean"] == pytest.approx(0.7) and plain["attack.auc"]["std"] == pytest.approx(statistics.stdev([0.8, 0.6]))
    assert by[("bench", "none", 100, "attack tuned, 3 trials on attack.shadow_auc")]["seeds"] == [0]
    assert by[("bench", "none", 100, "attack tuned, 5 trials on attack.shadow_auc")]["seeds"] == [0, 1]
    assert by[("other", "none", 50, "untuned")]["n"] == 1
    assert main(["results", "--db", db_url, "--summary", "attack.auc"]) == 0
    header, _, *lines = capsys.readouterr().out.splitlines()
    assert header == "| benchmark | dataset | recommender | attack | defense | k | tuning | setup | n | seeds | attack.auc |"
    assert len(lines) == 5 and sum("| 2 | 0,1 |" in line for line in lines) == 2
    assert main(["results", "--db", db_url, "--summary", "attack.auc", "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["seeds"] for r in parsed} == {"0 1", "0"} and all(len(r["setup"]) == 12 for r in parsed)
    # paired: each setup against the setup that differs only in its defense
    assert main(["results", "--db", db_url, "--summary", "attack.auc", "--paired", "defense=none", "--format", "json"]) == 0
    (pair,) = json.loads(capsys.readouterr().out)
    assert pair["defense"] == "noise[s=0.1]" and pair["seeds"] == [0] and pair["diff.attack.auc"]["mean"] == pytest.approx(0.5 - 0.8)


def test_read_commands_never_create_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing.db"
    for argv in (["results"], ["results", "--summary", "attack.auc"], ["report", "--out", str(tmp_path / "site")], ["db", "current"]):
        assert main([*argv, "--db", f"sqlite:///{missing}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"no database at {missing}" in err, err
    assert not missing.exists() and not (tmp_path / "site").exists()


def test_read_commands_refuse_a_schema_behind(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import inspect

    # an empty database: no schema at all (an empty SQLite file is one)
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).touch()
    for argv in (["results"], ["report", "--out", "unused-site"]):
        assert main([*argv, "--db", db_url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "holds no recsec results schema; run `recsec db upgrade --db " in err
    store = Storage(db_url)
    assert inspect(store.engine).get_table_names() == []  # nothing was created
    store.upgrade("0001")
    for argv in (["results"], ["report", "--out", "unused-site"]):
        assert main([*argv, "--db", db_url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "has schema 0001, behind this recsec's 0003; run `recsec db upgrade --db " in err
    assert store.current_revision() == "0001"  # and nothing was migrated
    store.dispose()
    assert not Path("unused-site").exists()


def test_db_needs_an_action_and_report_needs_a_folder(storage: Storage, db_url: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["db"])
    assert exc.value.code == 2 and "ACTION" in capsys.readouterr().err
    target = tmp_path / "site.html"
    target.write_text("mine")
    assert main(["report", "--db", db_url, "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a file is there, not a folder" in err and target.read_text() == "mine"
    assert main(["report", "--db", db_url, "--out", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").is_file()


def test_load_results_and_trials_as_dataframes(storage: Storage, db_url: str) -> None:
    import pandas as pd

    import recsec

    ids = _store(storage)
    frame = recsec.load_results(db_url)
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(ids)
    for column in ("config_hash", "setup_hash", "benchmark", "dataset", "recommender_params", "attack_version", "seed", "k",
                   "tune", "data_fingerprint", "status", "attack.auc", "defended.ndcg@10", "diag.epochs_run"):
        assert column in frame.columns, column
    assert frame["attack.auc"].dtype == float and frame["attack.auc"].isna().sum() == 1  # the failed cell
    plain = frame[frame["tune"].isna() & (frame["benchmark"] == "bench") & (frame["defense"] == "none") & (frame["status"] == "done")]
    assert sorted(plain["seed"]) == [0, 1] and plain["setup_hash"].nunique() == 1
    assert plain.groupby("setup_hash")["attack.auc"].mean().iloc[0] == pytest.approx(0.7)
    assert len(recsec.load_results(db_url, benchmark="other")) == 1

    trials = recsec.load_trials(db_url)
    assert len(trials) == 6 and {"config_hash", "seed", "tune", "trial", "state", "value", "param.lr", "attack.shadow_auc"} <= set(trials.columns)
    assert sorted(trials["param.lr"].unique()) == [0.01, 0.1] and set(trials["value"]) == {0.5, 0.7}


def test_import_recsec_stays_light() -> None:
    """The API names resolve lazily: importing recsec (or naming them) loads no pandas or SQLAlchemy."""
    code = "import sys, recsec; recsec.load_results; print([m for m in ('pandas', 'sqlalchemy', 'torch') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert {"load_results", "load_trials"} <= set(dir(__import__("recsec")))


def test_plugins_lists_descriptions_and_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("recsec ") and "components from" in out[0]
    header = next(line for line in out if line.strip().startswith("NAME"))
    assert header.split() == ["NAME", "VERSION", "PLUGIN", "DESCRIPTION"]
    (lfm,) = [line for line in out if line.split()[:1] == ["lfm"]]
    assert "Latent factor model" in lfm and lfm.split()[1] == "1"


# -- moved from test_runner.py: summaries of what the runner stores (its toy spec and helper) ------


def test_results_summary_aggregates_seeds_per_setup(toy_registry, storage, tmp_path, db_url, capsys):
    _run(SPEC, toy_registry, storage, tmp_path)
    cells = load(storage).cells
    hits = [c.metrics["attack.agr@10"] for c in cells if c.defense.instance == "none" and c.attack.instance == "toy-probe[n_queries=10]"]
    assert len(hits) == 2

    assert main(["results", "--db", db_url, "--summary", "attack.agr@10", "--format", "json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert len(groups) == 4 and all(g["seeds"] == [0, 1] and g["n"] == 2 for g in groups)
    g = next(g for g in groups if g["defense"] == "none" and g["attack"] == "toy-probe[n_queries=10]")
    assert g["attack.agr@10"]["mean"] == pytest.approx(statistics.fmean(hits))
    assert g["attack.agr@10"]["std"] == pytest.approx(statistics.stdev(hits)) and g["attack.agr@10"]["n"] == 2

    assert main(["results", "--db", db_url, "--summary", "attack.agr@10", "utility.hr@10"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].endswith("| n | seeds | attack.agr@10 | utility.hr@10 |") and len(table) == 6
    assert all(" ± " in line and "| 2 | 0,1 |" in line for line in table[2:])
    assert main(["results", "--db", db_url, "--summary", "attack.agr@100"]) == 2
    assert "no stored metric 'attack.agr@100'; stored: " in capsys.readouterr().err


def test_results_paired_differences_by_seed(toy_registry, storage, tmp_path, db_url, capsys):
    from recsec.errors import RecsecError
    from recsec.reports.summary import paired

    _run(SPEC, toy_registry, storage, tmp_path)
    cells = load(storage).cells
    by = {(c.attack.instance, c.defense.instance, c.seed): c for c in cells}

    def diff(attack: str, seed: int, metric: str = "defended.hr@10") -> float:  # reversing costs utility: non-zero
        return by[(attack, "toy-reverse", seed)].metrics[metric] - by[(attack, "none", seed)].metrics[metric]

    attack = "toy-probe[n_queries=10]"
    # drop one baseline seed: only seed 0 can then be paired for that attack
    kept = [c for c in cells if not (c.attack.instance == attack and c.defense.instance == "none" and c.seed == 1)]
    groups = paired(kept, ["defended.hr@10", "attack.agr@10"], "defense=none")
    assert {g["defense"] for g in groups} == {"toy-reverse"} and len(groups) == 2
    g = next(g for g in groups if g["attack"] == attack)
    assert diff(attack, 0) != 0 and g["seeds"] == [0] and g["diff.defended.hr@10"].n == 1
    assert g["diff.defended.hr@10"].mean == pytest.approx(diff(attack, 0))
    other = next(g for g in groups if g["attack"] != attack)
    diffs = [diff(other["attack"], s) for s in (0, 1)]
    assert other["seeds"] == [0, 1] and other["diff.defended.hr@10"].mean == pytest.approx(sum(diffs) / 2)
    assert other["diff.defended.hr@10"].std == pytest.approx(abs(diffs[0] - diffs[1]) / 2**0.5)
    # the baseline may also be another instance; a bare name must stand for one stored instance
    assert {g["attack"] for g in paired(kept, ["attack.agr@10"], "attack=toy-probe[n_queries=5]")} == {attack}
    for bad, says in (("attack=toy-probe", "ambiguous"), ("defense=gro", "matches none"), ("seed=0", "FIELD=VALUE")):
        with pytest.raises(RecsecError, match=says):
            paired(kept, ["attack.agr@10"], bad)

    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none", "--format", "json"]) == 0
    out = {g["attack"]: g for g in json.loads(capsys.readouterr().out)}
    assert len(out) == 2 and all(g["seeds"] == [0, 1] and g["diff.defended.hr@10"]["n"] == 2 for g in out.values())
    agg = out[attack]["diff.defended.hr@10"]
    assert agg["mean"] == pytest.approx((diff(attack, 0) + diff(attack, 1)) / 2)
    # the 95% interval of the mean difference: t(0.975, 1 df) = 12.7062 standard errors either side
    half = 12.7062 * agg["std"] / 2**0.5
    assert agg["ci95"] == pytest.approx([agg["mean"] - half, agg["mean"] + half], rel=1e-4)
    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].endswith("| seeds | diff.defended.hr@10 |")
    assert all(line.count(" ± ") == 1 and line.rstrip(" |").endswith("]") for line in table[2:])
    assert main(["results", "--db", db_url, "--summary", "defended.hr@10", "--paired", "defense=none", "--format", "csv"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.endswith("diff.defended.hr@10_n,diff.defended.hr@10_ci95_low,diff.defended.hr@10_ci95_high")
    values = [[float(x) for x in line.split(",")[-5:]] for line in lines]  # mean, std, n, low, high
    assert len(values) == 2 and all(low <= mean <= high for mean, _, _, low, high in values)
    with pytest.raises(SystemExit):
        main(["results", "--db", db_url, "--paired", "defense=none"])
    assert "--paired needs --summary" in capsys.readouterr().err
