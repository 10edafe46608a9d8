"""Built-in attacks: every public module here defines attacks found by
``components_in_package`` and registered like a third-party plugin's."""

from recsec.discovery import components_in_package
from recsec.hookspecs import hookimpl
from recsec.attack import Attack


@hookimpl
def recsec_register_attacks(registry) -> None:
    for component in components_in_package(__name__, Attack):
        registry.add_attack(component)
