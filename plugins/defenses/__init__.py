"""Built-in defenses: every public module here defines defenses found by
``components_in_package`` and registered like a third-party plugin's."""

from recsec.discovery import components_in_package
from recsec.hookspecs import hookimpl
from recsec.defense import Defense


@hookimpl
def recsec_register_defenses(registry) -> None:
    for component in components_in_package(__name__, Defense):
        registry.add_defense(component)
