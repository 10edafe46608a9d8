"""Conformance test kit for recsec components, for recsec's own plugins and third-party packages.

Call the checks from your own tests::

    from recsec.testing import check_recommender, check_attack

    def test_my_recommender():
        check_recommender(MyRecommender, epochs=2)

Each check raises ``AssertionError`` with a message saying which part of the
contract (``recsec.recommender.Recommender`` etc.) is broken.
"""

from .checks import (
    check_attack,
    check_component_class,
    check_dataset,
    check_defense,
    check_recommender,
    tiny_context,
    tiny_interactions,
)

__all__ = [
    "check_attack",
    "check_component_class",
    "check_dataset",
    "check_defense",
    "check_recommender",
    "tiny_context",
    "tiny_interactions",
]
