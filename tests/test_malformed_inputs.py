"""A corpus of malformed specs, data files and command-line arguments: each gives exactly one
line on stderr, ``recsec: error: ...`` naming the file, field or component, exit status 2, and
leaves a results database populated by a real run exactly as it was."""

from __future__ import annotations

import gzip
import re
import sqlite3
from pathlib import Path

import pytest

from recsec.cli import main
from recsec.registry import load_registry

THIRDPARTY = Path(__file__).parent / "thirdparty"

GOOD = """
datasets = ["toy-data"]
recommenders = ["toy-popular"]
attacks = ["toy-probe[n_queries=5]"]
defenses = ["none"]

[benchmark]
name = "corpus"
seeds = [0]
"""
U_DATA = "".join(f"{u}\t{(u * 7 + j) % 25 + 1}\t{1 + j % 5}\t{1000 + 10 * j}\n" for u in range(1, 31) for j in range(6))


def _with(**bench: str) -> str:
    """GOOD with [benchmark] keys replaced or added (values as TOML text)."""
    lines = GOOD.replace('name = "corpus"\n', "").replace("seeds = [0]\n", "")
    table = {"name": '"corpus"', "seeds": "[0]", **bench}
    return lines + "".join(f"{k} = {v}\n" for k, v in table.items())


def _swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


TUNE = GOOD.replace('"toy-probe[n_queries=5]"', '"toy-probe"') + "\n[tune]\n"

