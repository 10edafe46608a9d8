"""The ``recsec`` command line.

Commands: ``run``, ``plugins``, ``results``, ``report``, ``db upgrade|current``, ``validate``.
Heavy libraries load only inside the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from . import __version__
from .cli_errors import fail as _fail
from .cli_errors import outside_error
from .cli_types import count_arg, gpus_arg, seconds_arg
from .errors import RecsecError
from .interrupts import configure_logging, stop_on_signals



class _Parser(argparse.ArgumentParser):
    """argparse with recsec's error format: one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("recsec").strip()
        self.exit(2, f"recsec: error: {command + ': ' if command else ''}{message} (see `{self.prog} --help`)\n")


def _device_arg(text: str) -> str:
    from .device import device_problem

    if (problem := device_problem(text)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR", help="directory holding official dataset files (default: $RECSEC_DATA_DIR)")


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the results database (default: $RECSEC_DB or sqlite:///recsec.db)")


def _add_only(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", default=[], metavar="FIELD=VALUE",
                   help="only the cells with this dataset, recommender, attack, defense or seed (a bare name or "
                   "name[k=v] as in the spec; repeat the option: one field's values are alternatives, fields "
                   "combine), e.g. --only defense=none --only seed=0; applied before --shard")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recsec", description="Attacks and defenses on recommender systems: one command, one leaderboard.")
    parser.add_argument("--version", action="version", version=f"recsec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a benchmark spec (default: the embedded synthetic benchmark)")
    run.add_argument("spec", nargs="?", help="TOML spec; omitted: the default spec shipped with recsec")
    _add_db(run)
    _add_data_dir(run)
    run.add_argument("--device", default="auto", type=_device_arg, metavar="DEVICE",
                     help="auto (cuda if present; the spec's benchmark.device if it names one), cpu, cuda or cuda:N")
    run.add_argument("--force", action="store_true", help="recompute cells that are already stored")
    run.add_argument("--artifacts", metavar="DIR", default="recsec-artifacts", help="where victim checkpoints are kept")
    run.add_argument("--no-download", action="store_true", help="never download datasets")
    run.add_argument("--shard", metavar="I/N", help="run only shard I of N (whole victim groups): start N workers "
                     "on one database, e.g. one per GPU")
    _add_only(run)
    scale = run.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=count_arg(0), default=0, metavar="N",
                       help="run on a local Dask cluster of N worker processes (cells sharing a victim wait for its training)")
    scale.add_argument("--scheduler", metavar="ADDRESS|FILE",
                       help="run on an existing Dask cluster: a scheduler address or scheduler file (e.g. from dask-jobqueue)")
    run.add_argument("--gpus", type=gpus_arg, metavar="0,1,...", help="with --workers: put workers on these GPUs (each sees one, as cuda)")
    run.add_argument("--per-gpu", type=count_arg(1), default=1, metavar="N", help="with --gpus: workers (cells at once) per GPU")
    run.add_argument("--threads", "--threads-per-worker", dest="threads", type=count_arg(0), default=0, metavar="N",
                     help="torch threads of each process computing cells: this run's, or each worker's with --workers "
                     "(default: the cores available divided among them, at most the physical cores)")
    run.add_argument("--trial-tasks", type=count_arg(0), default=0, metavar="N",
                     help="on a cluster: run a tuned cell's Optuna trials as N parallel tasks on one study")
    run.add_argument("--lease", type=seconds_arg, default=90.0, metavar="SECONDS",
                     help="how long a cell's claim lasts without a heartbeat; a dead worker's cell is retried after it")
    prog = run.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress bars")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="also log what components report (epochs, losses)")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log only failures")

    val = sub.add_parser("validate", help="check a spec and list its cells without running them")
    val.add_argument("spec", nargs="?")
    _add_data_dir(val)
    val.add_argument("--shard", metavar="I/N", help="list only shard I of N")
    _add_only(val)

    plug = sub.add_parser("plugins", help="list loaded plugins and their components")
    plug.add_argument("--json", action="store_true", help="machine-readable output")

    res = sub.add_parser("results", help="export stored results (reads the database, never changes it)")
    _add_db(res)
    res.add_argument("--format", choices=["csv", "json", "markdown"], default=None,
                     help="csv (default) or json per cell, with every identity column; with --summary also markdown (its default)")
    res.add_argument("--benchmark", help="only this benchmark")
    res.add_argument("--summary", nargs="+", metavar="METRIC",
                     help="one row per setup (every identity field but the seed): n, the done seeds and each METRIC's "
                     "mean ± sample std over them, e.g. --summary utility.hr@10 attack.agr@10")
    res.add_argument("--paired", metavar="FIELD=VALUE",
                     help="with --summary: each METRIC minus that of the cell with FIELD=VALUE and the same seed and "
                     "everything else (diff.METRIC, mean ± sample std over the paired seeds and the 95%% confidence "
                     "interval of the mean, Student's t), e.g. --paired defense=none")

    rep = sub.add_parser("report", help="render the static HTML leaderboard (reads the database, never changes it)")
    _add_db(rep)
    rep.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")

    db = sub.add_parser("db", help="database schema management")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations up to the newest schema")
    _add_db(up)
    cur = dbsub.add_parser("current", help="show the schema revision")
    _add_db(cur)
    return parser


