"""recsec-example: one plugin module registering three components."""

from recsec.hookspecs import hookimpl

from .defense import BlockShuffle
from .extraction import Copycat
from .membership import PopularityGap

__version__ = "1.0"


@hookimpl
def recsec_register_attacks(registry):
    registry.add_attack(PopularityGap)
    registry.add_attack(Copycat)


@hookimpl
def recsec_register_defenses(registry):
    registry.add_defense(BlockShuffle)
