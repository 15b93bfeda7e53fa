#!/usr/bin/env bash
# Side-by-side speed and memory of `stackgan bench` and StackGAN-Pytorch on identical shapes
# (published widths, fp32, same batch, same threads), alternating the two so machine noise hits
# both. Installs PyTorch (CPU) into .venv-bench on first use.
#   bash scripts/bench_vs_pytorch.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
threads=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu torch 2>/dev/null \
        || .venv-bench/bin/pip install -q torch
fi
swift build -c release --product stackgan >/dev/null
bin=.build/release/stackgan
ratio() { python3 -c "print(f'{float(\"$1\") / float(\"$2\"):.2f}x')"; }
printf "%-28s %12s %12s %8s %14s %14s\n" "measurement ($threads threads)" "torch img/s" "swift img/s" "ratio" "torch RSS MiB" "swift RSS MiB"
for what in train generate; do
    for stage in 1 2; do
        t=$(.venv-bench/bin/python scripts/reference/bench_torch.py $what --stage $stage --iterations "$iterations")
        s=$($bin bench $what --stage $stage --iterations "$iterations")
        ti=$(echo "$t" | sed -E 's/.* ([0-9.]+) images\/s.*/\1/'); si=$(echo "$s" | sed -E 's/.* ([0-9.]+) images\/s.*/\1/')
        tr=$(echo "$t" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/'); sr=$(echo "$s" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')
        printf "%-28s %12s %12s %8s %14s %14s\n" "$what stage $stage" "$ti" "$si" "$(ratio "$si" "$ti")" "$tr" "$sr"
        echo "  $t"; echo "  $s"
    done
done
