#!/usr/bin/env bash
# Side-by-side speed and memory of `stackgan bench` and StackGAN-Pytorch on identical shapes
# (published widths, same batch, same threads), in fp32 and in bf16 (ours: `--precision bf16`;
# PyTorch: CPU autocast to torch.bfloat16), alternating the four so machine noise hits all of them.
# bf16 rows are left out on a CPU without bf16 instructions. Installs PyTorch (CPU) into
# .venv-bench on first use.
#   bash scripts/bench_vs_pytorch.sh [iterations] [rounds]
#   (rounds > 1: each measurement alternates the two sides that many times and the row shows the
#   medians: single runs of either side move by 20-40% between minutes on a shared VM)
#   STACKGAN_BIN=.build/release/stackgan BENCH_PYTHON=/path/to/python bash scripts/bench_vs_pytorch.sh
#   WIDTHS=shapes bash scripts/bench_vs_pytorch.sh   # Stage-I only, at configs/shapes_stage1.yml's widths
#     (gf 16, df 16, z 32, c 64, E 384, batch 32) with the published recipe on both sides
# GFLOP/s: the model's FLOPs per iteration as PyTorch's FlopCounterMode counts them (convs and
# matrix products, forward + backward), divided by each side's time: both are credited with the
# same work, so the Swift figure can exceed what its kernels execute (it computes the upsampling
# convs with fewer FLOPs, and Winograd). % is against the sgemm 2048^3 peak measured in this run.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
rounds=${2:-1}
for arg in iterations rounds; do
    [[ "${!arg}" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "bench_vs_pytorch.sh: $arg must be a whole number from 1 to 9999, got '${!arg}'" >&2; exit 2; }
done
threads=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
python=${BENCH_PYTHON:-.venv-bench/bin/python}
if [ -z "${BENCH_PYTHON:-}" ] && { [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import torch" 2>/dev/null; }; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu torch 2>/dev/null \
        || .venv-bench/bin/pip install -q torch
fi
stages="1 2"; swift_widths=(); torch_widths=()
if [ "${WIDTHS:-}" = shapes ]; then
    stages=1
    swift_widths=(--batch 32 --set model.gf_dim=16 --set model.df_dim=16 --set model.z_dim=32 --set model.condition_dim=64
                  --set model.embedding_dim=384)
    torch_widths=(--batch 32 --gf-dim 16 --df-dim 16 --z-dim 32 --condition-dim 64 --embedding-dim 384)
fi
bin=${STACKGAN_BIN:-}
if [ -z "$bin" ]; then
    swift build -c release --product stackgan >/dev/null
    bin=.build/release/stackgan
fi
peaks=$($bin bench peak)
peak=$(echo "$peaks" | sed -nE 's/^sgemm.*: ([0-9.]+) GFLOP.*/\1/p')
field() { echo "$1" | sed -E "s|.* ([0-9.]+) $2.*|\1|"; }
calc() { python3 -c "print($1)"; }
echo "CPU: $(lscpu | sed -nE 's/^Model name: +//p') (family $(lscpu | sed -nE 's/^CPU family: +//p'), model $(lscpu | sed -nE 's/^Model: +//p')), $threads threads"
echo "$peaks"
$python scripts/reference/bench_torch.py peak
precisions="fp32"
echo "$peaks" | grep -q "bf16 2048^3 peak (1x1 conv)" && precisions="fp32 bf16"
printf "%-18s %-5s %9s %9s %7s %9s %16s %16s %9s %9s\n" "measurement" "" "torch" "swift" "ratio" "model" "torch" "swift" "torch" "swift"
printf "%-18s %-5s %9s %9s %7s %9s %16s %16s %9s %9s\n" "" "" "img/s" "img/s" "" "GFLOP" "GFLOP/s (%peak)" "GFLOP/s (%peak)" "RSS MiB" "RSS MiB"
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for what in train generate; do
    for stage in $stages; do
        for precision in $precisions; do
            tis=""; sis=""; tss=""; sss=""; trs=""; srs=""
            for _ in $(seq "$rounds"); do
                t=$($python scripts/reference/bench_torch.py $what --stage $stage --iterations "$iterations" --precision $precision ${torch_widths[@]+"${torch_widths[@]}"})
                s=$($bin bench $what --stage $stage --iterations "$iterations" --precision $precision ${swift_widths[@]+"${swift_widths[@]}"})
                tis="$tis $(field "$t" "images/s")"; sis="$sis $(field "$s" "images/s")"
                tss="$tss $(echo "$t" | sed -E 's/.*: ([0-9.]+) s\/.*/\1/')"; sss="$sss $(echo "$s" | sed -E 's/.*: ([0-9.]+) s\/.*/\1/')"
                trs="$trs $(field "$t" "MiB")"; srs="$srs $(echo "$s" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')"
                gf=$(field "$t" "GFLOP  peak")
                echo "    $t"; echo "    $s"
            done
            ti=$(echo $tis | median); si=$(echo $sis | median); ts=$(echo $tss | median); ss=$(echo $sss | median)
            tr=$(echo $trs | tr ' ' '\n' | sort -n | tail -1); sr=$(echo $srs | tr ' ' '\n' | sort -n | tail -1)
            rate() { calc "f'{$gf / $1:.0f} ({100 * $gf / $1 / $peak:.0f}%)'"; }
            printf "%-18s %-5s %9s %9s %7s %9s %16s %16s %9s %9s\n" "$what stage $stage" "$precision" "$ti" "$si" \
                "$(calc "f'{$si / $ti:.2f}x'")" "$gf" "$(rate "$ts")" "$(rate "$ss")" "$tr" "$sr"
            if [ "$rounds" -gt 1 ]; then echo "    rounds, images/s: torch$tis; swift$sis"; fi
        done
    done
done
