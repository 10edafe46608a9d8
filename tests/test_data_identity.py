"""The data is part of a result's identity: a changed data file recomputes exactly the cells
that read it, trains a new victim for them, and every stored cell carries its fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from recsec.cells import plan
from recsec.datacache import cache_key
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


def _run(registry, storage, tmp_path, force: bool = False):
    spec = parse_spec(SPEC, registry, "identity.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", data_dir=str(tmp_path / "data"),
                      allow_download=False, log=lambda m: None, force=force)
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


# --- identity by content: the bytes, never the path, size or mtime ---------------------------------------------


def _edit_keeping_mtime(path: Path, content: bytes) -> None:
    """Rewrite ``path`` (same size) and put its modification time back, as ``cp -p`` or ``touch -r`` would."""
    before = path.stat()
    assert len(content) == before.st_size
    path.write_bytes(content)
    for _ in range(200):  # the kernel's clock is coarse: wait until the change time has moved
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        if path.stat().st_ctime_ns != before.st_ctime_ns:
            break
        time.sleep(0.005)
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _one_byte_changed(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) >= 1 and len(old) == len(new)
    _edit_keeping_mtime(path, data.replace(old, new, 1))


def test_an_edit_that_keeps_size_and_mtime_recomputes_the_cells_also_with_force(toy_registry, storage, tmp_path):
    from recsec.plugins.datasets.movielens import MovieLens100K

    u_data = tmp_path / "data" / "ml-100k" / "u.data"
    _write_u_data(u_data, 30)
    assert _run(toy_registry, storage, tmp_path).counts["done"] == 2

    def ml_fingerprints() -> set[str]:  # a cell per data version: changed data never overwrites a result
        return {r[2] for r in _cells(storage) if r[0] == "ml-100k"}

    def expected():  # the key over an independent sha256 of the bytes now on disk
        d = MovieLens100K()
        return cache_key(d.name, d.version, {"ml-100k/u.data": hashlib.sha256(u_data.read_bytes()).hexdigest()},
                         d.identity_params)

    (first,) = ml_fingerprints()
    _one_byte_changed(u_data, b"1\t8\t1\t1000\n", b"1\t8\t5\t1000\n")  # one rating, same size, same mtime
    assert _run(toy_registry, storage, tmp_path).counts == {"done": 1, "cached": 1, "failed": 0, "skipped": 0}
    assert ml_fingerprints() == {first, expected()}
    second = expected()
    _one_byte_changed(u_data, b"1\t8\t5\t1000\n", b"1\t8\t3\t1000\n")
    assert _run(toy_registry, storage, tmp_path, force=True).counts["done"] == 2
    assert ml_fingerprints() == {first, second, expected()} and len({first, second, expected()}) == 3
    ctx = DataContext(tmp_path / "data", tmp_path / "cache", allow_download=False)
    loaded = MovieLens100K().load(ctx)  # the data itself is the new one, not a cached copy of the old
    raw = loaded.raw_user_ids[loaded.users] * 1000 + loaded.raw_item_ids[loaded.items]
    assert loaded.ratings[np.flatnonzero(raw == 1008)].tolist() == [3.0]


def test_the_digest_memo_keys_on_the_change_time(tmp_path, monkeypatch):
    from recsec import datacache

    monkeypatch.setattr(datacache, "SETTLED_S", -1.0)  # remember even a file written just now
    monkeypatch.setattr(datacache, "_SEEN", {})
    path, cache = tmp_path / "f.txt", tmp_path / "cache"
    path.write_bytes(b"1 2 3\n")
    assert datacache.file_sha256(path, cache) == hashlib.sha256(b"1 2 3\n").hexdigest()
    assert len(json.loads((cache / "datasets" / "digests.json").read_text())) == 1
    _edit_keeping_mtime(path, b"1 2 4\n")
    assert datacache.file_sha256(path, cache) == hashlib.sha256(b"1 2 4\n").hexdigest()
    datacache._SEEN.clear()  # another process: only the memo file
    assert datacache.file_sha256(path, cache) == hashlib.sha256(b"1 2 4\n").hexdigest()
    assert len(json.loads((cache / "datasets" / "digests.json").read_text())) == 1  # the stale entry was dropped


def test_a_file_hashed_as_it_changes_is_not_remembered(tmp_path, monkeypatch):
    """An edit in the same clock tick as the hash leaves the stat signature equal; only a file
    settled before hashing is remembered, so the edit is still seen."""
    from recsec import datacache

    monkeypatch.setattr(datacache, "_SEEN", {})
    monkeypatch.setattr(datacache, "_signature", lambda p: ("same-signature", os.stat(p)))
    path, cache = tmp_path / "f.txt", tmp_path / "cache"
    path.write_bytes(b"a")
    datacache.file_sha256(path, cache)
    path.write_bytes(b"b")
    assert datacache.file_sha256(path, cache) == hashlib.sha256(b"b").hexdigest()


def test_a_memo_that_lies_is_caught_when_the_data_is_loaded(tmp_path, monkeypatch):
    from recsec import datacache
    from recsec.errors import DataUnavailableError
    from recsec.plugins.datasets.movielens import MovieLens100K

    monkeypatch.setattr(datacache, "SETTLED_S", -1.0)
    monkeypatch.setattr(datacache, "_SEEN", {})
    _write_u_data(tmp_path / "data" / "ml-100k" / "u.data", 10)
    ctx = DataContext(tmp_path / "data", tmp_path / "cache", allow_download=False)
    truth = MovieLens100K().fingerprint(ctx)
    memo_file = tmp_path / "cache" / "datasets" / "digests.json"
    memo = json.loads(memo_file.read_text())
    memo_file.write_text(json.dumps({k: "0" * 64 for k in memo}))  # a stale or forged memo
    datacache._SEEN.clear()
    fooled = MovieLens100K()
    assert fooled.fingerprint(ctx) != truth  # planning trusts the memo: it is only a speed-up ...
    with pytest.raises(DataUnavailableError, match="changed after the run was planned"):
        fooled.load(ctx)  # ... that the load re-verifies on the bytes
    datacache._SEEN.clear()
    assert MovieLens100K().fingerprint(ctx) == truth  # and corrects


def test_the_default_fingerprint_covers_the_file_a_parameter_names(tmp_path):
    """A third party's dataset that reads the file its ``path`` parameter names is fingerprinted
    by that file's bytes with no code of its own; one without files keeps its key."""
    from recsec.dataset import Dataset
    from recsec.params import Param

    class PathData(Dataset):
        name = "path-data"
        params = {"path": Param("ratings.tsv", help="the file to read"), "k": Param(3)}

        def load(self, ctx):  # pragma: no cover - not needed to fingerprint
            raise NotImplementedError

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "ratings.tsv").write_bytes(b"1\t2\n")
    ctx = DataContext(data_dir, tmp_path / "cache", allow_download=False)
    relative, absolute = PathData(), PathData(path=str(data_dir / "ratings.tsv"))
    assert relative.files(ctx) == {"param:path": data_dir / "ratings.tsv"} == absolute.files(ctx)
    before = (relative.fingerprint(ctx), absolute.fingerprint(ctx))
    _edit_keeping_mtime(data_dir / "ratings.tsv", b"1\t3\n")
    after = (relative.fingerprint(ctx), absolute.fingerprint(ctx))
    assert before[0] != after[0] and before[1] != after[1]
    (data_dir / "ratings.tsv").unlink()
    assert PathData().files(ctx) == {}
    assert PathData().fingerprint(ctx) == cache_key("path-data", "1", {}, {"path": "ratings.tsv", "k": 3})


