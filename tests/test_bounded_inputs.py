"""Bounded inputs: a FIFO, a huge or deeply nested spec, a gzip bomb, an out-of-range flag, a
read-only or full database, a bad ``report --out``, a closed pipe and formula-like text in CSV
exports each end in one ``recsec: error:`` line (or an escaped field), never a hang, a traceback
or a memory blow-up, and the results database stays as it was."""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import signal
import subprocess
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_malformed_inputs import GOOD, U_DATA, _dump, _good_spec, _main, _run_args, _swap, check, world  # noqa: F401

from recsec import bounded


@contextmanager
def _deadline(seconds: float):
    """Fail instead of hanging (a FIFO opened for reading waits for a writer forever)."""

    def expired(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    before = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_fifo_spec_is_refused_not_waited_on(world, check, tmp_path, command):
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    extra = _run_args(world) if command == "run" else []
    with _deadline(10):
        check([command, str(fifo), *extra], re.escape(str(fifo)) + r": cannot read spec: not a regular file \(a FIFO\)")


def test_a_huge_spec_is_refused_before_it_is_read(world, check, tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text(GOOD + "#" * bounded.SPEC_MAX_BYTES + "\n")
    check(["validate", str(spec)], r"huge\.toml: cannot read spec: is 1\.0 MiB, over the 1\.0 MiB limit for a spec")


DEEP = [
    ("arrays-beyond-the-parser", "x = " + "[" * 600 + "]" * 600 + "\n" + GOOD,
     r"malformed TOML: arrays or tables nested too deeply to read"),
    ("tables-beyond-the-parser", "x = " + "{a = " * 600 + "1" + "}" * 600 + "\n" + GOOD,
     r"malformed TOML: arrays or tables nested too deeply to read"),
    ("grid-too-deep", _swap('"toy-probe[n_queries=5]"', '{name = "toy-probe", params = {n_queries = ' + "[" * 40 + "5" + "]" * 40 + "}}"),
     r"attacks\[0\]\.params\.n_queries(\[0\])+: nested more than 32 levels deep"),
    ("brackets-in-a-name", _swap("n_queries=5", "n_queries=" + "[" * 3000 + "]" * 3000),
     r"a value is nested too deeply \(brackets inside brackets\) to read"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in DEEP], ids=[c[0] for c in DEEP])
def test_deep_nesting_is_one_line(world, check, tmp_path, text, message):
    spec = tmp_path / "deep.toml"
    spec.write_text(text)
    check(["validate", str(spec)], re.escape(str(spec)) + ": " + message)


def _bomb(path: Path, inflated: int) -> None:
    """A gzip file of ``inflated`` zero bytes, written in chunks (it is about a thousand times smaller)."""
    with gzip.open(path, "wb", compresslevel=9) as g:
        zeros = bytes(1 << 20)
        for _ in range(inflated >> 20):
            g.write(zeros)


def test_a_gzip_bomb_is_refused_by_its_ratio(world, check, tmp_path):
    path = tmp_path / "data" / "ml-100k" / "u.data.gz"
    path.parent.mkdir(parents=True)
    _bomb(path, 24 << 20)  # 24 MiB of zeros in about 24 kB: refused after the first 16 MiB
    assert path.stat().st_size < 100_000
    check(["run", _good_spec(tmp_path, _swap('["toy-data"]', '["ml-100k"]')), *_run_args(world, tmp_path / "data")],
          r"u\.data\.gz: inflates to more than 16\.0 MiB from .* \(over 50 times its size\): refused as a possible gzip bomb")


def test_the_inflated_bytes_are_capped_while_reading(tmp_path, monkeypatch):
    """The bomb is never held whole: reading stops at the cap, so memory stays near it."""
    import tracemalloc

    path = tmp_path / "bomb.gz"
    _bomb(path, 64 << 20)
    monkeypatch.setattr(bounded, "GZIP_RATIO_FLOOR", 2 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(bounded.ReadRefused, match="possible gzip bomb"):
            bounded.read_data(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak  # 64 MiB inflated would need at least 64 MiB


def test_data_size_limits_come_from_the_environment(world, check, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "ml-100k").mkdir(parents=True)
    (data / "ml-100k" / "u.data").write_text(U_DATA + "31\t1\t1\t1\n")  # not the cached data: it is read
    spec = _good_spec(tmp_path, _swap('["toy-data"]', '["ml-100k"]'))
    monkeypatch.setenv("RECSEC_MAX_DATA_BYTES", "100")
    check(["run", spec, *_run_args(world, data)], r"u\.data: is .* KiB, over the 100 bytes limit for a data file")
    monkeypatch.setenv("RECSEC_MAX_DATA_BYTES", "lots")
    check(["run", spec, *_run_args(world, data)], r"u\.data: \$RECSEC_MAX_DATA_BYTES must be a positive whole number, got 'lots'")
    monkeypatch.delenv("RECSEC_MAX_DATA_BYTES")
    monkeypatch.setenv("RECSEC_MAX_GZIP_RATIO", "1")
    (data / "ml-100k" / "u.data").unlink()
    (data / "ml-100k" / "u.data.gz").write_bytes(gzip.compress(U_DATA.encode()))
    assert main_ok(["validate", spec, "--data-dir", str(data)])  # small files: no ratio check below the floor


def main_ok(argv: list[str]) -> bool:
    return _main(argv) == 0


FLAGS = [
    ("workers-negative", ["--workers", "-1"], r"argument --workers: must be 0 or more, got -1"),
    ("workers-nan", ["--workers", "nan"], r"argument --workers: expected a whole number, got 'nan'"),
    ("per-gpu-zero", ["--per-gpu", "0"], r"argument --per-gpu: must be 1 or more, got 0"),
    ("threads-negative", ["--threads", "-2"], r"argument --threads\S*: must be 0 or more, got -2"),
    ("trial-tasks-negative", ["--trial-tasks", "-1"], r"argument --trial-tasks: must be 0 or more"),
    ("lease-zero", ["--lease", "0"], r"argument --lease: must be a positive finite number of seconds, got '0'"),
    ("lease-negative", ["--lease", "-5"], r"argument --lease: must be a positive finite number of seconds, got '-5'"),
    ("lease-nan", ["--lease", "nan"], r"argument --lease: must be a positive finite number of seconds, got 'nan'"),
    ("lease-inf", ["--lease", "inf"], r"argument --lease: must be a positive finite number of seconds, got 'inf'"),
    ("lease-text", ["--lease", "soon"], r"argument --lease: must be a positive finite number of seconds, got 'soon'"),
    ("gpus-text", ["--gpus", "0,x"], r"argument --gpus: expected distinct GPU indices such as 0,1, got '0,x'"),
    ("gpus-negative", ["--gpus", "-1"], r"argument --gpus: expected distinct GPU indices"),
    ("gpus-twice", ["--gpus", "0,0"], r"argument --gpus: expected distinct GPU indices"),
]


@pytest.mark.parametrize("args, message", [c[1:] for c in FLAGS], ids=[c[0] for c in FLAGS])
def test_out_of_range_flags_are_one_line(world, check, tmp_path, args, message):
    with _deadline(30):
        check(["run", _good_spec(tmp_path), *_run_args(world), *args], r"run: " + message)


def _with_db(world, url: str) -> list[str]:
    args = _run_args(world)
    args[args.index("--db") + 1] = url
    return args


def _database_refuses(world, capsys, db: Path, argv: list[str], message: str) -> None:
    """The run announces itself, then the database refuses: the error is the last line, the only
    one, with no traceback, and nothing stored before is lost."""
    capsys.readouterr()
    assert _main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    errors = [ln for ln in lines if ln.startswith("recsec: error: ")]
    assert errors == lines[-1:] and not any("Traceback" in ln for ln in lines), lines
    assert re.search(message, errors[0]), errors[0]
    now = _dump(db)
    for table, rows in world["dump"].items():  # a row the run managed to add is not a loss
        assert now[table][: len(rows)] == rows, table


def test_a_read_only_database_is_one_line(world, check, tmp_path, capsys):
    url = f"sqlite:///file:{world['db']}?mode=ro&uri=true"
    spec = _good_spec(tmp_path, GOOD.replace('name = "corpus"', 'name = "more"'))  # a run with something to store
    _database_refuses(world, capsys, world["db"], ["run", spec, *_with_db(world, url)],
                      r"database .*: attempt to write a readonly database")


def test_a_full_database_is_one_line(world, check, tmp_path, capsys):
    """SQLite's page limit set to the file's size: the first page more is "database or disk is full"."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    db = tmp_path / "full.db"  # a copy: the rows this run manages to add must not reach the shared database
    with sqlite3.connect(world["db"]) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    with sqlite3.connect(db) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def cap(dbapi_connection, record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", cap)
    try:
        spec = _good_spec(tmp_path, GOOD.replace('name = "corpus"', 'name = "' + "x" * 199 + '"')
                          .replace("seeds = [0]", "seeds = [" + ", ".join(map(str, range(40))) + "]"))
        _database_refuses(world, capsys, db, ["run", spec, *_with_db(world, f"sqlite:///{db}")],
                          r"database .*: database or disk is full")
    finally:
        event.remove(Engine, "connect", cap)


def test_report_out_below_a_file_and_into_a_foreign_folder(world, check, tmp_path):
    db = ["--db", f"sqlite:///{world['db']}"]
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    check(["report", *db, "--out", str(a_file / "site")], r"report --out .*notes\.txt/site: .*notes\.txt is a file, so no folder")
    home = tmp_path / "home"
    home.mkdir()
    (home / "index.html").write_text("my own page")
    check(["report", *db, "--out", str(home)], r"report --out .*home: the folder holds files recsec did not write")
    assert (home / "index.html").read_text() == "my own page" and sorted(os.listdir(home)) == ["index.html"]
    # a folder recsec wrote is re-rendered, also an empty one
    for out in (tmp_path / "site", home / "empty"):
        if out.name == "empty":
            out.mkdir()
        assert _main(["report", *db, "--out", str(out)]) == 0
        assert _main(["report", *db, "--out", str(out)]) == 0
        assert (out / "index.html").is_file() and (out / ".recsec-site").is_file()
    assert _dump(world["db"]) == world["dump"]


def test_a_closed_pipe_is_one_line(world, tmp_path):
    """``recsec plugins --json | head -c 10``: the reader leaves early."""
    code = "import sys; from recsec.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "plugins", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 2, err
    assert err.splitlines() == ["recsec: error: the output was closed before all of it was written (broken pipe)"]


FORMULA_STARTS = ("=", "+", "@", "\t", "\r")  # and "-", which also starts negative numbers: they stay numbers
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tlead", "\rlead"]


def test_csv_exports_escape_formula_like_text(toy_registry, storage, db_url, tmp_path, capsys):
    """Benchmark names land in every CSV export; none may start a spreadsheet formula."""
    from recsec.cli import main
    from recsec.reports import render_site
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec
    from recsec.tables import csv_safe

    assert [csv_safe(v) for v in (-1.5, 3, None, "plain")] == [-1.5, 3, None, "plain"]
    name = FORMULAS[0]
    text = GOOD.replace('name = "corpus"', "name = '" + name + "'")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None)
    assert Runner(parse_spec(text, toy_registry, "f.toml"), storage, opts).run().counts["done"] == 1
    assert main(["results", "--db", db_url, "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["benchmark"] == "'" + name
    site = render_site(storage, tmp_path / "site")
    csv_files = sorted((site / "data").glob("*.csv"))
    assert csv_files
    for path in csv_files:
        for record in csv.reader(io.StringIO(path.read_text())):
            assert not any(field.startswith(FORMULA_STARTS) for field in record), (path.name, record)
    for value in FORMULAS:
        assert csv_safe(value) == "'" + value


def test_fifo_and_directory_reads_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with _deadline(10):
        with pytest.raises(bounded.ReadRefused, match=r"not a regular file \(a FIFO\)"):
            bounded.read_data(fifo)
        with pytest.raises(bounded.ReadRefused, match="Is a directory"):
            bounded.read_limited(tmp_path, 10)
        from recsec.datacache import sha256_file

        with pytest.raises(bounded.ReadRefused, match="FIFO"):
            sha256_file(fifo)


def test_damaged_gzip_is_still_named(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"1 2\n" * 1000)[:-12])
    with pytest.raises(bounded.DAMAGED_GZIP):
        bounded.read_data(path)
    path.write_bytes(b"\x1f\x8b" + zlib.compress(b"garbage"))
    with pytest.raises(bounded.DAMAGED_GZIP):
        bounded.read_data(path)
