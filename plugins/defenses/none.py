"""The undefended baseline."""

from recsec.defense import Defense


class NoDefense(Defense):
    """No defense: the victim's lists are returned unchanged."""

    name = "none"
    version = "1"
