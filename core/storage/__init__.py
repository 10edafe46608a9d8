"""recsec's results database: models, connection/migrations (``db``) and queries (``repository``)."""

from recsec.storage.db import Storage, StorageError

__all__ = ["Storage", "StorageError"]
