"""Stored files (a trained victim's checkpoint) keyed by what produced them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recsec.storage.models import Artifact
from recsec.storage.rows import _clean, _insert_if_missing


def _artifact_dict(artifact: Artifact) -> dict[str, Any]:
    return {name: getattr(artifact, name) for name in ("key", "kind", "path", "sha256", "meta", "created_at")}


def record_artifact(
    session: Session, key: str, *, kind: str, path: str, sha256: str, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Store (or replace) the artifact ``key``, e.g. a trained victim's checkpoint file.

    Returns it as :func:`get_artifact` does.
    """
    values = {"key": key, "kind": kind, "path": str(path), "sha256": sha256, "meta": _clean(meta or {})}
    _insert_if_missing(session, Artifact.__table__, values, "key")
    artifact = session.scalars(
        select(Artifact).where(Artifact.key == key).with_for_update().execution_options(populate_existing=True)
    ).one()
    for name, value in values.items():
        setattr(artifact, name, value)
    session.flush()
    return _artifact_dict(artifact)


def get_artifact(session: Session, key: str) -> dict[str, Any] | None:
    """Return the artifact ``key`` as a plain dict (key, kind, path, sha256, meta, created_at), or ``None``.

    A dict, not a row, because callers use it after the transaction has ended.
    """
    artifact = session.get(Artifact, key)
    return None if artifact is None else _artifact_dict(artifact)
