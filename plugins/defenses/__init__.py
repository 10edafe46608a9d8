"""Built-in defenses, registered through the ``recsec`` entry point like a third-party plugin's.

``DEFENSES`` lists them explicitly: a new defense module adds its classes there.
Importing this package imports no torch (defenses import it when they train or score).
"""

from recsec.hookspecs import hookimpl

from .detection import PradaDetector, SameDetector
from .dp_sgd import DPSGD
from .gro import GRO
from .list_shuffle import ListShuffle
from .none import NoDefense
from .perturbation import RandomPermutation, RandomReplacement, Reverse, Truncate
from .popularity_randomization import PopularityRandomization
from .watermark import AOW

#: Every built-in defense, in registration order.
DEFENSES = (PradaDetector, SameDetector, DPSGD, GRO, ListShuffle, NoDefense, RandomPermutation, RandomReplacement, Reverse,
            Truncate, PopularityRandomization, AOW)


@hookimpl
def recsec_register_defenses(registry) -> None:
    for component in DEFENSES:
        registry.add_defense(component)
