"""The dataset contract: ``Dataset``, the file-backed ``FileDataset`` and where they look for files."""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .bounded import read_data
from .component import Component
from .data import Interactions
from .datacache import cache_key, cached_interactions, file_sha256, verified_sha256
from .datacache import sha256_file  # noqa: F401 - recsec.dataset's public helper
from .downloads import download, extract_zip, folder_lock  # noqa: F401 - recsec.dataset's public helpers
from .errors import DataUnavailableError
from .params import Param
from .preprocess import DUPLICATE_POLICIES, drop_duplicates, first_duplicate, one_pass_filter

log = logging.getLogger("recsec.datasets")


@dataclass(frozen=True)
class DataContext:
    """Where datasets look for and cache files.

    Attributes:
        data_dir: the directory holding official file layouts
            (``RECSEC_DATA_DIR`` or ``--data-dir``); None if unset.
        cache_dir: where downloads and preprocessed caches go.
        allow_download: fetch from the publisher's URL when files are absent.
        progress: show progress bars.
    """

    data_dir: Path | None
    cache_dir: Path
    allow_download: bool = True
    progress: bool = False

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None, **kw) -> "DataContext":
        d = data_dir or os.environ.get("RECSEC_DATA_DIR")
        cache = Path(os.environ.get("RECSEC_CACHE_DIR", Path.home() / ".cache" / "recsec"))
        return cls(Path(d).expanduser() if d else None, cache, **kw)


class Dataset(Component):
    """Base class of every dataset.

    Class attributes:
        family: ``"ratings"`` (user-item events, matrix-factorisation work) or
            ``"sequential"`` (time-ordered sequences); both load ``Interactions``.
        quiet_defaults: parameters a loader gained after results were stored, each with
            the value that reads files exactly as before; at that value a parameter stays
            out of the identity and the fingerprint, so stored results (and the victims'
            training folders) keep their keys.
    """

    kind: ClassVar[str] = "dataset"
    family: ClassVar[str] = "ratings"
    quiet_defaults: ClassVar[dict[str, Any]] = {}

    def load(self, ctx: DataContext) -> Interactions:
        """Read (or generate) the interactions. Must be deterministic for given parameters."""
        raise NotImplementedError

    def files(self, ctx: DataContext | None = None) -> dict[str, Path]:
        """The files ``load`` reads, by a stable label: their bytes are part of the fingerprint.

        This default finds every string parameter whose value names an existing file
        (absolute, or relative to ``ctx.data_dir`` or else the working directory),
        labelled ``param:<name>``: a dataset that reads the file a parameter names is
        fingerprinted by that file's content without writing anything. Override it when
        ``load`` reads files found otherwise (``FileDataset`` returns what it resolves).
        """
        roots = [Path(ctx.data_dir)] if ctx is not None and ctx.data_dir is not None else []
        found: dict[str, Path] = {}
        for name, value in sorted(self.param_values.items()):
            if not isinstance(value, str) or not value.strip():
                continue
            try:
                path = Path(value).expanduser()
                for candidate in [path] if path.is_absolute() else [*(root / path for root in roots), path]:
                    if candidate.is_file():
                        found[f"param:{name}"] = candidate
                        break
            except (OSError, ValueError):  # a name too long or with a NUL is no file
                continue
        return found

    @property
    def identity_params(self) -> dict[str, Any]:
        """Every parameter value, less those at their ``quiet_defaults`` value."""
        quiet = self.quiet_defaults
        return {k: v for k, v in self.param_values.items() if k not in quiet or v != quiet[k]}

    def identity(self) -> dict[str, Any]:
        out = super().identity()
        out["params"] = self.identity_params
        return out

    def fingerprint(self, ctx: DataContext | None = None) -> str:
        """A sha256 that changes whenever the data ``load`` returns would: part of every result's key.

        It covers the content of every file ``files`` names (hashed, never parsed; a
        file's path, size and modification time are not its identity), the name, the
        version and every parameter value. A dataset generated from parameters alone
        (no files) is fingerprinted by those. Override it only when ``load`` depends on
        something that is neither a file nor a parameter.
        """
        return self.content_key(self.files(ctx), ctx)[0]

    def content_key(self, files: dict[str, Path], ctx: DataContext | None,
                    verify: bool = False) -> tuple[str, dict[str, str]]:
        """(fingerprint, ``{label: sha256}``) of ``files``; ``verify`` hashes them afresh,
        not trusting the digest memo (``recsec.datacache``)."""
        root = ctx.cache_dir if ctx is not None else None
        digest = verified_sha256 if verify else file_sha256
        digests = {label: digest(path, root) for label, path in files.items()}
        return cache_key(self.name, self.version, digests, self.identity_params), digests


#: The ``duplicates`` parameter of a file-backed dataset (``recsec.preprocess.DUPLICATE_POLICIES``).
DUPLICATES = Param("error", choices=DUPLICATE_POLICIES, search=False,
                   help="repeated (user, item) rows: error (refuse the file, naming the line), first or last "
                   "(keep the user's earliest or latest event of the pair)")


