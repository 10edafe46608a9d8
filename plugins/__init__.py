"""recsec's built-in components, registered through the ``recsec`` entry-point group
exactly as a third-party package's would be (see pyproject.toml)."""