# --- duplicated (user, item) rows: refused with the line, or a declared policy ---------------------------------


def test_duplicated_rows_fail_the_cell_naming_the_line(toy_registry, storage, tmp_path):
    """Every row twice: leave-one-out would hold out a copy of a training event. The cell fails,
    with the line; the other dataset's cell is done."""
    u_data = tmp_path / "data" / "ml-100k" / "u.data"
    _write_u_data(u_data, 30)
    lines = u_data.read_text().splitlines(keepends=True)
    u_data.write_text("".join(line + line for line in lines))
    summary = _run(toy_registry, storage, tmp_path)
    assert summary.counts == {"done": 1, "cached": 0, "failed": 1, "skipped": 0}
    with storage.transaction() as s:
        (cell,) = [c for c in repo.list_cells(s) if c.dataset == "ml-100k"]
    assert cell.status == "failed" and "u.data:2: user 1 and item 8 again (first at line 1)" in cell.error
    assert "duplicates=first or duplicates=last on ml-100k" in cell.error


@pytest.mark.parametrize("keep, rating", [("first", 1.0), ("last", 5.0)])
def test_a_declared_duplicate_policy_keeps_one_event_and_the_split_cannot_leak(tmp_path, keep, rating):
    from recsec.data import leave_one_out
    from recsec.plugins.datasets.movielens import MovieLens100K

    u_data = tmp_path / "data" / "ml-100k" / "u.data"
    _write_u_data(u_data, 8)
    with u_data.open("a") as f:  # user 1 rates item 8 again, later and higher; user 2 repeats its last event
        f.write("1\t8\t5\t9000\n2\t15\t3\t1050\n")
    ctx = DataContext(tmp_path / "data", tmp_path / "cache", allow_download=False)
    with pytest.raises(Exception, match=r"u\.data:50: user 2 and item 15 again|u\.data:49: user 1 and item 8 again"):
        MovieLens100K().load(ctx)
    data = MovieLens100K(duplicates=keep).load(ctx)
    assert len(data) == 48 and data.source["duplicates"] == {"policy": keep, "dropped": 2}
    raw = data.raw_user_ids[data.users] * 1000 + data.raw_item_ids[data.items]
    assert data.ratings[raw == 1008].tolist() == [rating]
    split = leave_one_out(data)
    train = set(zip(split.train.users.tolist(), split.train.items.tolist()))
    for evalset in (split.valid, split.test):
        assert not any((u, t) in train for u, t in zip(evalset.users.tolist(), evalset.targets.tolist()))
    # the policy is part of the identity only when it is not the default
    assert "duplicates" not in MovieLens100K().identity()["params"]
    assert MovieLens100K(duplicates=keep).identity()["params"]["duplicates"] == keep
    assert MovieLens100K(duplicates=keep).fingerprint(ctx) != MovieLens100K().fingerprint(ctx)


