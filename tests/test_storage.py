"""The storage layer on SQLite and PostgreSQL: migrations, transactions, cells, export.

Fixtures (``storage``, ``db_url``, ``sqlite_url``, ``pg_url``) come from tests/db_fixtures.py.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from recsec.errors import RecsecError
from recsec.storage import repository as repo
from recsec.storage.db import VERSION_TABLE, Storage, StorageError, migrations_dir, normalize_url
from recsec.storage.models import Artifact, Base, Cell, Metric, Run, Trial

RECSEC_TABLES = {"recsec_runs", "recsec_cells", "recsec_metrics", "recsec_trials", "recsec_artifacts", "recsec_cell_events"}


def ident(n: int = 1, *, benchmark: str = "bench", seed: int = 0) -> repo.CellIdentity:
    return repo.CellIdentity(
        config_hash=f"hash{n}-{benchmark}-{seed}",
        benchmark=benchmark,
        dataset="ml-100k",
        recommender=f"rec{n}",
        attack="extraction",
        defense="none",
        seed=seed,
        config={"recommender": {"name": f"rec{n}", "params": {"dim": 8}}},
    )


def count(storage: Storage, model: type) -> int:
    with storage.transaction(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# -- migrations ---------------------------------------------------------------------------


def test_upgrade_from_empty_database_to_head(db_url: str) -> None:
    store = Storage(db_url)
    try:
        assert store.current_revision() is None
        assert not store.is_up_to_date()
        store.upgrade()
        assert store.current_revision() == store.head_revision() == "0003"
        assert store.is_up_to_date()
        tables = set(inspect(store.engine).get_table_names())
        assert tables == RECSEC_TABLES | {VERSION_TABLE}

        store.upgrade()  # already at head: nothing happens
        store.ensure_schema()
        assert store.current_revision() == "0003"
        assert set(inspect(store.engine).get_table_names()) == tables
    finally:
        store.dispose()


def test_a_database_written_before_judged_cells_still_opens(db_url: str) -> None:
    """A 0001 database with a finished cell upgrades in place; the cell keeps its metrics."""
    from sqlalchemy import text

    store = Storage(db_url)
    try:
        store.upgrade("0001")
        with store.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO recsec_cells (config_hash, benchmark, dataset, recommender, attack, defense, seed, "
                "config, status, metrics, timings, versions, hardware, created_at, updated_at) VALUES "
                "('h1', 'b', 'd', 'r', 'a', 'none', 0, '{}', 'done', '{\"attack.auc\": 0.9}', '{}', '{}', '{}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        store.upgrade()
        with store.transaction() as s:
            cell = repo.get_cell(s, "h1")
            assert cell.status == "done" and cell.metrics == {"attack.auc": 0.9}
            assert cell.diagnostics == {} and cell.curves == {} and cell.computations == 0
    finally:
        store.dispose()


def test_migration_matches_models_exactly(storage: Storage) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with storage.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(storage: Storage) -> None:
    storage.downgrade("base")
    assert storage.current_revision() is None
    assert not set(inspect(storage.engine).get_table_names()) & RECSEC_TABLES
    storage.ensure_schema()
    assert storage.is_up_to_date()


def test_migrations_dir_holds_env_and_versions() -> None:
    where = migrations_dir()
    assert (where / "env.py").is_file()
    assert (where / "script.py.mako").is_file()
    assert (where / "versions" / "0001_initial.py").is_file()
    assert not (where / "__init__.py").exists(), "alembic/ must stay a namespace package"


# -- transactions and constraints ----------------------------------------------------------


def test_transaction_rollback_leaves_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with storage.transaction() as s:
            run_id = repo.start_run(s, "bench")
            repo.save_done(s, ident(), {"acc": 0.5}, run_id=run_id)
            raise RuntimeError("boom")
    assert count(storage, Run) == count(storage, Cell) == count(storage, Metric) == 0


def test_transaction_commits_and_objects_stay_usable(storage: Storage) -> None:
    with storage.transaction() as s:
        run_id = repo.start_run(s, "bench", spec_path="b.toml", options={"jobs": 2})
        run = s.get(Run, run_id)
    assert run is not None and run.status == "running" and run.options == {"jobs": 2}  # no expiry after commit
    with storage.transaction() as s:
        done = repo.finish_run(s, run_id, "interrupted")
    assert done.status == "interrupted" and done.finished_at is not None
    with pytest.raises(KeyError):
        with storage.transaction() as s:
            repo.finish_run(s, 9999)


def test_config_hash_is_unique(storage: Storage) -> None:
    fields = dict(benchmark="b", dataset="d", recommender="r", attack="a", defense="x", seed=0)
    with pytest.raises(IntegrityError):
        with storage.transaction() as s:
            s.add(Cell(config_hash="same", **fields))
            s.add(Cell(config_hash="same", **fields))
    assert count(storage, Cell) == 0


def test_foreign_keys_are_enforced(storage: Storage) -> None:
    with pytest.raises(IntegrityError):
        with storage.transaction() as s:
            s.add(Metric(cell_id=12345, name="acc", value=1.0))


# -- cells ----------------------------------------------------------------------------------


def test_claim_then_done(storage: Storage) -> None:
    with storage.transaction() as s:
        run_id = repo.start_run(s, "bench")
        assert repo.get_cell(s, ident().config_hash) is None
        claimed = repo.claim_cell(s, ident(), run_id=run_id)
        assert claimed.status == "running"
    with storage.transaction() as s:
        repo.save_done(
            s,
            ident().config_hash,  # a stored cell can be named by its hash
            {"agreement": 0.75, "hit@10": 0.5},
            timings={"train": 1.5},
            versions={"recsec": "0.1.0"},
            hardware={"device": "cpu"},
            victim_key="v" * 64,
            n_trials=3,
            study_name="study-1",
        )
    with storage.transaction(readonly=True) as s:
        cell = repo.get_cell(s, ident().config_hash)
        assert cell is not None
        assert cell.status == "done" and cell.run_id == run_id
        assert cell.metrics == {"agreement": 0.75, "hit@10": 0.5}
        assert {m.name: m.value for m in cell.metric_rows} == cell.metrics
        assert (cell.timings, cell.versions, cell.hardware) == ({"train": 1.5}, {"recsec": "0.1.0"}, {"device": "cpu"})
        assert (cell.victim_key, cell.n_trials, cell.study_name) == ("v" * 64, 3, "study-1")
        assert cell.config["recommender"]["params"] == {"dim": 8}


def test_resaving_a_cell_keeps_other_cells(storage: Storage) -> None:
    with storage.transaction() as s:
        repo.save_done(s, ident(1), {"a": 1.0, "b": 2.0})
        repo.save_done(s, ident(2), {"a": 10.0, "b": 20.0})
    with storage.transaction() as s:
        repo.save_done(s, ident(1), {"a": 3.0})
    with storage.transaction(readonly=True) as s:
        one, two = repo.get_cell(s, ident(1).config_hash), repo.get_cell(s, ident(2).config_hash)
        assert one is not None and two is not None
        assert {m.name: m.value for m in one.metric_rows} == {"a": 3.0}
        assert {m.name: m.value for m in two.metric_rows} == {"a": 10.0, "b": 20.0}
        assert two.status == "done"
    assert count(storage, Cell) == 2


def test_failed_cell_keeps_error_and_traceback(storage: Storage) -> None:
    def train_victim() -> None:
        raise ValueError("loss is NaN")

    with storage.transaction() as s:
        repo.save_done(s, ident(), {"acc": 0.9})
    try:
        train_victim()
    except ValueError as exc:
        with storage.transaction() as s:
            repo.save_failed(s, ident(), exc, timings={"train": 0.1})
    with storage.transaction(readonly=True) as s:
        cell = repo.get_cell(s, ident().config_hash)
        assert cell is not None and cell.status == "failed"
        assert cell.error == "ValueError: loss is NaN"
        assert cell.traceback is not None and "train_victim" in cell.traceback
        assert cell.metrics == {} and cell.metric_rows == []  # stale metrics removed


def test_cells_by_fields_hash_and_interrupted(storage: Storage) -> None:
    fields = dict(vars(ident()))
    with storage.transaction() as s:
        run_id = repo.start_run(s, "bench")
        repo.claim_cell(s, run_id=run_id, **fields)  # the identity's fields as keywords
        repo.save_skipped(s, reason="not applicable", **dict(vars(ident(2))))
        with pytest.raises(TypeError):
            repo.claim_cell(s, ident(), **fields)
        with pytest.raises(TypeError):
            repo.claim_cell(s, config_hash="incomplete")
    with storage.transaction() as s:
        repo.save_failed(s, fields["config_hash"], "interrupted", "KeyboardInterrupt", status="pending")
        repo.save_trials(s, fields["config_hash"], [{"number": 0, "value": 0.5}])
        with pytest.raises(LookupError, match="never-stored"):
            repo.save_done(s, "never-stored", {"acc": 1.0})
    with storage.transaction(readonly=True) as s:
        cell, skipped = repo.get_cell(s, fields["config_hash"]), repo.get_cell(s, ident(2).config_hash)
        assert cell is not None and skipped is not None
        assert (cell.status, cell.error, cell.run_id, len(cell.trials)) == ("pending", "interrupted", run_id, 1)
        assert (skipped.status, skipped.skip_reason) == ("skipped", "not applicable")


def test_skipped_cell_and_list_filters(storage: Storage) -> None:
    with storage.transaction() as s:
        repo.save_skipped(s, ident(1), "attack needs scores; recommender returns ranks only")
        repo.save_done(s, ident(2), {"acc": 1.0})
        repo.save_failed(s, ident(3), "out of memory", "Traceback ...")
        repo.save_done(s, ident(1, benchmark="other"), {"acc": 0.0})
    with storage.transaction(readonly=True) as s:
        skipped = repo.list_cells(s, status="skipped")
        assert [c.skip_reason for c in skipped] == ["attack needs scores; recommender returns ranks only"]
        assert len(repo.list_cells(s, benchmark="bench")) == 3
        assert [c.recommender for c in repo.list_cells(s, benchmark="bench", status=["done", "failed"])] == ["rec2", "rec3"]
        assert len(repo.list_cells(s)) == 4


def test_trials_are_stored_and_replaced(storage: Storage) -> None:
    trials = [
        {"number": 1, "state": "COMPLETE", "value": 0.4, "params": {"lr": 0.01}, "metrics": {"acc": 0.4}},
        {"number": 0, "state": "COMPLETE", "value": 0.6, "params": {"lr": 0.1}},
        {"number": 2, "state": "FAIL", "value": float("nan"), "params": {"lr": 1.0}},
    ]
    with storage.transaction() as s:
        repo.save_done(s, ident(), {"acc": 0.6}, n_trials=3, trials=trials)
    with storage.transaction(readonly=True) as s:
        cell = repo.get_cell(s, ident().config_hash)
        assert cell is not None
        assert [(t.number, t.state, t.value) for t in cell.trials] == [(0, "COMPLETE", 0.6), (1, "COMPLETE", 0.4), (2, "FAIL", None)]
        assert cell.trials[1].params == {"lr": 0.01} and cell.trials[1].metrics == {"acc": 0.4}
    with storage.transaction() as s:
        cell = repo.get_cell(s, ident().config_hash)
        assert cell is not None
        repo.save_trials(s, cell, [{"value": 1.0}])
    assert count(storage, Trial) == 1


def test_non_finite_and_numpy_values_are_cleaned(storage: Storage) -> None:
    np = pytest.importorskip("numpy")
    with storage.transaction() as s:
        repo.save_done(s, ident(), {"acc": np.float32(0.5), "bad": math.inf, "n": np.int64(3)}, timings={"x": float("nan")})
    with storage.transaction(readonly=True) as s:
        cell = repo.get_cell(s, ident().config_hash)
        assert cell is not None
        assert cell.metrics == {"acc": 0.5, "bad": None, "n": 3.0}
        assert {m.name for m in cell.metric_rows} == {"acc", "n"}
        assert cell.timings == {"x": None}


def test_artifacts(storage: Storage) -> None:
    with storage.transaction() as s:
        repo.record_artifact(s, "k1", kind="victim", path="/tmp/a.pt", sha256="0" * 64, meta={"epochs": 2})
        assert repo.get_artifact(s, "missing") is None
    with storage.transaction() as s:
        repo.record_artifact(s, "k1", kind="victim", path="/tmp/b.pt", sha256="1" * 64)
    with storage.transaction(readonly=True) as s:
        art = repo.get_artifact(s, "k1")
        assert art is not None and (art["kind"], art["path"], art["sha256"], art["meta"]) == ("victim", "/tmp/b.pt", "1" * 64, {})
    assert count(storage, Artifact) == 1


# -- export -----------------------------------------------------------------------------------


def test_export_csv_and_json(storage: Storage) -> None:
    """The repository's export is the read model's (recsec.tables): identity first, then metrics."""
    with storage.transaction() as s:
        repo.save_done(s, ident(2), {"agreement": 0.25, "status": 7.0})
        repo.save_done(s, ident(1), {"agreement": 0.5, "auc": 0.75})
        repo.save_failed(s, ident(3), "boom")
        repo.save_done(s, ident(9, benchmark="other"), {"zzz": 1.0})
    with storage.transaction(readonly=True) as s:
        rows = repo.export_rows(s, benchmark="bench")
        done = repo.export_rows(s, benchmark="bench", status="done")
        text_csv = repo.export(s, "csv", benchmark="bench")
        text_json = repo.export(s, "json", benchmark="bench")
        with pytest.raises(ValueError):
            repo.export(s, "xml")  # type: ignore[arg-type]

    assert [r["recommender"] for r in rows] == ["rec1", "rec2", "rec3"] and len(done) == 2
    first = rows[0]
    assert (first["config_hash"], first["benchmark"], first["dataset"], first["attack"], first["seed"]) == (
        "hash1-bench-0", "bench", "ml-100k", "extraction", 0)
    assert first["recommender_params"] == {"dim": 8} and first["status"] == "done"
    assert (first["agreement"], first["auc"], first["metric:status"]) == (0.5, 0.75, None)
    assert rows[2]["status"] == "failed" and rows[2]["agreement"] is None and rows[2]["error"] == "boom"

    parsed = list(csv.DictReader(io.StringIO(text_csv)))
    header = text_csv.splitlines()[0].split(",")
    assert header[:3] == ["config_hash", "setup_hash", "benchmark"]
    assert header[-3:] == ["agreement", "auc", "metric:status"]
    assert len(parsed) == 3 and parsed[0]["recommender_params"] == '{"dim":8}'
    assert parsed[1]["recommender"] == "rec2" and float(parsed[1]["agreement"]) == 0.25 and parsed[1]["auc"] == ""
    assert [r["config_hash"] for r in json.loads(text_json)] == [r["config_hash"] for r in rows]


def test_export_of_empty_database(storage: Storage) -> None:
    with storage.transaction(readonly=True) as s:
        assert repo.export(s, "csv").strip().startswith("config_hash,setup_hash,benchmark,dataset,")
        assert json.loads(repo.export(s, "json")) == []


# -- read-only opening ---------------------------------------------------------------------------


def test_readonly_storage_never_creates_or_writes(db_url: str, tmp_path) -> None:
    """What `recsec results` and `recsec report` open: nothing is created, migrated or written."""
    from sqlalchemy import text

    from recsec.storage.db import StorageError

    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match=f"no database at {missing}"):
        Storage(f"sqlite:///{missing}", readonly=True)
    assert not missing.exists()
    with Storage(db_url) as writer:
        writer.upgrade()
    reader = Storage(db_url, readonly=True)
    assert reader.check_schema() is reader
    with pytest.raises(Exception, match="(?i)read.?only"):
        with reader.transaction(readonly=True) as s:
            s.execute(text("INSERT INTO recsec_runs (benchmark, spec_path, spec_text, status, recsec_version, started_at,"
                           " hardware, options) VALUES ('x', '', '', 'running', '', CURRENT_TIMESTAMP, '{}', '{}')"))
    with pytest.raises(StorageError, match="opened read-only"):
        reader.upgrade()
    reader.dispose()


def test_check_schema_names_the_upgrade_command(db_url: str) -> None:
    from recsec.storage.db import StorageError

    store = Storage(db_url)
    store.upgrade("0001")
    with pytest.raises(StorageError, match=r"has schema 0001, behind this recsec's 0003; run `recsec db upgrade --db "):
        store.check_schema()
    store.upgrade()
    assert store.check_schema() is store
    store.dispose()


# -- connection settings and errors ------------------------------------------------------------


def test_sqlite_pragmas(sqlite_url: str) -> None:
    store = Storage(sqlite_url).ensure_schema()
    try:
        with store.transaction(readonly=True) as s:
            assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.dispose()


def test_url_defaults_and_rewrites(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert normalize_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"

    monkeypatch.chdir(tmp_path)
    assert Storage().url == "sqlite:///recsec.db"
    monkeypatch.setenv("RECSEC_DB", "postgres://someone@db.example/results")
    assert Storage().url == "postgresql+psycopg://someone@db.example/results"
    assert Storage("sqlite:///explicit.db").url == "sqlite:///explicit.db"


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("not a url", "not a url"),
        ("nosuchdb://host/x", "nosuchdb://host/x"),
    ],
)
def test_bad_url_is_a_clear_error(url: str, fragment: str) -> None:
    with pytest.raises(StorageError, match="URL") as info:
        Storage(url)
    assert fragment in str(info.value)
    assert isinstance(info.value, RecsecError)


def test_unreachable_server_names_the_url_without_password() -> None:
    store = Storage("postgresql://alice:s3cret@127.0.0.1:1/results?connect_timeout=2")
    with pytest.raises(StorageError) as info:
        store.ensure_schema()
    message = str(info.value)
    assert "postgresql+psycopg://alice:***@127.0.0.1:1/results" in message
    assert "s3cret" not in message
    with pytest.raises(StorageError):
        with store.transaction():
            pass


def test_sqlite_in_missing_directory(tmp_path) -> None:
    store = Storage(f"sqlite:///{tmp_path}/no/such/dir/recsec.db")
    with pytest.raises(StorageError, match="no/such/dir"):
        store.upgrade()
