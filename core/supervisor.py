"""Supervised runs: the matrix computed in a child process that is allowed to die.

A cell can end its process in ways no ``except`` clause sees: the OOM killer's SIGKILL, a
segfault in native code, ``os._exit`` in a plugin. Only the parent of a process learns how it
ended (its exit status), so ``recsec run`` (``recsec.api.run``) computes its cells in a child
(``python -m recsec.supervisor JOB``: a fresh interpreter, since forking a process whose torch
has started its OpenMP threads can hang the child) and watches it:

- the child reports its end (finished, interrupted, an error): the run ends that way;
- the child dies: each cell it held (or the one it was on) counts a death with the child's
  exit status, "signal 9 (SIGKILL)" or "exit code 3" (``claims.record_death``); a cell at its
  second death is stored failed and left out, and a new child resumes the rest of the matrix.

The parent owns the run row and its heartbeat. Children report each cell's outcome as one
JSON line on a report file, so the summary counts every cell once over the restarts. Ctrl-C
and SIGTERM reach the parent (the child has its own process group, so a terminal's Ctrl-C is
not delivered twice), which passes one SIGINT on and waits for the child to put its cell
back; a child whose parent is gone stops the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import RecsecError
from .interrupts import exit_cause
from .runner import Runner, RunOptions, cell_identity, cell_log

if TYPE_CHECKING:  # pragma: no cover
    from .cells import Cell
    from .registry import Registry
    from .runner import RunSummary
    from .spec import Spec
    from .storage.db import Storage


def can_rebuild(registry: "Registry") -> bool:
    """Whether a fresh interpreter builds the same registry: every plugin comes from an installed
    distribution's entry point (plugins registered in memory, as tests do, exist only here)."""
    return bool(registry.plugins) and all(info.distribution for info in registry.plugins.values())


class SupervisedRunner(Runner):
    """A Runner whose cells are computed by child processes it restarts after a death."""

    def __init__(self, spec: "Spec", storage: "Storage", options: RunOptions) -> None:
        super().__init__(spec, storage, dataclasses.replace(options, progress=False))  # the child draws the bar
        self.child_progress = options.progress

    def _execute(self, cells: list["Cell"], run_id: int, summary: "RunSummary", bar: Any) -> None:
        from .storage import claims

        by_hash = {c.config_hash: c for c in cells}
        outcomes: dict[str, str] = {}
        exclude: set[str] = set()
        with tempfile.TemporaryDirectory(prefix="recsec-run-") as tmp:
            report = Path(tmp) / "report.jsonl"
            report.touch()
            offset = 0
            for _ in range(2 + claims.MAX_DEATHS * len(cells)):  # each restart follows a cell's death
                job = Path(tmp) / "job.json"
                job.write_text(json.dumps(self._job(run_id, sorted(exclude), report)))
                proc = subprocess.Popen([sys.executable, "-m", "recsec.supervisor", str(job)], env=_child_env(),
                                        process_group=0)
                returncode = _wait(proc)
                lines, offset = _read_from(report, offset)
                current, end = None, None
                for rec in lines:
                    if "start" in rec:
                        current = rec["start"]
                    elif "outcome" in rec:
                        current = None
                        _merge(outcomes, rec["cell"], rec["outcome"])
                        if rec.get("error"):
                            summary.failures.append((rec["label"], rec["error"]))
                    elif "end" in rec:
                        end = rec
                if end is not None:
                    summary.elsewhere += end.get("elsewhere", 0)
                    break
                cause = exit_cause(returncode)
                with self.storage.transaction() as s:
                    hit = claims.record_death(s, f"{socket.gethostname()}:{proc.pid}:", cause, run_id)
                    if not hit and current in by_hash:  # it died before claiming, e.g. in a plugin's skip()
                        hit = [claims.record_death_of(s, cell_identity(by_hash[current]), cause, run_id)]
                    died = [(c.config_hash, failed, c.error) for c, failed in hit]
                if not died:
                    raise RecsecError(f"the process computing the cells died outside any cell: {cause}")
                for key, failed, error in died:
                    if failed:  # left out of the next child: a re-run would retry a failed cell
                        exclude.add(key)
                        outcomes[key] = "failed"
                        self._report_failure(by_hash[key], error or cause, False, summary)
                    else:
                        message = f"the process died ({cause}) computing {by_hash[key].label}; resuming in a new process"
                        self.opt.log(message)
                        cell_log.warning("%s", message)
            else:
                raise RecsecError("the processes computing the cells kept dying; giving up")
        if end["end"] == "interrupted":
            raise KeyboardInterrupt("the run was interrupted")
        if end["end"] != "finished":
            raise RecsecError(end.get("error") or "the process computing the cells failed")
        for outcome in outcomes.values():
            summary.counts[outcome] += 1

    def _job(self, run_id: int, exclude: list[str], report: Path) -> dict[str, Any]:
        import logging

        o = self.opt
        verbosity = (1 if logging.getLogger("recsec.progress").isEnabledFor(logging.INFO)
                     else -1 if not logging.getLogger("recsec").isEnabledFor(logging.INFO) else 0)
        return {"spec_text": self.spec.text, "spec_path": str(self.spec.path), "db_url": self.storage.url,
                "run_id": run_id, "exclude": exclude, "report": str(report), "verbosity": verbosity,
                "logging": bool(logging.getLogger("recsec").handlers),
                "options": {"device": o.device, "force": o.force, "artifacts_dir": str(Path(o.artifacts_dir).resolve()),
                            "data_dir": o.data_dir, "allow_download": o.allow_download, "progress": self.child_progress,
                            "only": {k: sorted(v) for k, v in o.only.items()}, "shard": list(o.shard) if o.shard else None,
                            "lease_s": o.lease_s, "threads": o.threads}}


