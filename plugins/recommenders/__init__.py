"""Built-in recommenders, registered through the ``recsec`` entry point like a third-party plugin's.

``RECOMMENDERS`` lists them explicitly: a new recommender module adds its
classes there. The sequential ones build on ``recsec.plugins.sequential``.
Importing this package imports no torch (the networks are built on ``fit``).
"""

from recsec.hookspecs import hookimpl

from .bert4rec import BERT4Rec
from .fism import FISM
from .gru4rec import GRU4Rec
from .itemcf import ItemCF
from .lfm import LFM
from .narm import NARM
from .popular import MostPopular
from .sasrec import SASRec

#: Every built-in recommender, in registration order.
RECOMMENDERS = (BERT4Rec, FISM, GRU4Rec, ItemCF, LFM, NARM, MostPopular, SASRec)


@hookimpl
def recsec_register_recommenders(registry) -> None:
    for component in RECOMMENDERS:
        registry.add_recommender(component)
