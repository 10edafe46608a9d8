"""Conformance test kit for recsec components (for third-party packages too)."""
