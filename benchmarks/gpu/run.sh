#!/usr/bin/env bash
# One GPU session's experiments in one command: everything runs concurrently on one CUDA
# device and stops by a deadline, so the whole thing fits a short lease.
#
#   OUT=gpu-out DEADLINE_S=520 bash benchmarks/gpu/run.sh
# (through the device tool: benchmarks/gpu/prepare.sh here, then one call of on-device.sh there)
#
# Needs: recsec importable (pip install . or PYTHONPATH), a CUDA device, and the data files
# under $RECSEC_DATA_DIR (amazon-beauty/Beauty.txt.gz, ml-1m/ratings.dat or the complete
# sequences_chronological.txt.gz; the partial file only for defense-ml1m-partial). Jobs (results
# in $OUT, logs in $OUT/logs):
#   issue 3: seq_check.py for SASRec, BERT4Rec, NARM on Beauty (sampled + full ranking) and on ML-1M
#            (ML-1M reference configuration: max_len 200, dropout 0.1, mask prob 0.2, 40 predictions);
#   issue 4: benchmarks/gpu/extraction-beauty.toml, 6 workers (--shard I/6) on $OUT/gpu.db;
#   issue 5: benchmarks/gpu/defense-beauty.toml (6 workers) and detection-beauty.toml (3 workers).
# Every job gets SIGINT at the deadline: a runner stores what it finished (the rest resumes
# with the same command), seq_check's trainer has a time limit well inside it.
#   issue 19: pack: 32 small cells one at a time, then four at a time on one GPU (wall times).
#   issue 20: reproduce: the specs of benchmarks/reproduce/ (papers' budgets and recipes).
# JOBS picks groups of them (default: "perf seq extraction defense detection"); a spec's base
# name runs that spec alone, e.g. JOBS="defense defense-ml1m-partial" (6 and 9 workers).
# SMOKE=1 runs the same plumbing for seconds on CPU (tiny epochs, specs only validated).
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
DEADLINE_S=${DEADLINE_S:-520}
SEQ_LIMIT_S=${SEQ_LIMIT_S:-$((DEADLINE_S - 130))}
ML1M_LIMIT_S=${ML1M_LIMIT_S:-$((DEADLINE_S - 220))}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
mkdir -p "$OUT/logs" "$OUT/ckpt"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
export RECSEC_CACHE_DIR=${RECSEC_CACHE_DIR:-/tmp/recsec-cache}
start=$(date +%s)
(nvidia-smi || true) >"$OUT/logs/nvidia-smi.txt" 2>&1
$PY -c "import torch, recsec; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'recsec', recsec.__version__)" \
    >"$OUT/logs/env.txt" 2>&1 || { cat "$OUT/logs/env.txt"; exit 1; }

JOBS=" ${JOBS:-perf seq extraction defense detection} "
want() { [[ "$JOBS" == *" $1 "* ]]; }
left() { echo $((DEADLINE_S - ($(date +%s) - start))); }
job() {  # job NAME CMD...: run in the background, SIGINT at the deadline, log to $OUT/logs/NAME.log
    local name=$1; shift
    timeout -s INT -k 20 "$(left)" "$@" >"$OUT/logs/$name.log" 2>&1 &
}

epochs=1000; patience=30; seq_limit=$SEQ_LIMIT_S; ml_limit=$ML1M_LIMIT_S; solo_epochs=3
if [ "${SMOKE:-0}" = 1 ]; then epochs=1; seq_limit=5; ml_limit=5; solo_epochs=1; fi
beauty=(--data "$RECSEC_DATA_DIR/amazon-beauty/Beauty.txt.gz")

# Solo timing first (nothing else on the device): SASRec on Beauty, a few epochs, then
# sampled and full-ranking evaluation of every user: the GPU throughput figures.
want perf && timeout -s INT 120 $PY benchmarks/seq_check.py "${beauty[@]}" --model sasrec --epochs $solo_epochs --patience 0 \
    --device "$DEVICE" --out "$OUT/perf-solo.jsonl" --work-dir /tmp/recsec-solo >"$OUT/logs/perf-solo.log" 2>&1
ml1m=(--dataset ml-1m --data-dir "$RECSEC_DATA_DIR")
ml1m_common=(max_len=200 dropout=0.1)
want seq && for m in sasrec bert4rec narm; do
    job "beauty-$m" $PY benchmarks/seq_check.py "${beauty[@]}" --model $m --epochs $epochs --patience $patience \
        --device "$DEVICE" --set time_limit_s=$seq_limit --out "$OUT/seq-beauty.jsonl" --save "$OUT/ckpt/beauty-$m.pt" \
        --work-dir /tmp/recsec-seq
    case $m in
        sasrec) extra=(attn_dropout=0.1) ;;
        bert4rec) extra=(attn_dropout=0.1 mask_prob=0.2 max_predictions=40) ;;
        narm) extra=(ct_dropout=0.1) ;;
    esac
    job "ml1m-$m" $PY benchmarks/seq_check.py "${ml1m[@]}" --model $m --epochs $epochs --patience $patience \
        --device "$DEVICE" --set "${ml1m_common[@]}" "${extra[@]}" time_limit_s=$ml_limit --out "$OUT/seq-ml1m.jsonl" \
        --work-dir /tmp/recsec-seq
