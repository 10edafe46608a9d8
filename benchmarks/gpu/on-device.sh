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
OUT=/tmp/gpu-out bash benchmarks/gpu/run.sh
cp /tmp/gpu-out/gpu.db "$RESULTS/" 2>/dev/null
cat /tmp/gpu-out/*.jsonl > "$RESULTS/results.jsonl" 2>/dev/null
tar -czf "$RESULTS/logs.tar.gz" -C /tmp/gpu-out logs
