"""Built-in recommenders: every public module here defines recommenders found by
``components_in_package`` and registered like a third-party plugin's."""

from recsec.discovery import components_in_package
from recsec.hookspecs import hookimpl
from recsec.recommender import Recommender


@hookimpl
def recsec_register_recommenders(registry) -> None:
    for component in components_in_package(__name__, Recommender):
        registry.add_recommender(component)
