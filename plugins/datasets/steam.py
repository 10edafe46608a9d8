"""Steam (sequential recommendation), as preprocessed for SASRec.

W.-C. Kang and J. McAuley. 2018. Self-Attentive Sequential Recommendation.
ICDM 2018 (introduces the Steam data set: about 334,730 users, 13,047 items,
3.7 M actions).

Reads ``<data_dir>/steam/Steam.txt[.gz]``: one ``user item`` pair per line,
each user's lines in time order (the SASRec data release). Timestamps are the
positions in each user's sequence.

Not downloaded automatically: no verified sha256 of ``Steam.txt`` is known
(the public copies are identified only by their git blob id,
a0e80e7ae37ef2cf9410daf23c3e28ea6f6c31b7, e.g. in pmixer/SASRec.pytorch).
Research use only (UCSD/McAuley data, no licence stated).
"""

from __future__ import annotations

from recsec.data import Interactions
from recsec.dataset import DataContext

from ._common import FileDataset, Resolved, filter_params, locate
from ._sequences import pair_interactions

STEAM_FILE = "steam/Steam.txt"
STEAM_URL = "https://github.com/pmixer/SASRec.pytorch/blob/master/data/Steam.txt (SASRec data release)"


class Steam(FileDataset):
    """Steam from the SASRec paper (Kang & McAuley 2018), family ``sequential``, one-pass 5/5 filter."""

    name = "steam"
    family = "sequential"
    params = filter_params(5)

    def resolve(self, ctx: DataContext) -> Resolved:
        path = locate(
            ctx, self.name, STEAM_FILE, None,
            f"get Steam.txt from {STEAM_URL}; it is not downloaded automatically "
            "because no verified checksum is known",
        )
        return Resolved({STEAM_FILE: path})

    def read(self, resolved: Resolved) -> Interactions:
        (path,) = resolved.files.values()
        return pair_interactions(path, "Steam.txt (SASRec release)")