# (id, spec text or bytes, regex the one error line must match after "recsec: error: <file>: ")
SPECS = [
    ("lfm-dim-0", _swap('"toy-popular"', '"lfm[dim=0]"'), r"recommenders\[0\]: recommender 'lfm': parameter 'dim': 0 is out of range: must be in \[1, inf\)"),
    ("lfm-lr-negative", _swap('"toy-popular"', '"lfm[lr=-1]"'), r"recommenders\[0\]: .*'lr': -1\.0 is out of range: must be in \(0, inf\)"),
    ("mlp-epochs-negative", _swap('"toy-probe[n_queries=5]"', '"mia-zhang[mlp_epochs=-1]"'), r"attacks\[0\]: attack 'mia-zhang': parameter 'mlp_epochs': -1 is out of range"),
    ("ratio-5", _swap('["none"]', '["popularity-randomization[ratio=5.0]"]'), r"defenses\[0\]: .*'ratio': 5\.0 is out of range: must be in \(0, 1\]"),
    ("thirdparty-range", _swap("n_queries=5", "n_queries=1"), r"attacks\[0\]: attack 'toy-probe': parameter 'n_queries': 1 is out of range: must be in \[2, 20\]"),
    ("synthetic-no-users", _swap('"toy-data"', '"synthetic[n_users=0]"'), r"datasets\[0\]: dataset 'synthetic': parameter 'n_users'"),
    ("gro-negative-lambda", _swap('["none"]', '["gro[lam=-0.1]"]'), r"defenses\[0\]: defense 'gro': parameter 'lam'"),
    ("fraction-above-1", _swap('["none"]', '["random-replacement[fraction=1.5]"]'), r"defenses\[0\]: .*'fraction': 1\.5 is out of range: must be in \[0, 1\]"),
    ("int-param-overflow", _swap('"toy-popular"', '"lfm[dim=1e300]"'), r"recommenders\[0\]: .*'dim': 1e\+300 does not fit a 64-bit integer"),
    ("param-wrong-type", _swap("n_queries=5", "n_queries=many"), r"attacks\[0\]: .*'n_queries': expected an integer, got 'many'"),
    ("string-param-nul", _swap('["toy-popular"]', '[{name = "sasrec", params = {checkpoint = "a\\u0000b"}}]'), r"recommenders\[0\]: .*'checkpoint': the value contains the control character '\\x00'"),
    ("unknown-param", _swap("n_queries=5", "n_querys=5"), r"attacks\[0\]: .*unknown parameter 'n_querys'"),
    ("unknown-component", _swap('"toy-popular"', '"toy-popularr"'), r"recommenders\[0\]: unknown recommender 'toy-popularr'"),
    ("params-not-a-table", GOOD.replace('attacks = ["toy-probe[n_queries=5]"]\n', "") + '\n[[attacks]]\nname = "toy-probe"\nparams = 5\n', r"attacks\[0\]\.params: must be a table"),
    ("empty-grid", GOOD.replace('attacks = ["toy-probe[n_queries=5]"]\n', "") + '\n[[attacks]]\nname = "toy-probe"\nparams = { n_queries = [] }\n', r"attacks\[0\]\.params\.n_queries: an empty list"),
    ("tune-timeout-text", TUNE + 'timeout = "abc"\n', r"tune\.timeout: must be a positive number of seconds, got 'abc'"),
    ("tune-timeout-negative", TUNE + "timeout = -5\n", r"tune\.timeout: must be a positive number"),
    ("tune-sampler-seed-text", TUNE + 'sampler_seed = "x"\n', r"tune\.sampler_seed: must be an integer from 0 to 4294967295, got 'x'"),
    ("tune-sampler-seed-negative", TUNE + "sampler_seed = -1\n", r"tune\.sampler_seed: must be an integer from 0"),
    ("tune-trials-float", TUNE + "n_trials = 1.5\n", r"tune\.n_trials: must be an integer from 1 to 2147483647, got 1\.5"),
    ("tune-trials-too-many", TUNE + "n_trials = 2147483648\n", r"tune\.n_trials: must be an integer from 1 to 2147483647"),
    ("tune-direction", TUNE + 'direction = "up"\n', r"tune\.direction: must be 'maximize' or 'minimize'"),
    ("tune-params-empty", TUNE + "params = []\n", r"tune\.params: must be a non-empty list"),
    ("tune-metric-number", TUNE + "metric = 5\n", r"tune\.metric: must be a metric name"),
    ("tune-component", TUNE + 'component = "recommender"\n', r"tune\.component: must be 'attack' or 'defense'"),
    ("tune-nothing-to-search", GOOD + "\n[tune]\n", r"tune: toy-probe\[n_queries=5\] has nothing to search"),
    ("device-tpu", _with(device='"tpu"'), r"benchmark\.device: unknown device 'tpu': use auto, cpu, cuda or cuda:N"),
    ("device-number", _with(device="3"), r"benchmark\.device: must be a string, got 3"),
    ("device-cuda-letter", _with(device='"cuda:x"'), r"benchmark\.device: unknown device 'cuda:x'"),
    ("seed-above-int32", _with(seeds="[2147483648]"), r"benchmark\.seeds: seed 2147483648 does not fit a 32-bit signed integer"),
    ("seed-below-int32", _with(seeds="[-2147483649]"), r"benchmark\.seeds: seed -2147483649 does not fit"),
    ("seeds-empty", _with(seeds="[]"), r"benchmark\.seeds: must be a non-empty list of integers"),
    ("seeds-bool", _with(seeds="[true]"), r"benchmark\.seeds: must be a non-empty list of integers"),
    ("name-too-long", _with(name='"' + "x" * 201 + '"'), r"benchmark\.name: is 201 characters long; at most 200"),
    ("name-nul", _with(name='"a\\u0000b"'), r"benchmark\.name: contains the control character '\\x00'"),
    ("name-newline", _with(name='"a\\nb"'), r"benchmark\.name: contains the control character '\\n'"),
    ("name-empty", _with(name='""'), r"benchmark\.name: must be a non-empty string"),
    ("description-number", _with(description="5"), r"benchmark\.description: must be a string"),
    ("k-zero", _with(k="0"), r"benchmark\.k: must be an integer from 1 to 2147483647, got 0"),
    ("k-text", _with(k='"ten"'), r"benchmark\.k: must be an integer"),
    ("unknown-benchmark-key", _with(seed="0"), r"benchmark: unknown key\(s\) 'seed'"),
    ("unknown-top-level", "extra = 1\n" + GOOD, r"top level: unknown key\(s\) 'extra'"),
    ("malformed-toml", GOOD + "[benchmark\n", r"malformed TOML: .*line"),
    ("raw-nul-byte", GOOD.replace('"corpus"', '"cor\x00pus"'), r"malformed TOML: Illegal character"),
    ("not-utf8", GOOD.encode().replace(b"corpus", b"corp\xffus"), r"line 8: not UTF-8 text \(byte 0xff\)"),
]


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code)


