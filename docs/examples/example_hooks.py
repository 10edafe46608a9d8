"""The plugin module: what the ``recsec`` entry point names; one hook per kind."""

from recsec.hookspecs import hookimpl

from example_attack import ProbePollution
from example_dataset import CheckinLog
from example_defense import Throttle
from example_recommender import EASE

__version__ = "1.0"


@hookimpl
def recsec_register_datasets(registry):
    registry.add_dataset(CheckinLog)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(EASE)


@hookimpl
def recsec_register_attacks(registry):
    registry.add_attack(ProbePollution)


@hookimpl
def recsec_register_defenses(registry):
    registry.add_defense(Throttle)
