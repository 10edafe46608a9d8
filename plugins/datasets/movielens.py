"""MovieLens rating datasets (GroupLens).

F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
History and Context. ACM Transactions on Interactive Intelligent Systems
5(4): 19:1-19:19. https://doi.org/10.1145/2827872

Files are read in the publisher's layout under the data directory (each may
also be gzipped, ``X.gz``)::

    ml-latest-small/ratings.csv   userId,movieId,rating,timestamp (with header)
    ml-100k/u.data                user<TAB>item<TAB>rating<TAB>timestamp
    ml-1m/ratings.dat             UserID::MovieID::Rating::Timestamp
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
from typing import ClassVar

from recsec.data import Interactions
from recsec.dataset import DataContext
from recsec.params import Param

from ._common import Archive, FileDataset, Resolved, candidates, filter_params, find, locate, read_numeric_table

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


class MovieLens1M(_MovieLens):
    """MovieLens 1M (6,040 users, 3,706 items, 1,000,209 ratings; Harper & Konstan 2015).

    Family ``sequential`` (DFME / GRO protocol: one-pass 5/5 filter, expected
    about 6,040 users and 3,416 items). When the complete ``ratings.dat`` is
    absent but ``ml-1m/ratings_users1-2999.dat[.gz]`` (the exact official
    ratings of UserIDs 1-2999 only) is present, that partial file is read,
    ``source["partial"]`` says so and a warning is issued; set
    ``allow_partial=false`` to refuse it (then the full archive is downloaded
    when downloads are allowed).
    """

    name = "ml-1m"
    family = "sequential"
    ratings_file = "ml-1m/ratings.dat"
    partial_file: ClassVar[str] = "ml-1m/ratings_users1-2999.dat"
    sep = "::"
    params = {
        **filter_params(5),
        "allow_partial": Param(True, help="read ml-1m/ratings_users1-2999.dat (users 1-2999 only) when ratings.dat is absent"),
    }

    def resolve(self, ctx: DataContext) -> Resolved:
        full = find(ctx, self.ratings_file)
        if full is not None:
            return Resolved({self.ratings_file: full})
        partial = find(ctx, self.partial_file)
        if partial is not None and self.p.allow_partial:
            note = "users 1-2999 of 6040 (ratings_users1-2999.dat: exact official ratings of UserIDs 1-2999 only)"
            message = (
                f"ml-1m: the complete ratings.dat was not found (looked in "
                f"{', '.join(str(p) for p in candidates(ctx, self.ratings_file))}); reading the PARTIAL file "
                f"{partial}: {note}. Results are not comparable with published ML-1M numbers."
            )
            return Resolved({self.partial_file: partial}, notes={"partial": note}, warnings=[message])
        extra = f"a partial file exists at {partial} but allow_partial is false" if partial is not None else ""
        path = locate(ctx, self.name, self.ratings_file, ARCHIVES[self.name], extra)
        return Resolved({self.ratings_file: path})


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
