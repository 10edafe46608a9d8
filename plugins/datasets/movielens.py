"""MovieLens rating datasets (GroupLens).

F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
History and Context. ACM Transactions on Interactive Intelligent Systems
5(4): 19:1-19:19. https://doi.org/10.1145/2827872

Files are read in the publisher's layout under the data directory (each may
also be gzipped, ``X.gz``)::

    ml-latest-small/ratings.csv   userId,movieId,rating,timestamp (with header)
    ml-100k/u.data                user<TAB>item<TAB>rating<TAB>timestamp
    ml-1m/ratings.dat             UserID::MovieID::Rating::Timestamp (or a derived
                                  alternative, see MovieLens1M)
    ml-20m/ratings.csv            as ml-latest-small

When absent, the publisher's zip is downloaded from files.grouplens.org
(when downloads are allowed) and its sha256 checked. The checksums are those
pinned by TensorFlow Datasets (``tensorflow_datasets/url_checksums/movielens.txt``)
and agree with several independent public projects that pin the same archives.

Families: ``ml-latest-small`` and ``ml-100k`` are ``"ratings"`` sets
(matrix-factorisation work; no filtering by default). ``ml-1m`` and ``ml-20m``
are the sequential benchmark sets of DFME / GRO and default to the one-pass
5/5 filter; they keep ratings and timestamps, so rating-based recommenders can
use them too (the recommender's family decides how a dataset is used).

The data are for research use under GroupLens' terms; they are never bundled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from recsec.data import Interactions
from recsec.dataset import DataContext
from recsec.params import Param

from ._common import Archive, FileDataset, Resolved, candidates, filter_params, find, locate
from ._parse import read_numeric_table
from ._sequences import sequence_interactions

_TFDS = "tensorflow/datasets: tensorflow_datasets/url_checksums/movielens.txt"
_BASE = "https://files.grouplens.org/datasets/movielens"

ARCHIVES: dict[str, Archive] = {
    "ml-latest-small": Archive(
        f"{_BASE}/ml-latest-small.zip",
        "ml-latest-small.zip",
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        978202,
        _TFDS,
    ),
    "ml-100k": Archive(
        f"{_BASE}/ml-100k.zip",
        "ml-100k.zip",
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        4924029,
        _TFDS,
    ),
    "ml-1m": Archive(
        f"{_BASE}/ml-1m.zip",
        "ml-1m.zip",
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        5917549,
        _TFDS,
    ),
    "ml-20m": Archive(
        f"{_BASE}/ml-20m.zip",
        "ml-20m.zip",
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        198702078,
        _TFDS,
    ),
}


class _MovieLens(FileDataset):
    """Common reader: one ratings table in the official layout (not registered: no name)."""

    ratings_file: ClassVar[str] = ""
    sep: ClassVar[str] = ","
    header: ClassVar[str | None] = None

    def resolve(self, ctx: DataContext) -> Resolved:
        path = locate(ctx, self.name, self.ratings_file, ARCHIVES[self.name])
        return Resolved({self.ratings_file: path})

    def read(self, resolved: Resolved) -> Interactions:
        (label, path), = resolved.files.items()
        return self._read_table(label, path)

    def _read_table(self, label: str, path: Path) -> Interactions:
        rows = read_numeric_table(path, self.sep, self.header)
        return Interactions.from_raw(
            rows["u"], rows["i"], ratings=rows["r"], timestamps=rows["t"],
            source={"format": f"MovieLens {label}"},
        )


class MovieLensLatestSmall(_MovieLens):
    """MovieLens latest-small (610 users, 9,724 rated movies, 100,836 ratings; Harper & Konstan 2015).

    A development set that GroupLens regenerates over time (the checksum pins
    the 2018-09-26 release). Family ``ratings``: no filtering by default.
    """

    name = "ml-latest-small"
    family = "ratings"
    ratings_file = "ml-latest-small/ratings.csv"
    sep = ","
    header = "userId"
    params = filter_params(0)


class MovieLens100K(_MovieLens):
    """MovieLens 100K (943 users, 1,682 items, 100,000 ratings; Harper & Konstan 2015). Family ``ratings``."""

    name = "ml-100k"
    family = "ratings"
    ratings_file = "ml-100k/u.data"
    sep = "\t"
    params = filter_params(0)


#: ml-1m's files by ``variant``; ``auto`` tries AUTO_ORDER and then downloads ratings.dat.
ML1M_FILES: dict[str, str] = {
    "ratings": "ml-1m/ratings.dat",
    "sequences": "ml-1m/sequences_chronological.txt",
    "ratings-no-timestamps": "ml-1m/ratings_no_timestamps.dat",
    "partial": "ml-1m/ratings_users1-2999.dat",
}
AUTO_ORDER = ("ratings", "sequences")
_DERIVED = "a derived file of ../shared/data (see its README): it is not downloaded; place it there"


class MovieLens1M(_MovieLens):
    """MovieLens 1M (6,040 users, 3,706 items, 1,000,209 ratings; Harper & Konstan 2015).

    Family ``sequential`` (DFME / GRO protocol: one-pass 5/5 filter, expected
    about 6,040 users and 3,416 items). ``variant`` picks the file:

    - ``ratings``: the official ``ratings.dat`` (downloaded when absent).
    - ``sequences``: ``sequences_chronological.txt``, every user's movies in
      time order (``UserID MovieID ...``); complete, no ratings, timestamps
      are positions: the sequential protocol needs nothing more.
    - ``ratings-no-timestamps``: ``ratings_no_timestamps.dat``
      (``UserID::MovieID::Rating``, official line order); complete, no time
      order, so sequential recommenders are skipped on it and "the last
      event" of a user is the one with the highest movie id (MF, MIA).
    - ``partial``: ``ratings_users1-2999.dat``, the exact official ratings of
      UserIDs 1-2999 only, with a warning; never chosen by ``auto``.
    - ``auto``: ``ratings.dat`` if present, else the sequences file, else
      ``ratings.dat`` downloaded.

    The file read is part of the fingerprint (and ``source["file"]``), so
    results on one variant are never filed under another.
    """

    name = "ml-1m"
    family = "sequential"
    version = "2"
    sep = "::"
    params = {
        "variant": Param("auto", help="which file to read (auto: ratings.dat, else the chronological sequences)",
                         choices=("auto", *ML1M_FILES)),
        **filter_params(5),
    }

    def resolve(self, ctx: DataContext) -> Resolved:
        variant = self.p.variant
        extra = ""
        if variant == "auto":
            for choice in AUTO_ORDER:
                found = find(ctx, ML1M_FILES[choice])
                if found is not None:
                    return self._resolved(choice, found)
            variant = "ratings"
            extra = "also looked for " + ", ".join(str(p) for p in candidates(ctx, ML1M_FILES["sequences"]))
        archive = ARCHIVES[self.name] if variant == "ratings" else None
        path = locate(ctx, self.name, ML1M_FILES[variant], archive, extra if archive else _DERIVED)
        return self._resolved(variant, path)

    def _resolved(self, variant: str, path: Path) -> Resolved:
        if variant != "partial":
            return Resolved({ML1M_FILES[variant]: path}, notes={"variant": variant})
        note = "users 1-2999 of 6040 (ratings_users1-2999.dat: exact official ratings of UserIDs 1-2999 only)"
        message = (f"ml-1m[variant=partial]: reading {path}: {note}. "
                   "Results are not comparable with published ML-1M numbers.")
        return Resolved({ML1M_FILES[variant]: path}, notes={"variant": variant, "partial": note}, warnings=[message])

    def read(self, resolved: Resolved) -> Interactions:
        (label, path), = resolved.files.items()
        if label == ML1M_FILES["sequences"]:
            return sequence_interactions(path, f"MovieLens {label}")
        if label == ML1M_FILES["ratings-no-timestamps"]:
            rows = read_numeric_table(path, self.sep, columns="uir")
            return Interactions.from_raw(rows["u"], rows["i"], ratings=rows["r"],
                                         source={"format": f"MovieLens {label} (no timestamps)"})
        return self._read_table(label, path)

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if self.p.variant == "ratings-no-timestamps" and rec is not None and rec.family == "sequential":
            return f"{self.instance_name} has no time order; sequential recommenders need variant=sequences or ratings"
        return None


class MovieLens20M(_MovieLens):
    """MovieLens 20M (138,493 users, 26,744 items, 20,000,263 ratings; Harper & Konstan 2015).

    Family ``sequential`` (DFME / GRO benchmark set; one-pass 5/5 filter by default).
    The first load parses 20 M rows (tens of seconds); later loads hit the cache.
    """

    name = "ml-20m"
    family = "sequential"
    ratings_file = "ml-20m/ratings.csv"
    sep = ","
    header = "userId"
    params = filter_params(5)