def default_spec_path() -> Path:
    from .api import default_spec_path as path

    return path()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args, parser)
    except RecsecError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("recsec: interrupted; finished cells are stored, re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a closed pipe, a file, a database refusing a write: one line, no traceback
        if (message := outside_error(exc, getattr(args, "db", None))) is None:
            raise
        return _fail(message)


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "plugins":
        return _plugins(args)
    if args.command in ("run", "validate"):
        return _run(args)
    if args.command == "results":
        return _results(args, parser)
    if args.command == "report":
        return _report(args, parser)
    if args.command == "db":
        from .storage.db import Storage

        if args.db_command == "upgrade":
            storage = Storage(args.db)
            storage.upgrade()
            print(f"{storage.display_url}: schema at {storage.current_revision()}")
        else:
            print(Storage(args.db, readonly=True).current_revision() or "empty (run `recsec db upgrade`)")
        return 0
    parser.print_help()
    return 2


def _results(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.summary and (args.format == "markdown" or args.paired):
        parser.error(f"results: {'--paired' if args.paired else '--format markdown'} needs --summary")
    from .results import load
    from .tables import cell_rows, to_csv, to_json

    results = _read(args.db, args.benchmark)
    if args.summary:
        from .reports.summary import paired, render_summary, summarize

        if args.paired:
            metrics = [f"diff.{m}" for m in args.summary]
            groups = paired(results.cells, args.summary, args.paired)
        else:
            metrics, groups = args.summary, summarize(results.cells, args.summary)
        sys.stdout.write(render_summary(groups, metrics, args.format or "markdown", interval=bool(args.paired)))
        return 0
    rows, columns = cell_rows(results.cells)
    sys.stdout.write(to_json(rows) if args.format == "json" else to_csv(rows, columns))
    return 0


def _read(db: str | None, benchmark: str | None = None):  # -> recsec.results.Results
    """Load the results read-only, saying on stderr which database was read."""
    from .results import load, open_storage

    storage = open_storage(db)
    try:
        print(f"recsec: reading {storage.display_url}", file=sys.stderr)
        return load(storage, benchmark)
    finally:
        storage.dispose()


def _report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .reports import render_site
    from .reports.folder import check_site_folder, claim_site_folder

    out = Path(args.out)
    check_site_folder(out)  # before reading: a refused folder costs nothing
    results = _read(args.db)
    site = render_site(results, claim_site_folder(out))  # marked first: a failed render stays re-renderable
    print(f"leaderboard written to {site / 'index.html'}")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .registry import default_registry

    reg = default_registry()
    desc = reg.describe()
    if args.json:
        print(json.dumps(desc, indent=2, default=str))
        return 0
    n = sum(len(c) for c in desc["components"].values())
    print(f"recsec {__version__}: {n} components from {len(desc['plugins'])} plugins "
          "(recsec plugins --json: every parameter's default and search space)")
    every = [c for comps in desc["components"].values() for c in comps]
    widths = [max([len(h), *(len(cell) for cell in cells)]) for h, cells in (
        ("NAME", [c["name"] for c in every]), ("VERSION", [c["version"] for c in every]),
        ("PLUGIN", [f"{c['plugin']} {c['plugin_version']}".strip() for c in every]))]

    def line(*cols: str) -> str:
        return "  " + " ".join(f"{col:<{w}}" for col, w in zip(cols, widths)) + " " + cols[-1]

    for kind, comps in desc["components"].items():
        print(f"\n{kind}s:")
        print(line("NAME", "VERSION", "PLUGIN", "DESCRIPTION"))
        for c in comps:
            plugin = f"{c['plugin']} {c['plugin_version']}".strip()
            print(line(c["name"], c["version"], plugin, " ".join(c["doc"].split()) or "-"))
            params = ", ".join(f"{k}={v['default']!r}" for k, v in c["params"].items())
            if params:
                print(f"      params: {params}")
    if desc["failures"]:
        print("\nfailed plugins:")
        for f in desc["failures"]:
            print(f"  {f['plugin']}: {f['error']}")
    if desc["conflicts"]:
        print("conflicting registrations:")
        for c in desc["conflicts"]:
            print(f"  {c['message']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    """``run`` and ``validate``: every check comes before the results database is opened."""
    from . import preflight
    from .cells import fingerprint_cells, parse_only, parse_shard, plan
    from .dataset import DataContext
    from .registry import default_registry
    from .spec import load_spec

    reg = default_registry()
    for f in reg.failures:
        print(f"recsec: warning: plugin {f.plugin}: {f.error}", file=sys.stderr)
    for c in reg.conflicts:
        print(f"recsec: warning: {c.message}", file=sys.stderr)
    spec_path = Path(args.spec) if args.spec else default_spec_path()
    spec = load_spec(spec_path, reg)
    only = parse_only(args.only, spec, reg)
    part = parse_shard(args.shard) if getattr(args, "shard", None) else None
    if args.command == "validate":
        data = DataContext.from_env(args.data_dir, allow_download=False)
        preflight.check_data_dir(data)
        cells = plan(spec, only, part)
        missing = fingerprint_cells(cells, data, missing_ok=True)
        for cell in cells:
            reason = cell.skip_reason()
            key = cell.config_hash[:12] if cell.data_fingerprint else "-" * 12
            print(f"{key}  {cell.label}" + (f"  [skip: {reason}]" if reason else ""))
        print(f"{len(cells)} cells")
        for name in missing:
            print(f"recsec: note: {name}: data not found locally (no download here), so its cells' keys are not "
                  "known yet", file=sys.stderr)
        return 0

    from .api import run

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    configure_logging(1 if args.verbose else -1 if args.quiet else 0, progress)
    gpus = args.gpus or []
    stop_on_signals()
    summary = run(spec, db=args.db, workers=args.workers, scheduler=args.scheduler, only=args.only, shard=args.shard,
                  data_dir=args.data_dir, device=args.device, force=args.force, artifacts=args.artifacts,
                  allow_download=not args.no_download, progress=progress, gpus=gpus, per_gpu=args.per_gpu,
                  trial_tasks=args.trial_tasks, lease_s=args.lease, threads=args.threads,
                  announce=lambda msg: print(f"recsec: {msg}", file=sys.stderr))
    c = summary.counts
    print(f"recsec: {spec.name}: {c['done']} done, {c['cached']} already stored, {c['skipped']} skipped, {c['failed']} failed", file=sys.stderr)
    return 1 if c["failed"] else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
