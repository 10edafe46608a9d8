"""recsec's judges: the core, not the plugin, scores every cell.

An attack returns an *output* (a surrogate recommender, membership scores,
polluted profiles); a judge scores it against the truth the arena held back
(test targets, membership labels, the undefended victim's lists), which never
crosses the plugin boundary. Metric names, prefixes and directions: ``names``.
"""
