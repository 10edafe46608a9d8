"""The data is part of a result's identity: a changed data file recomputes exactly the cells
that read it, trains a new victim for them, and every stored cell carries its fingerprint."""

from __future__ import annotations

from pathlib import Path

from recsec.cells import plan
from recsec.dataset import DataContext
from recsec.runner import RunOptions, Runner
from recsec.spec import parse_spec
from recsec.storage import repository as repo

SPEC = """
datasets = ["ml-100k", "synthetic[n_users=40,n_items=30,mean_events=8.0]"]
recommenders = ["toy-popular"]
attacks = ["toy-probe[n_queries=5]"]

[benchmark]
name = "data-identity"
seeds = [0]
"""


def _write_u_data(path: Path, n_users: int) -> None:
    rows = [f"{u}\t{(u * 7 + j) % 25 + 1}\t{1 + j % 5}\t{1000 + 10 * j}\n" for u in range(1, n_users + 1) for j in range(6)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(rows))


def _run(registry, storage, tmp_path):
    spec = parse_spec(SPEC, registry, "identity.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", data_dir=str(tmp_path / "data"),
                      allow_download=False, log=lambda m: None)
    return Runner(spec, storage, opts).run()


def _cells(storage):
    with storage.transaction() as s:
        return [(c.dataset, c.config_hash, c.data_fingerprint, c.victim_key, c.status) for c in repo.list_cells(s)]


def test_a_changed_data_file_recomputes_only_its_cells(toy_registry, storage, tmp_path):
    import recsec_toy_plugin as toy

    u_data = tmp_path / "data" / "ml-100k" / "u.data"
    _write_u_data(u_data, 30)
    assert _run(toy_registry, storage, tmp_path).counts == {"done": 2, "cached": 0, "failed": 0, "skipped": 0}
    first = {row[0]: row for row in _cells(storage)}
    for dataset, _, fingerprint, victim_key, status in first.values():
        assert status == "done" and len(fingerprint) == 64 and victim_key
    assert _run(toy_registry, storage, tmp_path).counts["cached"] == 2
    fits = toy.CALLS["fit"]

    _write_u_data(u_data, 15)  # the same file cut in half
    assert _run(toy_registry, storage, tmp_path).counts == {"done": 1, "cached": 1, "failed": 0, "skipped": 0}
    assert toy.CALLS["fit"] == fits + 1  # a new victim for the new data; the synthetic one is reused
    rows = _cells(storage)
    ml = [r for r in rows if r[0] == "ml-100k"]
    assert len(ml) == 2 and len({r[2] for r in ml}) == 2 and len({r[3] for r in ml}) == 2
    assert [r for r in rows if r[0].startswith("synthetic")] == [first["synthetic[mean_events=8.0,n_items=30,n_users=40]"]]
    with storage.transaction() as s:
        for cell in repo.list_cells(s):
            assert cell.config["data_fingerprint"] == cell.data_fingerprint  # in the hash and in its column


def test_planning_fingerprints_each_dataset_once_without_loading_it(toy_registry, tmp_path, monkeypatch):
    from recsec.plugins.datasets.movielens import MovieLens100K

    _write_u_data(tmp_path / "data" / "ml-100k" / "u.data", 5)
    spec = parse_spec(SPEC.replace("seeds = [0]", "seeds = [0, 1, 2]"), toy_registry, "identity.toml")
    calls = []
    real = MovieLens100K.fingerprint

    def counting(self, ctx):
        calls.append(self.instance_name)
        return real(self, ctx)

    def no_read(self, resolved):
        raise AssertionError("planning must not read the data")

    monkeypatch.setattr(MovieLens100K, "fingerprint", counting)
    monkeypatch.setattr(MovieLens100K, "read", no_read)
    cells = plan(spec, data=DataContext(tmp_path / "data", tmp_path / "cache", allow_download=False))
    assert calls == ["ml-100k"] and all(c.data_fingerprint for c in cells)


def test_validate_lists_cells_whose_data_is_absent_without_a_key(toy_registry, tmp_path, monkeypatch, capsys):
    import recsec.registry
    from recsec.cli import main

    monkeypatch.setattr(recsec.registry, "_DEFAULT", toy_registry)
    spec = tmp_path / "identity.toml"
    spec.write_text(SPEC)
    (tmp_path / "data").mkdir()
    assert main(["validate", str(spec), "--data-dir", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[0].startswith("-" * 12 + "  ml-100k /") and not rows[1].startswith("-") and rows[-1] == "2 cells"
    assert "recsec: note: ml-100k: data not found locally" in err
    _write_u_data(tmp_path / "data" / "ml-100k" / "u.data", 5)
    assert main(["validate", str(spec), "--data-dir", str(tmp_path / "data")]) == 0
    assert not capsys.readouterr().out.startswith("-")
