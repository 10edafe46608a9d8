"""A recsec cluster on SLURM with dask-jobqueue: one Dask worker per GPU, as many as asked.

    pip install 'recsec[cluster]'                       # dask-jobqueue
    python benchmarks/cluster/slurm.py --gpus 16 --scheduler-file ~/recsec-scheduler.json &
    recsec run SPEC --scheduler ~/recsec-scheduler.json --db postgresql://user@dbhost/recsec \\
        --artifacts /shared/recsec-artifacts --data-dir /shared/data

The script submits one batch job per GPU (the scheduler places several on a node), writes the
scheduler file and keeps the cluster up until it is stopped (Ctrl-C cancels the jobs). Each job
asks for one GPU, which the batch system makes the job's only visible device, and runs one Dask
worker with one task slot, so each runs its cells on ``cuda``. The database must be one every
node reaches (PostgreSQL), and ``--artifacts`` and ``--data-dir`` folders every node reads: cells
reload the victim trained for their group from there. PBS and SGE work the same
(``--kind pbs|sge``: ``dask_jobqueue.PBSCluster`` / ``SGECluster``).
"""

from __future__ import annotations

import argparse
import time

KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster"}


#: The batch directive that asks for one GPU per job, per batch system.
ONE_GPU = {"slurm": "--gres=gpu:1", "pbs": "-l ngpus=1", "sge": "-l gpu=1"}


def make_cluster(kind: str = "slurm", cores: int = 4, memory: str = "32GB", walltime: str = "08:00:00",
                 queue: str | None = None, account: str | None = None, python: str | None = None):
    """The dask-jobqueue cluster object, one GPU and one worker per job (nothing is submitted until ``scale``)."""
    import dask_jobqueue

    cls = getattr(dask_jobqueue, KINDS[kind])
    options = {"account": account} if account else {}
    # one process with one task slot: a worker computes one cell at a time on its GPU, with ``cores``
    # CPU threads for its data work (recsec run --threads-per-worker sets torch's)
    if kind == "slurm":
        options["job_cpu"] = cores
    return cls(cores=1, processes=1, memory=memory, walltime=walltime, queue=queue, python=python,
               job_extra_directives=[ONE_GPU[kind]], scheduler_options={"dashboard_address": None}, **options)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=sorted(KINDS), default="slurm")
    ap.add_argument("--gpus", type=int, default=1, help="GPUs, hence batch jobs and workers")
    ap.add_argument("--cores", type=int, default=4, help="CPU cores per job")
    ap.add_argument("--memory", default="32GB", help="memory per job")
    ap.add_argument("--walltime", default="08:00:00")
    ap.add_argument("--queue")
    ap.add_argument("--account")
    ap.add_argument("--scheduler-file", required=True)
    ap.add_argument("--print-job-script", action="store_true", help="print the worker job script and exit")
    args = ap.parse_args(argv)
    cluster = make_cluster(args.kind, args.cores, args.memory, args.walltime, args.queue, args.account)
    if args.print_job_script:
        print(cluster.job_script())
        return
    from distributed import Client

    cluster.scale(jobs=args.gpus)
    with Client(cluster) as client:
        client.write_scheduler_file(args.scheduler_file)
        print(f"scheduler file {args.scheduler_file}; run: recsec run SPEC --scheduler {args.scheduler_file} ...")
        try:
            while True:
                time.sleep(60)
        except KeyboardInterrupt:
            cluster.close()


if __name__ == "__main__":
    main()