def _dump(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}


def _careless_plugin():
    """Datasets of a careless plugin author: raw Python errors from load and from fingerprint."""
    import types

    from recsec.dataset import Dataset
    from recsec.hookspecs import hookimpl

    class RawLoad(Dataset):
        """load() raises a bare ValueError."""

        name = "raw-load"

        def load(self, ctx):
            raise ValueError("column 3 is not a rating")

    class RawFingerprint(Dataset):
        """fingerprint() raises a bare KeyError."""

        name = "raw-fingerprint"

        def fingerprint(self, ctx=None):
            raise KeyError("path")

    def recsec_register_datasets(registry):
        registry.add_dataset(RawLoad)
        registry.add_dataset(RawFingerprint)

    mod = types.ModuleType("careless")
    mod.recsec_register_datasets = hookimpl(recsec_register_datasets)
    return mod


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A toy registry, a data directory and a database filled by a real two-cell run."""
    root = tmp_path_factory.mktemp("corpus")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(THIRDPARTY))
        mp.setenv("RECSEC_CACHE_DIR", str(root / "cache"))
        import recsec.registry
        import recsec_toy_plugin

        registry = load_registry(extra_plugins=[("recsec-toy", recsec_toy_plugin), ("careless", _careless_plugin())])
        mp.setattr(recsec.registry, "_DEFAULT", registry)
        (root / "data" / "ml-100k").mkdir(parents=True)
        (root / "data" / "ml-100k" / "u.data").write_text(U_DATA)
        spec = root / "populate.toml"
        spec.write_text(_swap('["toy-data"]', '["toy-data", "ml-100k"]'))
        db = root / "results.db"
        argv = ["run", str(spec), "--db", f"sqlite:///{db}", "--artifacts", str(root / "artifacts"),
                "--data-dir", str(root / "data"), "--no-download", "--no-progress"]
        assert main(argv) == 0
    dump = _dump(db)
    assert len(dump["recsec_cells"]) == 2 and all(row for row in dump["recsec_metrics"])
    return {"root": root, "db": db, "registry": registry, "dump": dump}


@pytest.fixture
def check(world, monkeypatch, capsys, tmp_path):
    """Run the CLI on ``argv`` and check the one-line error, the status and the untouched database."""
    import recsec.registry

    monkeypatch.setattr(recsec.registry, "_DEFAULT", world["registry"])
    monkeypatch.setenv("RECSEC_CACHE_DIR", str(world["root"] / "cache"))

    def run(argv: list[str], message: str) -> None:
        capsys.readouterr()
        status = _main(argv)
        lines = capsys.readouterr().err.splitlines()
        assert status == 2, lines
        assert len(lines) == 1 and lines[0].startswith("recsec: error: "), lines
        assert re.search(message, lines[0]), lines[0]
        assert _dump(world["db"]) == world["dump"]

    return run


def _run_args(world, data_dir: Path | None = None) -> list[str]:
    root = world["root"]
    return ["--db", f"sqlite:///{world['db']}", "--artifacts", str(root / "artifacts"),
            "--data-dir", str(data_dir or root / "data"), "--no-download", "--no-progress"]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("text, message", [case[1:] for case in SPECS], ids=[case[0] for case in SPECS])
def test_malformed_specs(world, check, tmp_path, command, text, message):
    spec = tmp_path / "bad.toml"
    spec.write_bytes(text if isinstance(text, bytes) else text.encode())
    extra = _run_args(world) if command == "run" else []
    check([command, str(spec), *extra], re.escape(str(spec)) + ": " + message)


def test_spec_path_problems(world, check, tmp_path):
    check(["validate", str(tmp_path / "missing.toml")], r"missing\.toml: cannot read spec: No such file")
    check(["run", str(tmp_path), *_run_args(world)], re.escape(str(tmp_path)) + r": cannot read spec: Is a directory")


def _good_spec(tmp_path: Path, text: str = GOOD) -> str:
    path = tmp_path / "good.toml"
    path.write_text(text)
    return str(path)


def _cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


ARGS = [
    ("device-tpu", ["--device", "tpu"], r"run: argument --device: unknown device 'tpu'"),
    ("device-cuda-letter", ["--device", "cuda:x"], r"run: argument --device: unknown device 'cuda:x'"),
    ("device-absent-gpu", ["--device", "cuda:99"], r"device 'cuda:99' was requested but torch (reports no CUDA|sees)"),
    ("shard-beyond", ["--shard", "3/2"], r"--shard: I must be between 1 and N, got '3/2'"),
    ("shard-text", ["--shard", "x"], r"--shard: expected I/N such as 2/4, got 'x'"),
    ("only-unknown-seed", ["--only", "seed=9"], r"--only 'seed=9': the spec's seeds are \[0\]"),
    ("only-unknown-field", ["--only", "bogus=1"], r"--only 'bogus=1': expected FIELD=VALUE"),
    ("data-dir-missing", ["--data-dir", "/nonexistent/recsec-data"], r"data directory /nonexistent/recsec-data does not exist"),
    ("data-dir-a-file", ["--data-dir", __file__], r"data directory .*test_malformed_inputs\.py is not a directory"),
    ("unknown-option", ["--frobnicate"], r"unrecognized arguments: --frobnicate"),
    ("db-bad-url", ["--db", "nosuchdialect://x"], r"nosuchdialect"),
]


@pytest.mark.parametrize("args, message", [case[1:] for case in ARGS], ids=[case[0] for case in ARGS])
def test_malformed_command_line_arguments(world, check, tmp_path, args, message):
    base = _run_args(world)
    for flag in {a for a in args if a.startswith("--")} & {"--db", "--data-dir"}:  # the case's value replaces the default
        i = base.index(flag)
        del base[i : i + 2]
    check(["run", _good_spec(tmp_path), *base, *args], message)


@pytest.mark.skipif(_cuda_present(), reason="the machine has CUDA")
def test_cuda_requested_without_cuda(world, check, tmp_path):
    check(["run", _good_spec(tmp_path), *_run_args(world), "--device", "cuda"], r"device 'cuda' was requested but torch reports no CUDA device")


def test_other_command_line_mistakes(world, check, tmp_path):
    a_file = tmp_path / "artifacts-file"
    a_file.write_text("")
    base = _run_args(world)
    base[base.index("--artifacts") + 1] = str(a_file)
    check(["run", _good_spec(tmp_path), *base], r"--artifacts .*artifacts-file: exists and is not a directory")
    base[base.index("--artifacts") + 1] = str(a_file / "below")
    check(["run", _good_spec(tmp_path), *base], r"--artifacts .*artifacts-file/below: cannot create the directory")
    check(["frobnicate"], r"argument COMMAND: invalid choice: 'frobnicate'")
    check(["validate", _good_spec(tmp_path), "--shard", "0/2"], r"--shard: I must be between 1 and N")


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


# (id, dataset in the spec, file under the data directory, content, regex)
DATA = [
    ("truncated-gz", "ml-100k", "ml-100k/u.data.gz", _gz(U_DATA)[:300], r"u\.data\.gz: truncated or damaged gzip file"),
    ("binary-garbage", "ml-100k", "ml-100k/u.data", bytes(range(256)) * 4, r"u\.data:1: expected 4 fields"),
    ("malformed-line", "ml-100k", "ml-100k/u.data", U_DATA + "31\tx\t3\t4\n", r"u\.data:181: b'x' is not an integer"),
    ("missing-column", "ml-100k", "ml-100k/u.data", "1\t2\t3\n", r"u\.data:1: expected 4 fields separated by '\\t', got 3"),
    ("empty-file", "ml-100k", "ml-100k/u.data", b"", r"u\.data: no rows"),
    ("missing-file", "ml-100k", "ml-100k/README", "not the data", r"dataset 'ml-100k': no data file found; looked in .*u\.data"),
    ("bad-header", "ml-latest-small", "ml-latest-small/ratings.csv", "user,item\n1,2\n", r"ratings\.csv: expected a header starting with 'userId'"),
    ("ml-1m-sequence", "ml-1m[variant=sequences]", "ml-1m/sequences_chronological.txt.gz", _gz("1 2 3\n2 x 4\n"), r"sequences_chronological\.txt\.gz:2: expected integer ids"),
    ("ml-1m-no-timestamps", "ml-1m[variant=ratings-no-timestamps]", "ml-1m/ratings_no_timestamps.dat", "1::2::3\n1::2::3::4\n", r"ratings_no_timestamps\.dat:2: expected 3 fields separated by '::'"),
    ("beauty-csv-binary", "amazon-beauty[variant=ratings]", "amazon-beauty/ratings_Beauty.csv", b"A,B,5.0,1\n\xff\xfe\x00\n", r"ratings_Beauty\.csv:2: not UTF-8 text"),
    ("bert4rec-pairs", "amazon-beauty-bert4rec", "amazon-beauty/beauty_bert4rec.txt", "1 2\n1 2 3\n", r"beauty_bert4rec\.txt:2: expected 2 fields"),
    ("plugin-load-raises", "raw-load", "unused", "", r"dataset 'raw-load': ValueError: column 3 is not a rating"),
    ("plugin-fingerprint-raises", "raw-fingerprint", "unused", "", r"dataset 'raw-fingerprint': KeyError: 'path'"),
    ("steam-truncated", "steam", "steam/Steam.txt.gz", _gz("1 2\n" * 500)[:30], r"Steam\.txt\.gz: truncated or damaged gzip file"),
    # a repeated (user, item) pair would let leave-one-out hold out a copy of a training event
    ("duplicate-row", "ml-100k", "ml-100k/u.data", U_DATA + "1\t8\t4\t9999\n", r"u\.data:181: user 1 and item 8 again \(first at line 1\); .*set duplicates=first or duplicates=last on ml-100k"),
    ("duplicate-row-gz", "ml-100k", "ml-100k/u.data.gz", _gz("\n" + U_DATA + U_DATA), r"u\.data\.gz:182: user 1 and item 8 again \(first at line 2\)"),
    ("duplicate-after-header", "ml-latest-small", "ml-latest-small/ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.0,4\n1,3,3.0,5\n1,2,4.0,6\n", r"ratings\.csv:4: user 1 and item 2 again \(first at line 2\)"),
    ("duplicate-in-a-sequence", "ml-1m[variant=sequences]", "ml-1m/sequences_chronological.txt", "1 2 3\n2 5 6 5\n", r"sequences_chronological\.txt:2: user 2 and item 5 again \(first at line 2\)"),
    ("duplicate-no-timestamps", "ml-1m[variant=ratings-no-timestamps]", "ml-1m/ratings_no_timestamps.dat", "1::2::3\n1::2::4\n", r"ratings_no_timestamps\.dat:2: user 1 and item 2 again \(first at line 1\)"),
    ("duplicate-pair", "amazon-beauty-bert4rec", "amazon-beauty/beauty_bert4rec.txt", "1 2\n1 3\n\n1 2\n", r"beauty_bert4rec\.txt:4: user 1 and item 2 again \(first at line 1\)"),
    ("duplicate-string-ids", "amazon-beauty[variant=ratings]", "amazon-beauty/ratings_Beauty.csv", "A,B,5.0,1\nA,C,4.0,2\nA,B,3.0,3\n", r"ratings_Beauty\.csv:3: user 'A' and item 'B' again \(first at line 1\)"),
]


@pytest.mark.parametrize("dataset, rel, content, message", [case[1:] for case in DATA], ids=[case[0] for case in DATA])
def test_malformed_data_files(world, check, tmp_path, dataset, rel, content, message):
    data = tmp_path / "data"
    path = data / rel
    path.parent.mkdir(parents=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    spec = _good_spec(tmp_path, _swap('["toy-data"]', f'["{dataset}"]'))
    check(["run", spec, *_run_args(world, data)], message)


def test_the_limits_edges_run_on_every_database(toy_registry, storage, tmp_path):
    """What validate lets through fits PostgreSQL too: 32-bit seeds at both ends, a 200-character name."""
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec
    from recsec.storage import repository as repo

    spec = parse_spec(_with(name='"' + "n" * 200 + '"', seeds="[2147483647, -2147483648]"), toy_registry, "edge.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None)
    assert Runner(spec, storage, opts).run().counts["done"] == 2
    with storage.transaction() as s:
        assert sorted(c.seed for c in repo.list_cells(s, benchmark="n" * 200)) == [-2147483648, 2147483647]
