"""The ``recsec`` command line.

Commands: ``run``, ``plugins``, ``results``, ``report``, ``db upgrade|current``, ``validate``.
Heavy libraries load only inside the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import RecsecError

DEFAULT_SPEC = "default.toml"


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the results database (default: $RECSEC_DB or sqlite:///recsec.db)")


def _add_only(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", default=[], metavar="FIELD=VALUE",
                   help="only the cells with this dataset, recommender, attack, defense or seed (a bare name or "
                   "name[k=v] as in the spec; repeat the option: one field's values are alternatives, fields "
                   "combine), e.g. --only defense=none --only seed=0; applied before --shard")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recsec", description="Attacks and defenses on recommender systems: one command, one leaderboard.")
    parser.add_argument("--version", action="version", version=f"recsec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a benchmark spec (default: the embedded synthetic benchmark)")
    run.add_argument("spec", nargs="?", help="TOML spec; omitted: the default spec shipped with recsec")
    _add_db(run)
    run.add_argument("--data-dir", metavar="DIR", help="directory holding official dataset files (default: $RECSEC_DATA_DIR)")
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="compute device (auto: cuda if present)")
    run.add_argument("--force", action="store_true", help="recompute cells that are already stored")
    run.add_argument("--artifacts", metavar="DIR", default="recsec-artifacts", help="where victim checkpoints are kept")
    run.add_argument("--no-download", action="store_true", help="never download datasets")
    run.add_argument("--shard", metavar="I/N", help="run only shard I of N (whole victim groups): start N workers "
                     "on one database, e.g. one per GPU")
    _add_only(run)
    prog = run.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress bars")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")

    val = sub.add_parser("validate", help="check a spec and list its cells without running them")
    val.add_argument("spec", nargs="?")
    val.add_argument("--shard", metavar="I/N", help="list only shard I of N")
    _add_only(val)

    plug = sub.add_parser("plugins", help="list loaded plugins and their components")
    plug.add_argument("--json", action="store_true", help="machine-readable output")

    res = sub.add_parser("results", help="export stored results")
    _add_db(res)
    res.add_argument("--format", choices=["csv", "json", "markdown"], default=None,
                     help="csv (default) or json per cell; with --summary also markdown (its default)")
    res.add_argument("--benchmark", help="only this benchmark")
    res.add_argument("--summary", nargs="+", metavar="METRIC",
                     help="one row per dataset x recommender x attack x defense: the done seeds and each METRIC's "
                     "mean ± sample std over them, e.g. --summary utility.hr@10 attack.agr@10")
    res.add_argument("--paired", metavar="FIELD=VALUE",
                     help="with --summary: each METRIC minus that of the cell with FIELD=VALUE and the same seed and "
                     "other components (diff.METRIC, mean ± sample std over the paired seeds and the 95%% confidence "
                     "interval of the mean, Student's t), e.g. --paired defense=none")

    rep = sub.add_parser("report", help="render the static HTML leaderboard")
    _add_db(rep)
    rep.add_argument("--out", required=True, metavar="DIR", help="output directory")

    db = sub.add_parser("db", help="database schema management")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply migrations up to the newest schema")
    _add_db(up)
    cur = dbsub.add_parser("current", help="show the schema revision")
    _add_db(cur)
    return parser


def default_spec_path() -> Path:
    return Path(str(resources.files("recsec") / DEFAULT_SPEC))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args, parser)
    except RecsecError as exc:
        print(f"recsec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recsec: interrupted; finished cells are stored, re-run the same command to resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "plugins":
        return _plugins(args)
    if args.command in ("run", "validate"):
        return _run(args)
    if args.command == "results":
        from .storage import repository as repo
        from .storage.db import Storage

        storage = Storage(args.db)
        storage.ensure_schema()
        with storage.transaction() as s:
            if args.summary:
                from .reports.summary import paired, render_summary, summarize

                rows = repo.export_rows(s, benchmark=args.benchmark)
                if args.paired:
                    metrics = [f"diff.{m}" for m in args.summary]
                    groups = paired(rows, args.summary, args.paired)
                else:
                    metrics, groups = args.summary, summarize(rows, args.summary)
                sys.stdout.write(render_summary(groups, metrics, args.format or "markdown", interval=bool(args.paired)))
            elif args.format == "markdown" or args.paired:
                parser.error(f"results: {'--paired' if args.paired else '--format markdown'} needs --summary")
            else:
                sys.stdout.write(repo.export(s, args.format or "csv", benchmark=args.benchmark))
        return 0
    if args.command == "report":
        from .reports import render_site
        from .storage.db import Storage

        storage = Storage(args.db)
        storage.ensure_schema()
        with storage.transaction() as s:
            out = render_site(s, Path(args.out))
        print(f"leaderboard written to {out / 'index.html'}")
        return 0
    if args.command == "db":
        from .storage.db import Storage

        if args.db_command is None:
            parser.parse_args(["db", "--help"])
        storage = Storage(args.db)
        if args.db_command == "upgrade":
            storage.upgrade()
            print(f"{storage.display_url}: schema at {storage.current_revision()}")
        else:
            print(storage.current_revision() or "empty (run `recsec db upgrade`)")
        return 0
    parser.print_help()
    return 2


def _plugins(args: argparse.Namespace) -> int:
    from .registry import default_registry

    reg = default_registry()
    desc = reg.describe()
    if args.json:
        print(json.dumps(desc, indent=2, default=str))
        return 0
    for kind, comps in desc["components"].items():
        print(f"{kind}s:")
        for c in comps:
            params = ", ".join(f"{k}={v['default']!r}" for k, v in c["params"].items())
            print(f"  {c['name']:<28} {c['version']:<6} {c['plugin']} {c['plugin_version']}")
            if params:
                print(f"      {params}")
    if desc["failures"]:
        print("failed plugins:")
        for f in desc["failures"]:
            print(f"  {f['plugin']}: {f['error']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .cells import parse_only, parse_shard, plan
    from .registry import default_registry
    from .spec import load_spec

    reg = default_registry()
    for f in reg.failures:
        print(f"recsec: warning: plugin {f.plugin} failed to load: {f.error}", file=sys.stderr)
    spec_path = Path(args.spec) if args.spec else default_spec_path()
    spec = load_spec(spec_path, reg)
    only = parse_only(args.only, spec, reg)
    part = parse_shard(args.shard) if getattr(args, "shard", None) else None
    cells = plan(spec, only, part)
    if args.command == "validate":
        for cell in cells:
            reason = cell.skip_reason()
            print(f"{cell.config_hash[:12]}  {cell.label}" + (f"  [skip: {reason}]" if reason else ""))
        print(f"{len(cells)} cells")
        return 0

    from .runner import RunOptions, Runner
    from .storage.db import Storage

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    storage = Storage(args.db)
    storage.ensure_schema()
    opts = RunOptions(
        device=args.device,
        force=args.force,
        artifacts_dir=Path(args.artifacts),
        data_dir=args.data_dir,
        allow_download=not args.no_download,
        progress=progress,
        log=_logger(progress),
        shard=part,
        only=only,
    )
    print(f"recsec: {spec.name}: {len(cells)} cells -> {storage.display_url}", file=sys.stderr)
    _stop_on_signals()
    summary = Runner(spec, storage, opts).run()
    c = summary.counts
    print(f"recsec: {spec.name}: {c['done']} done, {c['cached']} already stored, {c['skipped']} skipped, {c['failed']} failed", file=sys.stderr)
    return 1 if c["failed"] else 0


def _stop_on_signals() -> None:
    """Make SIGTERM and SIGINT stop a run the way Ctrl-C does.

    A scheduler or ``kill`` stops a worker with SIGTERM, whose default would end
    the process on the spot and leave its cell and run marked "running"; a shell
    starts background jobs with SIGINT ignored. Both now raise KeyboardInterrupt,
    so the current cell goes back to "pending" (its victim's training state is
    kept), the run is stored as "interrupted", and the same command resumes.
    """
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _logger(progress: bool):
    def log(msg: str) -> None:
        if progress:
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr)

    return log


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
