"""A plugin whose hook raises: the registry must report it and load the others."""

from recsec.hookspecs import hookimpl


@hookimpl
def recsec_register_attacks(registry):
    raise RuntimeError("this plugin is broken on purpose")