def _merge(outcomes: dict[str, str], key: str, outcome: str) -> None:
    """A cell a dead child finished shows up as ``cached`` in the next one: the first outcome counts."""
    if outcome != "cached" or key not in outcomes:
        outcomes[key] = outcome


def _read_from(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    complete = data[: data.rfind(b"\n") + 1]  # a line cut short by the child's death is dropped
    return [json.loads(line) for line in complete.splitlines() if line.strip()], offset + len(complete)


def _child_env() -> dict[str, str]:
    # The child imports what this process can: its sys.path (e.g. plugins on a path added at run time).
    path = os.pathsep.join(p for p in sys.path if p)
    return {**os.environ, "PYTHONPATH": path, "RECSEC_SUPERVISED": "1"}


def _wait(proc: subprocess.Popen) -> int:
    """Wait for the child; an interrupt of this process is passed on once per signal, then re-raised."""
    try:
        return proc.wait()
    except KeyboardInterrupt:
        while True:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue
        raise


# -- the child ---------------------------------------------------------------------------------


class _ChildRunner(Runner):
    """Computes the cells of a supervised run, reporting each start and outcome to the parent."""

    def __init__(self, spec: "Spec", storage: "Storage", options: RunOptions, exclude: set[str],
                 say: Callable[..., None]) -> None:
        super().__init__(spec, storage, options)
        self.exclude, self.say = exclude, say

    def _execute(self, cells: list["Cell"], run_id: int, summary: "RunSummary", bar: Any) -> None:
        super()._execute([c for c in cells if c.config_hash not in self.exclude], run_id, summary, bar)

    def _run_one(self, cell: "Cell", run_id: int, summary: "RunSummary") -> str:
        self.say(start=cell.config_hash)
        outcome = super()._run_one(cell, run_id, summary)
        if outcome != "busy":
            self.say(cell=cell.config_hash, label=cell.label, outcome=outcome,
                     error=summary.failures[-1][1] if outcome == "failed" else None)
        return outcome


def _watch_parent() -> None:
    """Stop like Ctrl-C when the supervising parent is gone (killed: it can no longer record deaths)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="recsec-parent-watch", daemon=True).start()


def child_main(job_path: str) -> int:
    """Run the job the parent wrote (``SupervisedRunner._job``) into its run; the exit status is 0,
    130 (interrupted), 2 (a recsec error) or 3 (a bug), each after a final ``end`` line."""
    job = json.loads(Path(job_path).read_text())
    o = job["options"]
    from .device import thread_policy

    thread_policy(o["threads"])  # before anything imports torch
    from .interrupts import configure_logging, stop_on_signals

    if job["logging"]:
        configure_logging(job["verbosity"], o["progress"])
    stop_on_signals()
    _watch_parent()
    report = open(job["report"], "a", encoding="utf-8")

    def say(**record: Any) -> None:
        report.write(json.dumps(record) + "\n")
        report.flush()

    import logging

    from .registry import default_registry
    from .spec import parse_spec
    from .storage.db import Storage

    options = RunOptions(device=o["device"], force=o["force"], artifacts_dir=Path(o["artifacts_dir"]), data_dir=o["data_dir"],
                         allow_download=o["allow_download"], progress=o["progress"], log=logging.getLogger("recsec.progress").info,
                         shard=tuple(o["shard"]) if o["shard"] else None, only={k: frozenset(v) for k, v in o["only"].items()},
                         lease_s=o["lease_s"], threads=o["threads"], run_id=job["run_id"])
    try:
        spec = parse_spec(job["spec_text"], default_registry(), job["spec_path"])
        summary = _ChildRunner(spec, Storage(job["db_url"]), options, set(job["exclude"]), say).run()
    except KeyboardInterrupt:
        say(end="interrupted")
        return 130
    except RecsecError as exc:
        say(end="error", error=str(exc))
        return 2
    except BaseException:  # noqa: BLE001 - a bug: shown whole, and the parent stops
        traceback.print_exc()
        say(end="crash", error=traceback.format_exc().strip().splitlines()[-1])
        return 3
    say(end="finished", elsewhere=summary.elsewhere)
    return 0


if __name__ == "__main__":  # pragma: no cover - the child of a supervised run
    sys.exit(child_main(sys.argv[1]))
