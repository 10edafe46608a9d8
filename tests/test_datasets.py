"""Dataset plugins: loaders on tiny official-format fixtures, downloads, preprocessing,
the on-disk cache, the synthetic generator, and the real files in ../shared/data
(skipped when absent; those files are never copied into the repository)."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recsec.data import Interactions, leave_one_out
from recsec.dataset import DataContext
from recsec.datacache import entry_path
from recsec.errors import DataUnavailableError, ParameterError
from recsec.preprocess import iterative_k_core, one_pass_filter
from recsec.plugins.datasets import amazon, movielens
from recsec.plugins.datasets._common import Archive
from recsec.plugins.datasets.amazon import AmazonBeauty
from recsec.plugins.datasets.movielens import MovieLens1M, MovieLens20M, MovieLens100K, MovieLensLatestSmall
from recsec.plugins.datasets.steam import Steam
from recsec.plugins.datasets.synthetic import Synthetic, generate

OFF = {"min_item_count": 0, "min_user_count": 0}

# (user, item, rating, timestamp): 3 users, 4 items, 7 events
ROWS = [
    (1, 10, 4.0, 100),
    (1, 20, 3.5, 90),
    (1, 30, 5.0, 110),
    (2, 10, 2.0, 50),
    (2, 40, 1.0, 60),
    (7, 20, 4.5, 10),
    (7, 10, 3.0, 20),
]


def _write(path: Path, text: str, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wt", newline="") as f:
            f.write(text)
    else:
        path.write_text(text, newline="")
    return path


def _ctx(tmp_path: Path, data_dir: Path | None = None, download: bool = False) -> DataContext:
    return DataContext(data_dir if data_dir is not None else tmp_path / "data", tmp_path / "cache", allow_download=download)


def _check_rows(d: Interactions, integer_ratings: bool = False) -> None:
    assert d.stats() == {"users": 3, "items": 4, "interactions": 7}
    assert list(d.raw_user_ids) == [1, 2, 7] and list(d.raw_item_ids) == [10, 20, 30, 40]
    # canonical order: user, timestamp, item
    first_user = d.raw_item_ids[d.items[d.users == 0]]
    assert list(first_user) == [20, 10, 30]
    assert d.timestamps is not None and list(d.timestamps[d.users == 0]) == [90, 100, 110]
    expected = sorted(r for u, i, r, t in ROWS)
    got = sorted(d.ratings.tolist())
    if integer_ratings:
        expected = sorted(float(int(r)) for r in expected)
    assert got == expected


# --- MovieLens loaders on official-format fixtures --------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_ml_latest_small_csv(tmp_path, gz):
    text = "userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in ROWS)
    path = _write(tmp_path / "data" / "ml-latest-small" / "ratings.csv", text, gz)
    d = MovieLensLatestSmall().load(_ctx(tmp_path))
    _check_rows(d)
    assert d.source["files"] == {"ml-latest-small/ratings.csv": str(path)}
    assert MovieLensLatestSmall.family == "ratings"


@pytest.mark.parametrize("gz", [False, True])
def test_ml_100k_tabs(tmp_path, gz):
    text = "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in ROWS)
    _write(tmp_path / "data" / "ml-100k" / "u.data", text, gz)
    _check_rows(MovieLens100K().load(_ctx(tmp_path)), integer_ratings=True)


@pytest.mark.parametrize("gz", [False, True])
def test_ml_1m_double_colon(tmp_path, gz):
    text = "".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in ROWS)
    _write(tmp_path / "data" / "ml-1m" / "ratings.dat", text, gz)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the complete file: no partial warning
        d = MovieLens1M(**OFF).load(_ctx(tmp_path))
    _check_rows(d, integer_ratings=True)
    assert "partial" not in d.source
    assert MovieLens1M.family == "sequential"


def test_ml_20m_csv(tmp_path):
    text = "userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in ROWS)
    _write(tmp_path / "data" / "ml-20m" / "ratings.csv", text, False)
    _check_rows(MovieLens20M(**OFF).load(_ctx(tmp_path)))


def test_bad_format_names_the_file(tmp_path):
    path = _write(tmp_path / "data" / "ml-latest-small" / "ratings.csv", "1,2,3,4\n", False)
    with pytest.raises(DataUnavailableError, match="header"):
        MovieLensLatestSmall().load(_ctx(tmp_path))
    path.write_text("userId,movieId,rating,timestamp\n1,x,3,4\n")
    with pytest.raises(DataUnavailableError, match="ratings.csv"):
        MovieLensLatestSmall().load(_ctx(tmp_path))


def test_ml_1m_partial_file_is_read_only_when_named(tmp_path):
    text = "".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in ROWS)
    _write(tmp_path / "data" / "ml-1m" / "ratings_users1-2999.dat", text, True)
    with pytest.warns(UserWarning, match="variant=partial"):
        d = MovieLens1M(variant="partial", **OFF).load(_ctx(tmp_path))
    assert "1-2999" in d.source["partial"] and d.source["file"] == "ml-1m/ratings_users1-2999.dat"
    assert d.stats()["interactions"] == 7
    with pytest.warns(UserWarning, match="variant=partial"):  # cache hits warn too
        MovieLens1M(variant="partial", **OFF).load(_ctx(tmp_path))
    with pytest.raises(DataUnavailableError, match="no data file found") as err:  # auto never takes it
        MovieLens1M().load(_ctx(tmp_path))
    assert str(tmp_path / "data" / "ml-1m" / "ratings.dat") in str(err.value)
    assert "sequences_chronological.txt" in str(err.value)


def test_missing_data_names_paths_and_url(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataUnavailableError) as err:
        MovieLens100K().load(_ctx(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "data" / "ml-100k" / "u.data") in msg
    assert str(tmp_path / "data" / "ml-100k" / "u.data.gz") in msg
    assert str(tmp_path / "cache" / "raw" / "ml-100k" / "u.data") in msg
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in msg
    assert "disabled" in msg


def test_no_data_dir_at_all(tmp_path):
    ctx = DataContext(None, tmp_path / "cache", allow_download=False)
    with pytest.raises(DataUnavailableError, match="RECSEC_DATA_DIR"):
        MovieLensLatestSmall().load(ctx)


class _FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def _fake_urlopen(payload: bytes, calls: list[str]):
    def urlopen(url, timeout=None):
        calls.append(url)
        return _FakeResponse(payload)

    return urlopen


def test_download_checksum_mismatch_raises(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", _fake_urlopen(b"not the published zip", calls))
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        MovieLens100K().load(_ctx(tmp_path, download=True))
    assert calls == ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    downloads = tmp_path / "cache" / "downloads"
    assert not any(downloads.iterdir())  # nothing half-written is kept


def test_download_verified_zip_is_extracted_and_read(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in ROWS))
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    old = movielens.ARCHIVES["ml-100k"]
    monkeypatch.setitem(movielens.ARCHIVES, "ml-100k", Archive(old.url, old.filename, digest))
    calls: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", _fake_urlopen(payload, calls))
    d = MovieLens100K().load(_ctx(tmp_path, download=True))
    _check_rows(d, integer_ratings=True)
    assert (tmp_path / "cache" / "raw" / "ml-100k" / "u.data").is_file()
    MovieLens100K().load(_ctx(tmp_path, download=True))
    assert len(calls) == 1  # the extracted copy is found the second time


def test_single_file_download_for_the_beauty_sequence_file(tmp_path, monkeypatch):
    payload = BEAUTY_SEQ.encode()
    monkeypatch.setattr(
        amazon, "SEQUENCE_ARCHIVE", Archive("https://example.invalid/Beauty.txt", "Beauty.txt", hashlib.sha256(payload).hexdigest())
    )
    calls: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", _fake_urlopen(payload, calls))
    d = AmazonBeauty(**OFF).load(_ctx(tmp_path, download=True))
    assert len(d) == 15 and calls == ["https://example.invalid/Beauty.txt"]
    assert (tmp_path / "cache" / "raw" / "amazon-beauty" / "Beauty.txt").is_file()


def test_published_checksums_are_pinned():
    for name, archive in movielens.ARCHIVES.items():
        assert archive.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert archive.sha256 is not None and len(archive.sha256) == 64


# --- sequential datasets -------------------------------------------------------------------

BEAUTY_SEQ = "1 1 2 3 4 5\n2 6 7 8 9 10 4 11\n3 4 12 13\n"


@pytest.mark.parametrize("gz", [False, True])
def test_beauty_sequence_file(tmp_path, gz):
    _write(tmp_path / "data" / "amazon-beauty" / "Beauty.txt", BEAUTY_SEQ, gz)
    d = AmazonBeauty(**OFF).load(_ctx(tmp_path))
    assert d.stats() == {"users": 3, "items": 13, "interactions": 15}
    assert d.source["variant"] == "sequence-file"
    seqs = [list(d.raw_item_ids[s]) for s in d.sequences()]
    assert seqs == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 4, 11], [4, 12, 13]]
    assert list(d.timestamps[d.users == 1]) == list(range(7))
    assert d.ratings is None
    assert AmazonBeauty(variant="sequence-file", **OFF).load(_ctx(tmp_path)).source["variant"] == "sequence-file"
    with pytest.raises(ParameterError, match="variant"):
        AmazonBeauty(variant="nope")


@pytest.mark.parametrize("gz", [False, True])
def test_beauty_ratings_csv(tmp_path, gz):
    text = "A2,B0001,5.0,1369699200\nA1,B0002,3.0,1355443200\nA1,B0001,4.0,1355443100\n"
    _write(tmp_path / "data" / "amazon-beauty" / "ratings_Beauty.csv", text, gz)
    _write(tmp_path / "data" / "amazon-beauty" / "Beauty.txt", BEAUTY_SEQ, gz)
    d = AmazonBeauty(**OFF).load(_ctx(tmp_path))  # auto prefers the original ratings file
    assert d.source["variant"] == "ratings"
    assert d.stats() == {"users": 2, "items": 2, "interactions": 3}
    assert list(d.raw_user_ids) == ["A1", "A2"]
    assert list(d.raw_item_ids[d.items[d.users == 0]]) == ["B0001", "B0002"]  # time order
    assert sorted(d.ratings.tolist()) == [3.0, 4.0, 5.0]
    seq = AmazonBeauty(variant="sequence-file", **OFF).load(_ctx(tmp_path))
    assert seq.source["variant"] == "sequence-file" and len(seq) == 15


def test_beauty_missing_variants(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataUnavailableError, match="ratings_Beauty.csv") as err:
        AmazonBeauty(variant="ratings").load(_ctx(tmp_path))
    assert "checksum" in str(err.value)
    with pytest.raises(DataUnavailableError) as err:
        AmazonBeauty().load(_ctx(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "data" / "amazon-beauty" / "Beauty.txt") in msg
    assert "ratings_Beauty.csv" in msg and "ICLRec" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_steam_pairs(tmp_path, gz):
    text = "1 5\n1 3\n2 3\n1 9\n2 4\n"  # users interleaved: order within a user is kept
    _write(tmp_path / "data" / "steam" / "Steam.txt", text, gz)
    d = Steam(**OFF).load(_ctx(tmp_path))
    assert d.stats() == {"users": 2, "items": 4, "interactions": 5}
    assert [list(d.raw_item_ids[s]) for s in d.sequences()] == [[5, 3, 9], [3, 4]]
    assert Steam.family == "sequential"


def test_steam_missing_is_explained(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataUnavailableError) as err:
        Steam().load(_ctx(tmp_path, download=True))
    msg = str(err.value)
    assert str(tmp_path / "data" / "steam" / "Steam.txt") in msg and "checksum" in msg


# --- preprocessing and cache ------------------------------------------------------------


def _one_pass_fixture() -> Interactions:
    """Users a-f, items A-D. Item A has exactly 5 events, one of them by user f,
    who has 5 events of which one is the rare item D (1 event). One pass: D goes,
    then f (now 4 events) goes, A is left with 4 events but stays. An iterative
    k-core would drop A in the next round, and with it users whose count falls."""
    rows: list[tuple[str, str]] = []
    for u in "abcd":  # 4 users with A + 5 x B
        rows += [(u, "A")] + [(u, "B")] * 5
    rows += [("e", "B")] * 2 + [("e", "C")] * 5  # e: 7 events, never A
    rows += [("f", "A"), ("f", "D"), ("f", "C"), ("f", "C"), ("f", "C")]
    rows += [("g", "A"), ("g", "B"), ("g", "C"), ("g", "C")]  # g: 4 events -> dropped; A now has 6
    users, items = zip(*rows)
    ts = np.arange(len(rows))
    return Interactions.from_raw(np.array(users), np.array(items), timestamps=ts)


def test_one_pass_filter_differs_from_k_core():
    data = _one_pass_fixture()
    assert data.stats() == {"users": 7, "items": 4, "interactions": 40}
    counts = dict(zip(data.raw_item_ids, data.item_counts()))
    assert counts == {"A": 6, "B": 23, "C": 10, "D": 1}
    one = one_pass_filter(data, 5, 5)
    # D dropped (1 < 5); users f (4 left) and g (4) dropped; A keeps only 4 events but stays
    assert list(one.raw_user_ids) == ["a", "b", "c", "d", "e"]
    assert list(one.raw_item_ids) == ["A", "B", "C"]
    assert one.stats() == {"users": 5, "items": 3, "interactions": 31}
    assert dict(zip(one.raw_item_ids, one.item_counts()))["A"] == 4
    assert one.source["before_filter"]["interactions"] == 40 and one.source["after_filter"]["interactions"] == 31
    core = iterative_k_core(data, 5, 5)
    assert "A" not in list(core.raw_item_ids)
    assert core.stats() != one.stats()
    # dense ids and canonical (user, timestamp, item) order
    assert one.n_users == 5 and one.n_items == 3 and one.users.max() == 4
    assert np.array_equal(one.order(), np.arange(len(one)))
    assert one_pass_filter(data, 0, 0).stats() == data.stats()


def test_cache_hit_on_second_load(tmp_path, monkeypatch):
    text = "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in ROWS)
    path = _write(tmp_path / "data" / "ml-100k" / "u.data", text, False)
    ctx = _ctx(tmp_path)
    ds = MovieLens100K()
    first = ds.load(ctx)
    key = ds.fingerprint(ctx)
    assert first.source["key"] == key and entry_path(ctx.cache_dir, "ml-100k", key).is_file()

    def boom(self, resolved):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as m:
        m.setattr(MovieLens100K, "read", boom)
        second = ds.load(ctx)
    assert np.array_equal(first.users, second.users) and np.array_equal(first.items, second.items)
    assert np.array_equal(first.ratings, second.ratings) and first.n_items == second.n_items
    # other parameters or other file content -> another key
    assert MovieLens100K(min_user_count=2).fingerprint(ctx) != key
    path.write_text(text + "9\t99\t1\t1\n")
    assert ds.fingerprint(ctx) != key
    assert len(ds.load(ctx)) == 8


def test_cache_keeps_string_ids(tmp_path):
    text = "A2,B0001,5.0,1369699200\nA1,B0002,3.0,1355443200\n"
    _write(tmp_path / "data" / "amazon-beauty" / "ratings_Beauty.csv", text, False)
    a = AmazonBeauty(**OFF).load(_ctx(tmp_path))
    b = AmazonBeauty(**OFF).load(_ctx(tmp_path))
    assert list(a.raw_user_ids) == list(b.raw_user_ids) == ["A1", "A2"]
    assert b.source["variant"] == "ratings"


# --- synthetic --------------------------------------------------------------------------


def test_synthetic_is_deterministic():
    # no wall-clock bound here (a loaded CI machine makes it flaky); it loads in about 0.2 s
    a = Synthetic().load()
    b = Synthetic().load()
    for f in ("users", "items", "ratings", "timestamps"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    c = Synthetic(seed=1).load()
    assert not np.array_equal(a.items[:200], c.items[:200])
    assert Synthetic().fingerprint() == Synthetic().fingerprint() != Synthetic(seed=1).fingerprint()
    stats = a.stats()
    assert stats["users"] == 1000 and stats["items"] == 500
    assert 30 * 1000 < stats["interactions"] < 50 * 1000
    seqs = a.sequences()
    assert min(len(s) for s in seqs) >= 5
    assert all(len(set(s.tolist())) == len(s) for s in seqs)  # no repeats within a user
    assert np.array_equal(a.order(), np.arange(len(a)))
    assert set(np.unique(a.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    for s_users in (a.users,):
        ts = a.timestamps
        same = s_users[1:] == s_users[:-1]
        assert np.all(ts[1:][same] > ts[:-1][same])  # strictly increasing per user


def _hit_rate(split, score) -> float:
    hits = 0
    for hist, target in zip(split.test.histories, split.test.targets):
        s = np.asarray(score(hist), dtype=float).copy()
        s[hist] = -np.inf
        hits += target in np.argpartition(-s, 10)[:10]
    return hits / len(split.test)


def test_synthetic_has_learnable_structure():
    world = generate(n_users=600, n_items=300, seed=3)
    data = world.interactions
    split = leave_one_out(data)
    n = data.n_items
    counts = split.train.item_counts().astype(float)
    pop = _hit_rate(split, lambda h: counts)
    # popularity skew: far above uniform guessing
    assert pop > 3 * 10 / n
    # sequential dependence: "next item given the last one" beats popularity
    trans = np.zeros((n, n))
    for seq in split.train.sequences():
        np.add.at(trans, (seq[:-1], seq[1:]), 1.0)
    assert _hit_rate(split, lambda h: trans[h[-1]] + 1e-3 * counts) > 1.5 * pop
    # taste: co-occurrence with the user's history beats popularity
    cooc = np.zeros((n, n))
    for seq in split.train.sequences():
        x = np.bincount(seq, minlength=n).astype(float)
        cooc += np.outer(x, x)
    np.fill_diagonal(cooc, 0.0)
    assert _hit_rate(split, lambda h: cooc[h].sum(0) / np.sqrt(counts + 1)) > pop
    # latent truth: held-out items score higher for their user than random items
    U, V = world.user_factors, world.item_factors
    held = (U[split.test.users] * V[split.test.targets]).sum(1)
    rand = (U[split.test.users] * V[np.random.default_rng(0).integers(0, n, len(held))]).sum(1)
    assert held.mean() > rand.mean() + 0.5


def test_synthetic_filter_params():
    d = Synthetic(n_users=200, n_items=400, mean_events=10, min_item_count=5, min_user_count=5).load()
    assert d.item_counts().min() >= 1 and d.source["filter"]["passes"] == 1
    assert d.stats()["items"] < 400


# --- registration ----------------------------------------------------------------------


def test_all_datasets_registered_with_family():
    from recsec.dataset import Dataset
    from recsec.discovery import components_in_package

    found = {c.name: c for c in components_in_package("recsec.plugins.datasets", Dataset)}
    assert {"ml-latest-small", "ml-100k", "ml-1m", "ml-20m", "amazon-beauty", "steam", "synthetic"} <= set(found)
    for cls in found.values():
        assert cls.family in ("ratings", "sequential")
        assert cls.__doc__


# --- the real files in ../shared/data (skipped when absent) ------------------------------


def _real_ctx(shared_data: Path, tmp_path: Path) -> DataContext:
    ctx = DataContext.from_env(allow_download=False)  # RECSEC_DATA_DIR set by the fixture
    assert ctx.data_dir == shared_data and ctx.cache_dir == tmp_path / "cache"
    return ctx


def test_real_ml_latest_small(shared_data, tmp_path):
    d = MovieLensLatestSmall().load(_real_ctx(shared_data, tmp_path))
    assert d.stats() == {"users": 610, "items": 9724, "interactions": 100836}
    assert d.source["sha256"]["ml-latest-small/ratings.csv"]  # digest of the gz as stored


def test_real_ml_100k(shared_data, tmp_path):
    d = MovieLens100K().load(_real_ctx(shared_data, tmp_path))
    assert d.stats() == {"users": 943, "items": 1682, "interactions": 100000}
    assert sorted(np.unique(d.ratings).tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_real_amazon_beauty_sequence_file(shared_data, tmp_path, monkeypatch):
    ctx = _real_ctx(shared_data, tmp_path)
    raw = AmazonBeauty(**OFF).load(ctx)
    assert raw.stats() == {"users": 22363, "items": 12101, "interactions": 198502}
    assert raw.source["variant"] == "sequence-file"
    filtered = AmazonBeauty().load(ctx)  # 5/5 one pass leaves the 5-core file unchanged
    assert filtered.stats() == {"users": 22363, "items": 12101, "interactions": 198502}
    def no_read(self, resolved):
        raise AssertionError("the source file was read again: the cache was not used")

    monkeypatch.setattr(AmazonBeauty, "read", no_read)
    assert AmazonBeauty().load(ctx).stats() == filtered.stats()  # served from the dataset cache


def test_real_ml_1m_partial(shared_data, tmp_path):
    ctx = _real_ctx(shared_data, tmp_path)
    with pytest.warns(UserWarning, match="variant=partial"):
        raw = MovieLens1M(variant="partial", **OFF).load(ctx)
    assert raw.stats() == {"users": 2999, "items": 3615, "interactions": 487650}
    assert "1-2999" in raw.source["partial"]
    with pytest.warns(UserWarning, match="variant=partial"):
        filtered = MovieLens1M(variant="partial").load(ctx)
    assert filtered.stats() == {"users": 2999, "items": 3266, "interactions": 486907}