done

run_spec() {  # run_spec SPEC WORKERS
    local spec=$1 n=$2 name
    name=$(basename "$spec" .toml)
    for i in $(seq 1 "$n"); do
        if [ "${SMOKE:-0}" = 1 ]; then
            job "$name-$i" $PY -m recsec.cli validate "$spec" --shard "$i/$n"
        else
            job "$name-$i" $PY -m recsec.cli run "$spec" --shard "$i/$n" --db "sqlite:///$OUT/gpu.db" \
                --device "$DEVICE" --artifacts /tmp/recsec-artifacts --no-download --no-progress
        fi
    done
}
$PY -m recsec.cli db upgrade --db "sqlite:///$OUT/gpu.db" >"$OUT/logs/db.log" 2>&1
want extraction && run_spec benchmarks/gpu/extraction-beauty.toml 6
want defense && run_spec benchmarks/gpu/defense-beauty.toml 6
want detection && run_spec benchmarks/gpu/detection-beauty.toml 3
want defense-ml1m-partial && run_spec benchmarks/gpu/defense-ml1m-partial.toml 9
# Issue 20: the papers' recipes at their budgets (benchmarks/reproduce/); JOBS="reproduce" runs
# them all but the CPU-sized ones (*-cpu.toml, run on a workstation), or one by its base name
# (e.g. JOBS="gro-ml1m-reference"). Three workers each.
for spec in benchmarks/reproduce/*.toml; do
    name=$(basename "$spec" .toml)
    { { want reproduce && [[ $name != *-cpu ]]; } || want "$name"; } || continue
    # GRO's Beauty recipe continues from a trained plain victim (checkpoint= in the spec): train it
    # first, once (on-device.sh links recsec-artifacts/ into the state a lease brings back).
    ckpt=recsec-artifacts/beauty/bert4rec.pt
    if [ "$name" = gro-beauty-reference ] && [ ! -f "$ckpt" ] && [ "${SMOKE:-0}" != 1 ]; then
        mkdir -p "$(dirname "$ckpt")"
        timeout -s INT "$(left)" $PY benchmarks/seq_check.py "${beauty[@]}" --model bert4rec --epochs $epochs \
            --patience $patience --device "$DEVICE" --set time_limit_s=$seq_limit --save "$ckpt" \
            --work-dir /tmp/recsec-seq >"$OUT/logs/beauty-bert4rec-victim.log" 2>&1
    fi
    run_spec "$spec" 3
done
# Small cells packed on one GPU (issue 19): the same 32-cell matrix run one cell at a time, then
# four cells at a time on the same card (Dask workers sharing it); both wall times in the log.
pack() {
    local t0 t1 t2
    t0=$(date +%s)
    $PY -m recsec.cli run benchmarks/scale/scale-synthetic.toml --db "sqlite:///$OUT/pack-1.db" --workers 1 --gpus 0 \
        --per-gpu 1 --artifacts /tmp/recsec-pack-1 --no-progress -q >"$OUT/logs/pack-1.log" 2>&1
    t1=$(date +%s)
    $PY -m recsec.cli run benchmarks/scale/scale-synthetic.toml --db "sqlite:///$OUT/pack-4.db" --workers 4 --gpus 0 \
        --per-gpu 4 --artifacts /tmp/recsec-pack-4 --no-progress -q >"$OUT/logs/pack-4.log" 2>&1
    t2=$(date +%s)
    echo "RESULT pack: scale-synthetic (32 cells) one at a time $((t1 - t0)) s, four per GPU $((t2 - t1)) s" >"$OUT/logs/pack.log"
}
want pack && [ "${SMOKE:-0}" != 1 ] && pack &

# A heartbeat for the log: GPU load and jobs still running, every 15 s.
while [ -n "$(jobs -rp)" ]; do
    sleep 15
    echo "[$(($(date +%s) - start))s] running: $(jobs -rp | wc -l); $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)"
done
wait
echo "all jobs ended after $(($(date +%s) - start))s"
grep -h "^RESULT" "$OUT"/logs/*.log || true
grep -h "done, .* failed" "$OUT"/logs/*.log || true
