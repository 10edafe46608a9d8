"""Amazon Beauty (sequential recommendation).

Data: J. McAuley, C. Targett, Q. Shi, A. van den Hengel. 2015. Image-based
recommendations on styles and substitutes. SIGIR 2015; R. He and J. McAuley.
2016. Ups and downs: modeling the visual evolution of fashion trends with
one-class collaborative filtering. WWW 2016.

Two file variants are read, under ``<data_dir>/amazon-beauty/`` (each may be gzipped):

- ``ratings_Beauty.csv``: McAuley's original ratings-only file, no header,
  ``user,item,rating,timestamp`` (string reviewer ids and ASINs, unix seconds).
  No verified checksum is known for it, so it is never downloaded; get it from
  the UCSD Amazon review data page (http://jmcauley.ucsd.edu/data/amazon/).
- ``Beauty.txt``: the preprocessed 5-core sequence file of S3-Rec (Zhou et
  al., CIKM 2020) as released with ICLRec (Chen et al., WWW 2022): one line per
  user, ``user item item ...`` in chronological order (22,363 users, 12,101
  items, 198,502 interactions). Timestamps are positions in the sequence.
  Downloadable from the ICLRec repository at a pinned commit; the sha256 is of
  the file as stored at that commit (identical to the copy described in
  shared/data/README.md, git blob a29773026846d857ec8176cb25f37b23ecf20155).

A third file is its own dataset, ``amazon-beauty-bert4rec``:
``amazon-beauty/beauty_bert4rec.txt``, Beauty as processed by BERT4Rec (Sun et
al., CIKM 2019; FeiSun/BERT4Rec ``data/beauty.txt``): one ``user item`` pair per
line, each user's lines in time order, 40,226 users, 54,542 items, 353,962
interactions, the larger catalogue the DFME paper's Beauty also has. A
separate name because it is a different dataset, not another copy of one.

Research use only (no data licence is stated by the publishers).
"""

from __future__ import annotations

from recsec.data import Interactions
from recsec.dataset import DataContext
from recsec.params import Param

from ._common import Archive, FileDataset, Resolved, candidates, filter_params, find, locate, unavailable
from ._sequences import pair_interactions, read_amazon_ratings_csv, sequence_interactions

RATINGS_FILE = "amazon-beauty/ratings_Beauty.csv"
SEQUENCE_FILE = "amazon-beauty/Beauty.txt"
BERT4REC_FILE = "amazon-beauty/beauty_bert4rec.txt"
BERT4REC_URL = "https://github.com/FeiSun/BERT4Rec/blob/615eaf2004abecda487a38d5b0c72f3dcfcae5b3/data/beauty.txt"
RATINGS_URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Beauty.csv"

SEQUENCE_ARCHIVE = Archive(
    "https://raw.githubusercontent.com/salesforce/ICLRec/2890e6c3ff6a22c6699fc19cb863b66786c1cde4/data/Beauty.txt",
    "Beauty.txt",
    "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8",
    1090094,
    "shared/data/README.md (sha256 of salesforce/ICLRec data/Beauty.txt at the pinned commit)",
)


class AmazonBeauty(FileDataset):
    """Amazon Beauty (McAuley et al. 2015; He & McAuley 2016), family ``sequential``.

    ``variant``: ``ratings`` reads ``ratings_Beauty.csv``; ``sequence-file``
    reads the S3-Rec/ICLRec ``Beauty.txt``; ``auto`` takes the ratings file
    when present (the original data, filtered by the reference protocol),
    else the sequence file. ``source["variant"]`` records which was read.
    The one-pass 5/5 filter leaves the already 5-core sequence file unchanged.
    """

    name = "amazon-beauty"
    family = "sequential"
    params = {
        "variant": Param("auto", help="which file to read", choices=("auto", "ratings", "sequence-file")),
        **filter_params(5),
    }

    def resolve(self, ctx: DataContext) -> Resolved:
        variant = self.p.variant
        if variant in ("auto", "ratings"):
            found = find(ctx, RATINGS_FILE)
            if found is not None:
                return Resolved({RATINGS_FILE: found}, notes={"variant": "ratings"})
            if variant == "ratings":
                raise unavailable(
                    self.name,
                    candidates(ctx, RATINGS_FILE),
                    RATINGS_URL,
                    "no verified checksum is known for ratings_Beauty.csv, so it is not downloaded; "
                    "place it there by hand",
                )
        found = find(ctx, SEQUENCE_FILE)
        if found is None:
            extra = ""
            if variant == "auto":
                extra = "also looked for the ratings file at: " + ", ".join(
                    str(p) for p in candidates(ctx, RATINGS_FILE)
                )
            found = locate(ctx, self.name, SEQUENCE_FILE, SEQUENCE_ARCHIVE, extra)
        return Resolved({SEQUENCE_FILE: found}, notes={"variant": "sequence-file"})

    def read(self, resolved: Resolved) -> Interactions:
        (label, path), = resolved.files.items()
        if label == RATINGS_FILE:
            users, items, ratings, stamps = read_amazon_ratings_csv(path)
            return Interactions.from_raw(
                users, items, ratings=ratings, timestamps=stamps,
                source={"format": "ratings_Beauty.csv (user,item,rating,timestamp)"},
            )
        return sequence_interactions(path, "Beauty.txt (S3-Rec/ICLRec release)")


class AmazonBeautyBERT4Rec(FileDataset):
    """Amazon Beauty as processed by BERT4Rec (Sun et al. 2019): 40,226 users, 54,542 items; family ``sequential``.

    Reads ``amazon-beauty/beauty_bert4rec.txt`` (one ``user item`` pair per
    line, each user's items in time order; timestamps are positions). No
    filter by default: the file is the published set (every user has at
    least 5 items; a 5/5 one-pass filter would drop 37,501 rare items). Not
    downloaded: no verified sha256 is pinned here (git blob
    16718a33ebdb33504f257421b18ae8bf3ddfe327 of FeiSun/BERT4Rec data/beauty.txt).
    """

    name = "amazon-beauty-bert4rec"
    family = "sequential"
    params = filter_params(0)

    def resolve(self, ctx: DataContext) -> Resolved:
        path = locate(ctx, self.name, BERT4REC_FILE, None,
                      f"get data/beauty.txt from {BERT4REC_URL} and save it as {BERT4REC_FILE}")
        return Resolved({BERT4REC_FILE: path})

    def read(self, resolved: Resolved) -> Interactions:
        (path,) = resolved.files.values()
        return pair_interactions(path, "beauty_bert4rec.txt (BERT4Rec release)")
