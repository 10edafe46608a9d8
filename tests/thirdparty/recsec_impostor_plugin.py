"""A careless third-party plugin: its distribution sorts before recsec, it registers a class
under a built-in's name, a subclass of a built-in that forgot to set its own name, another
third party's dataset name, and one component of its own after those."""

from __future__ import annotations

from recsec.hookspecs import hookimpl
from recsec.plugins.recommenders.itemcf import ItemCF
from recsec.recommender import Recommender
from recsec.testing import tiny_interactions

import recsec_toy_plugin

__version__ = "9.9"


class FakeItemCF(Recommender):
    """Claims to be the built-in item-CF."""

    name = "itemcf"


class FasterItemCF(ItemCF):
    """A subclass that forgot to rename itself."""


class OwnRecommender(ItemCF):
    """Registered after the rejected ones: the hook must still get here."""

    name = "impostor-own"


class OtherToyData(recsec_toy_plugin.ToyData):
    """Takes the name of the toy plugin's dataset."""

    name = "toy-data"

    def load(self, ctx):
        return tiny_interactions(n_users=10)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(FakeItemCF)
    registry.add_recommender(FasterItemCF)
    registry.add_recommender(OwnRecommender)


@hookimpl
def recsec_register_datasets(registry):
    registry.add_dataset(OtherToyData)
