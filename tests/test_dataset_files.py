"""Which file a dataset reads (ml-1m's derived alternatives, BERT4Rec's Beauty), the
fingerprint that records it, one-line errors for damaged files, and parallel downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
import time
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recsec.dataset import DataContext, download, extract_zip
from recsec.errors import DataUnavailableError
from recsec.plugins.datasets.amazon import AmazonBeauty, AmazonBeautyBERT4Rec
from recsec.plugins.datasets.movielens import MovieLens1M, MovieLens100K, MovieLensLatestSmall
from recsec.plugins.datasets.steam import Steam

OFF = {"min_item_count": 0, "min_user_count": 0}
# user 1 watched 10, 30, 20 in that order; user 2: 40, 10
SEQUENCES = "1 10 30 20\n2 40 10\n"
NO_TIMES = "1::10::4\n1::20::3\n1::30::5\n2::10::2\n2::40::1\n"
FULL = "1::10::4::100\n1::20::3::120\n1::30::5::110\n2::10::2::60\n2::40::1::50\n"


def _put(root: Path, rel: str, text: str | bytes, gz: bool = False) -> Path:
    path = root / (rel + (".gz" if gz else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _ctx(tmp_path: Path) -> DataContext:
    return DataContext(tmp_path / "data", tmp_path / "cache", allow_download=False)


def test_ml_1m_reads_the_chronological_sequences_in_order(tmp_path):
    _put(tmp_path / "data", "ml-1m/sequences_chronological.txt", SEQUENCES, gz=True)
    d = MovieLens1M(variant="sequences", **OFF).load(_ctx(tmp_path))
    assert [list(d.raw_item_ids[s]) for s in d.sequences()] == [[10, 30, 20], [40, 10]]
    assert d.source["file"] == "ml-1m/sequences_chronological.txt" and d.ratings is None
    assert MovieLens1M(**OFF).load(_ctx(tmp_path)).source["variant"] == "sequences"  # auto, no ratings.dat


def test_ml_1m_ratings_without_timestamps_keep_ratings_and_skip_sequential_models(tmp_path):
    from recsec.plugins.recommenders.lfm import LFM
    from recsec.plugins.recommenders.sasrec import SASRec

    _put(tmp_path / "data", "ml-1m/ratings_no_timestamps.dat", NO_TIMES)
    ds = MovieLens1M(variant="ratings-no-timestamps", **OFF)
    d = ds.load(_ctx(tmp_path))
    assert d.timestamps is None and sorted(d.ratings.tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert "no time order" in ds.skip(recommender=SASRec()) and ds.skip(recommender=LFM()) is None


def test_ml_1m_auto_prefers_the_official_file_and_fingerprints_differ_between_files(tmp_path):
    ctx = _ctx(tmp_path)
    _put(tmp_path / "data", "ml-1m/sequences_chronological.txt", SEQUENCES)
    seq = MovieLens1M(**OFF).fingerprint(ctx)
    _put(tmp_path / "data", "ml-1m/ratings.dat", FULL)
    auto = MovieLens1M(**OFF)
    assert auto.load(ctx).source["variant"] == "ratings" and auto.fingerprint(ctx) != seq
    prints = {MovieLens1M(variant=v, **OFF).fingerprint(ctx) for v in ("ratings", "sequences")}
    assert len(prints) == 2


def test_amazon_beauty_bert4rec_is_its_own_dataset(tmp_path):
    _put(tmp_path / "data", "amazon-beauty/beauty_bert4rec.txt", "1 5\n1 3\n2 3\n1 9\n2 4\n", gz=True)
    _put(tmp_path / "data", "amazon-beauty/Beauty.txt", "1 1 2 3\n")
    d = AmazonBeautyBERT4Rec().load(_ctx(tmp_path))
    assert [list(d.raw_item_ids[s]) for s in d.sequences()] == [[5, 3, 9], [3, 4]]
    assert d.source["file"] == "amazon-beauty/beauty_bert4rec.txt"
    assert AmazonBeautyBERT4Rec().fingerprint(_ctx(tmp_path)) != AmazonBeauty(**OFF).fingerprint(_ctx(tmp_path))
    with pytest.raises(DataUnavailableError, match="FeiSun/BERT4Rec"):
        AmazonBeautyBERT4Rec().load(_ctx(tmp_path / "elsewhere"))


def _truncated_gz(text: str) -> bytes:
    blob = gzip.compress(text.encode() * 200)
    return blob[: len(blob) // 2]


# (dataset, file, content, expected message): every damaged file is one line naming it
DAMAGED = [
    (MovieLens100K, "ml-100k/u.data", _truncated_gz("1\t2\t3\t4\n"), r"u\.data\.gz: truncated or damaged gzip"),
    (MovieLens100K, "ml-100k/u.data", "1\t2\t3\t4\n1\t2\t3\n", r"u\.data:2: expected 4 fields separated by '\\t', got 3"),
    (MovieLens100K, "ml-100k/u.data", "1\t2\t3\t4\n1\tx\t3\t4\n", r"u\.data:2: b'x' is not an integer"),
    (MovieLens100K, "ml-100k/u.data", b"\x00\xff\xfe garbage \x01\x02\n", r"u\.data:1: expected 4 fields"),
    (MovieLens100K, "ml-100k/u.data", "#1\t2\t3\t4\n", r"u\.data:1: b'#1' is not an integer"),
    (MovieLens100K, "ml-100k/u.data", "", r"u\.data: no rows"),
    (MovieLensLatestSmall, "ml-latest-small/ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,4\n1,2,x,4\n",
     r"ratings\.csv:3: b'x' is not a number"),
    (MovieLens1M, "ml-1m/ratings.dat", "1::2::3::4\n1::2::3\n", r"ratings\.dat:2: expected 4 fields separated by '::'"),
    (MovieLens1M, "ml-1m/sequences_chronological.txt", "1 2 3\n2 x\n", r"sequences_chronological\.txt:2: expected integer"),
    (AmazonBeauty, "amazon-beauty/ratings_Beauty.csv", b"A1,B1,5.0,1\n\xff\xfe,B,1,2\n", r"ratings_Beauty\.csv:2: not UTF-8"),
    (AmazonBeautyBERT4Rec, "amazon-beauty/beauty_bert4rec.txt", "1 2\n1 2 3\n", r"beauty_bert4rec\.txt:2: expected 2 fields"),
    (Steam, "steam/Steam.txt", _truncated_gz("1 2\n"), r"Steam\.txt\.gz: truncated or damaged gzip"),
]


@pytest.mark.parametrize("cls, rel, content, message", DAMAGED, ids=[f"{c.name}-{i}" for i, (c, *_) in enumerate(DAMAGED)])
def test_damaged_files_are_one_line_errors_naming_file_and_line(tmp_path, cls, rel, content, message):
    gz = isinstance(content, bytes) and content[:2] == b"\x1f\x8b"
    path = _put(tmp_path / "data", rel, content, gz=False)
    if gz:
        path = path.rename(path.with_name(path.name + ".gz"))
    with pytest.raises(DataUnavailableError, match=message) as err:
        cls(**OFF).load(_ctx(tmp_path))
    assert "\n" not in str(err.value) and str(path.parent) in str(err.value)


def test_data_changed_after_planning_is_refused_not_filed_under_the_old_fingerprint(tmp_path):
    path = _put(tmp_path / "data", "ml-100k/u.data", "1\t2\t3\t4\n2\t2\t3\t5\n")
    ds, ctx = MovieLens100K(), _ctx(tmp_path)
    ds.fingerprint(ctx)
    path.write_text("1\t2\t3\t4\n")
    with pytest.raises(DataUnavailableError, match="changed after the run was planned"):
        ds.load(ctx)
    ds.fingerprint(ctx)
    assert len(ds.load(ctx)) == 1


class _SlowResponse(io.BytesIO):
    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}

    def read(self, n: int = -1) -> bytes:
        time.sleep(0.01)  # long enough for the other worker to arrive mid-download
        return super().read(min(n, 7) if n > 0 else n)


def test_parallel_downloads_of_one_file_never_collide(tmp_path, monkeypatch):
    payload = b"x" * 200
    calls: list[str] = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return _SlowResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    dest, sha = tmp_path / "dl" / "file.bin", hashlib.sha256(payload).hexdigest()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            download("https://example.invalid/file.bin", dest, sha)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and dest.read_bytes() == payload
    assert len(calls) == 1  # the others waited for the lock and found the verified file
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]  # no temporary left


def test_extracting_a_damaged_zip_names_it(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "1\t2\t3\t4\n")
    good = tmp_path / "good.zip"
    good.write_bytes(buf.getvalue())
    extract_zip(good, tmp_path / "raw")
    assert (tmp_path / "raw" / "ml-100k" / "u.data").read_text() == "1\t2\t3\t4\n"
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["ml-100k"]  # no staging folder left
    bad = tmp_path / "bad.zip"
    bad.write_bytes(buf.getvalue()[:40])
    with pytest.raises(DataUnavailableError, match=r"bad\.zip: damaged zip archive"):
        extract_zip(bad, tmp_path / "raw")


# --- the real files in ../shared/data (skipped when absent) ------------------------------


def test_real_ml_1m_complete_sequences_after_the_one_pass_filter(shared_data, tmp_path):
    ctx = DataContext(shared_data, tmp_path / "cache", allow_download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the complete file: no partial warning
        d = MovieLens1M(variant="sequences").load(ctx)
    assert d.stats() == {"users": 6040, "items": 3416, "interactions": 999611}  # methods.md section 1
    ratings = MovieLens1M(variant="ratings-no-timestamps", **OFF).load(ctx)
    assert ratings.stats() == {"users": 6040, "items": 3706, "interactions": 1000209}
    assert np.bincount(ratings.ratings.astype(int))[1:].tolist() == [56174, 107557, 261197, 348971, 226310]


def test_real_amazon_beauty_bert4rec(shared_data, tmp_path):
    d = AmazonBeautyBERT4Rec().load(DataContext(shared_data, tmp_path / "cache", allow_download=False))
    assert d.stats() == {"users": 40226, "items": 54542, "interactions": 353962}


def test_a_damaged_cache_entry_is_rebuilt_from_the_file(tmp_path):
    from recsec.datacache import entry_path

    _put(tmp_path / "data", "ml-100k/u.data", "1\t2\t3\t4\n2\t2\t3\t5\n")
    ds, ctx = MovieLens100K(), _ctx(tmp_path)
    ds.load(ctx)
    entry = entry_path(ctx.cache_dir, "ml-100k", ds.fingerprint(ctx))
    entry.write_bytes(entry.read_bytes()[:50])  # a worker killed mid-write on a filesystem without atomic rename
    assert len(ds.load(ctx)) == 2