def test_two_loaders_of_one_file_break_time_ties_alike():
    """One tie rule, in ``Interactions.order``: a loader that numbers items by first appearance
    gives every user the same sequence and held-out items as one that sorts the raw ids."""
    from recsec.data import Interactions, leave_one_out

    users = np.array([10, 10, 10, 10, 10, 11, 11, 11])
    items = np.array([30, 20, 50, 40, 60, 20, 30, 40])
    stamps = np.array([1, 2, 3, 3, 3, 5, 5, 6])  # user 10's last three events share a time
    sorted_ids = Interactions.from_raw(users, items, timestamps=stamps)
    raw_items, appearance = np.unique(items, return_index=True)
    by_appearance = raw_items[np.argsort(appearance)]  # [30, 20, 50, 40, 60]
    dense = {raw: i for i, raw in enumerate(by_appearance.tolist())}
    second = Interactions(users=np.array([0, 0, 0, 0, 0, 1, 1, 1]), items=np.array([dense[i] for i in items.tolist()]),
                          n_users=2, n_items=5, timestamps=stamps, raw_user_ids=np.array([10, 11]),
                          raw_item_ids=by_appearance)
    views = []
    for data in (sorted_ids, second):
        split = leave_one_out(data)
        views.append(([data.raw_item_ids[s].tolist() for s in data.sequences()],
                      data.raw_item_ids[split.valid.targets].tolist(), data.raw_item_ids[split.test.targets].tolist()))
    assert views[0] == views[1]
    assert views[0][0] == [[30, 20, 40, 50, 60], [20, 30, 40]]  # ties by raw item id