@dataclass
class Resolved:
    """The files a load reads: ``{stable label: path}`` plus notes and warnings for the source record."""

    files: dict[str, Path]
    notes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class FileDataset(Dataset):
    """A dataset read from files; subclasses implement ``resolve`` and ``read``.

    ``load`` = resolve files -> hash them (the plan's fingerprint re-verified) -> cache
    lookup by key (content sha256 + name + version + parameters) -> on a miss, read ->
    duplicate (user, item) rows refused or resolved by the ``duplicates`` parameter
    (``DUPLICATES``; "error" when a subclass declares none) -> ``preprocess`` -> store.
    ``read`` must return the rows in file order, so a duplicate is named by its line.
    """

    version: ClassVar[str] = "1"
    quiet_defaults: ClassVar[dict[str, Any]] = {"duplicates": "error"}

    def resolve(self, ctx: DataContext) -> Resolved:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, resolved: Resolved) -> Interactions:  # pragma: no cover - abstract
        raise NotImplementedError

    def preprocess(self, data: Interactions) -> Interactions:
        """The one-pass filter by the ``min_item_count`` / ``min_user_count`` parameters (off when undeclared)."""
        return one_pass_filter(data, int(self.p.get("min_item_count", 0)), int(self.p.get("min_user_count", 0)))

    def files(self, ctx: DataContext | None = None) -> dict[str, Path]:
        return self.resolve(ctx).files

    def fingerprint(self, ctx: DataContext | None = None) -> str:
        """The content fingerprint (``Dataset.fingerprint``) of the resolved files. The instance
        remembers it: ``load`` refuses data that changed since, instead of filing it under the
        old fingerprint."""
        key = super().fingerprint(ctx)
        self._planned_fingerprint = key
        return key

    def load(self, ctx: DataContext) -> Interactions:
        resolved = self.resolve(ctx)
        for message in resolved.warnings:
            warnings.warn(message, stacklevel=2)
        key, digests = self.content_key(resolved.files, ctx, verify=True)
        files = ", ".join(str(p) for p in resolved.files.values())
        planned = getattr(self, "_planned_fingerprint", None)
        if planned is not None and planned != key:
            raise DataUnavailableError(
                f"dataset {self.instance_name!r}: {files} changed after the run was planned; "
                "run again to file results under the new data"
            )

        def build() -> Interactions:
            try:
                raw = self.read(resolved)
            except (ValueError, EOFError, OSError) as exc:  # a reader that let a raw error through
                raise DataUnavailableError(f"{files}: cannot be read as {self.name} data ({type(exc).__name__}: {exc})") from exc
            raw = self.resolve_duplicates(raw, resolved)
            log.info("%s: read %s", self.name, raw.stats())
            return self.preprocess(raw)

        data, hit = cached_interactions(ctx.cache_dir, self.name, key, build)
        source = dict(data.source)
        source.update(resolved.notes)
        source.update(
            dataset=self.name,
            file=", ".join(resolved.files),  # the stable label(s) of what was read: which alternative
            files={k: str(v) for k, v in resolved.files.items()},
            sha256=digests,
            key=key,  # = fingerprint(ctx)
        )
        data = dataclasses.replace(data, source=source)
        log.info("%s%s: %s", self.instance_name, " (cached)" if hit else "", data.stats())
        return data

    def resolve_duplicates(self, raw: Interactions, resolved: Resolved) -> Interactions:
        """``raw`` with repeated (user, item) rows dropped by the ``duplicates`` policy, or a
        DataUnavailableError naming the file and line of the first repeat ("error")."""
        policy = self.p.get("duplicates", "error")
        if policy != "error":
            return drop_duplicates(raw, policy)
        found = first_duplicate(raw)
        if found is None:
            return raw
        row, earlier = found
        user = raw.raw_user_ids[raw.users[row]] if raw.raw_user_ids is not None else raw.users[row]
        item = raw.raw_item_ids[raw.items[row]] if raw.raw_item_ids is not None else raw.items[row]
        fix = (f"set duplicates=first or duplicates=last on {self.name} to keep one event"
               if "duplicates" in self.params else "remove the repeat")
        where = self.row_lines(resolved, len(raw))
        if where is None:
            at = f"{', '.join(str(p) for p in resolved.files.values())}: row {row + 1}"
            first = f"row {earlier + 1}"
        else:
            path, lines = where
            at, first = f"{path}:{lines[row]}", f"line {lines[earlier]}"
        raise DataUnavailableError(
            f"{at}: user {_id(user)} and item {_id(item)} again (first at {first}); a repeated pair would let "
            f"leave-one-out hold out an event that training still has: {fix}")

    def row_lines(self, resolved: Resolved, n_rows: int) -> tuple[Path, np.ndarray] | None:
        """(file, the 1-based line of each row ``read`` returned), for messages; None if unknown.

        This default reads the one file's non-blank lines as one row each (after a
        header, when there is one line more than rows) or as one user each (``user
        item item ...``: a row per item). Runs only to explain an error.
        """
        if len(resolved.files) != 1:
            return None
        (path,) = resolved.files.values()
        try:
            lines = [(i + 1, line) for i, line in enumerate(read_data(path).split(b"\n")) if line.strip()]
        except (OSError, EOFError, zlib.error):
            return None
        numbers = np.array([n for n, _ in lines], dtype=np.int64)
        if len(numbers) in (n_rows, n_rows + 1):
            return path, numbers[len(numbers) - n_rows:]
        per_line = np.array([len(line.split()) - 1 for _, line in lines], dtype=np.int64)
        return (path, np.repeat(numbers, per_line)) if len(lines) and per_line.sum() == n_rows else None


def _id(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def dataset_error(dataset: Dataset, exc: Exception) -> DataUnavailableError:
    """An error a dataset let through raw (not a RecsecError), as one line naming the dataset."""
    return DataUnavailableError(f"dataset {dataset.instance_name!r}: {type(exc).__name__}: {exc}")
