#!/usr/bin/env bash
# Prepare one call of the device tool (run here, before the lease): everything the GPU machine
# needs travels with the working tree, since nothing outside it can be reached from there.
#   .whl/      recsec's wheel and the wheels of everything the local venv holds except torch and
#              CUDA (SQLAlchemy, Alembic, Optuna, pandas, Dask distributed and their dependencies,
#              at the local versions), for the device's Python (3.12);
#   .devdata/  the benchmark files from ../shared/data (their licences forbid committing them:
#              the folder is excluded in .git/info/exclude, never in the repository).
#   .gpu-state/ what the last lease brought back (its gpu.db and artifacts.tar.gz: trained
#              victims and resumable training state), when STATE_FROM names that folder, so
#              the next lease resumes where the last one stopped.
# Then one device call (carry [".whl", ".devdata", ".gpu-state"]): bash benchmarks/gpu/on-device.sh,
# with JOBS and DEADLINE_S as benchmarks/gpu/run.sh takes them.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
rm -rf .whl .devdata
mkdir -p .whl .devdata
for d in /.devdata/ /.gpu-state/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
if [ -n "${STATE_FROM:-}" ]; then  # the last lease's files: resume from them
    mkdir -p .gpu-state
    for f in gpu.db artifacts.tar.gz; do [ -f "$STATE_FROM/$f" ] && cp "$STATE_FROM/$f" .gpu-state/; done
fi
$PY -m pip wheel -q --no-deps -w .whl .
$PY -m pip download -q -d .whl --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    greenlet $($PY -m pip freeze | grep -viE '^(torch|nvidia|triton|numpy|scipy|-e |recsec|#)' | grep '==')
cp -r "$DATA/amazon-beauty" "$DATA/ml-1m" .devdata/
du -sh .whl .devdata
