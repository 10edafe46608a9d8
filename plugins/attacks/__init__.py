"""Built-in attacks, registered through the ``recsec`` entry point like a third-party plugin's.

``ATTACKS`` lists them explicitly: a new attack module adds its classes there.
Importing this package imports no torch (attacks import it when they run).
"""

from recsec.hookspecs import hookimpl

from .dl_mia import DLMIA
from .extraction import DFMEAutoregressive, DFMERandom, FewShotExtraction
from .membership import ZhangMIA
from .mia_metric import MetricMIA
from .pollution import ProfilePollution

#: Every built-in attack, in registration order.
ATTACKS = (DFMEAutoregressive, DFMERandom, FewShotExtraction, ZhangMIA, MetricMIA, DLMIA, ProfilePollution)


@hookimpl
def recsec_register_attacks(registry) -> None:
    for component in ATTACKS:
        registry.add_attack(component)
