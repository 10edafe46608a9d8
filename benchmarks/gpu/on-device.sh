#!/usr/bin/env bash
# Runs on the lent GPU machine (after benchmarks/gpu/prepare.sh here): installs the carried
# wheels beside the machine's own torch, runs benchmarks/gpu/run.sh, and leaves its database,
# result lines and logs under $OUT, which the device tool brings back.
#   JOBS="defense defense-ml1m-partial" DEADLINE_S=480 bash benchmarks/gpu/on-device.sh
set -u
cd "$(dirname "$0")/../.."
# (SKIP_INSTALL=1 SMOKE=1 DEVICE=cpu PY=.venv/bin/python: the same flow here, for seconds, on the CPU)
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export RECSEC_DATA_DIR=$PWD/.devdata
RESULTS=${OUT:-gpu-out}
# Resume: the last lease's database and artifacts (trained victims, per-epoch training state),
# carried in .gpu-state by prepare.sh (STATE_FROM=...); finished cells are kept, a victim whose
# training was cut off continues from its last epoch.
mkdir -p /tmp/gpu-out
[ -f .gpu-state/gpu.db ] && cp .gpu-state/gpu.db /tmp/gpu-out/gpu.db
[ -f .gpu-state/artifacts.tar.gz ] && tar -xzf .gpu-state/artifacts.tar.gz -C /tmp
mkdir -p /tmp/recsec-artifacts
[ -e recsec-artifacts ] || ln -s /tmp/recsec-artifacts recsec-artifacts  # specs' checkpoint= paths land in the state
OUT=/tmp/gpu-out bash benchmarks/gpu/run.sh
cp /tmp/gpu-out/gpu.db "$RESULTS/" 2>/dev/null
[ -d /tmp/recsec-artifacts ] && tar -czf "$RESULTS/artifacts.tar.gz" -C /tmp recsec-artifacts
cat /tmp/gpu-out/*.jsonl > "$RESULTS/results.jsonl" 2>/dev/null
tar -czf "$RESULTS/logs.tar.gz" -C /tmp/gpu-out logs
