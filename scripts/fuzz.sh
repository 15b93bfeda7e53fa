#!/usr/bin/env bash
# Fuzzes the readers of untrusted files (safetensors, .npy, PNG/JPEG, HDF5 datasets and their group
# structures, YAML configs, classifier and matcher files, caption text files, make-dataset's TSV,
# the report's metrics.jsonl and evaluation.json) with libFuzzer, in process, seeded from the test
# fixtures.
#
#   bash scripts/fuzz.sh [SECONDS] [WORKERS]   (default 300 s, 1 worker; run from anywhere)
#
# WORKERS jobs run at once on the one corpus (libFuzzer's -fork=N), so 1800 s with 2 workers is one
# CPU-hour on 2 cores.
#
# Builds Fuzz/FuzzTarget.swift with `-sanitize=fuzzer` into .build-fuzz (a separate build folder,
# about 10 minutes on 2 cores the first time; Package.swift adds the target only when
# STACKGAN_FUZZ is set). The first byte of an input picks the reader (0 safetensors, 1 .npy,
# 2 image, 3 HDF5, 4 config, 5 classifier, 6 matcher, 7 captions, 8 TSV, 9 metrics, 10 evaluation).
# libFuzzer's byte flips rarely hit the few hundred bytes holding an HDF5 file's groups, so each run
# also seeds 300 variants of the HDF5 fixtures with those bytes damaged (scripts/fuzz_hdf5_groups.py,
# a new random seed each run). Findings (a trap, a signal, a hang over 20 s, more than 4 GB) are
# written to fuzz/artifacts/ as crash-*, timeout-*, oom-*: replay one with
#   .build-fuzz/release/stackgan-fuzz fuzz/artifacts/crash-...
# and turn it into a test. fuzz/corpus/ grows between runs; both folders are ignored by git.
# Where the toolchain has no libFuzzer, the script says so and stops.
set -eu  # no pipefail: `grep | head -1` ends grep with SIGPIPE
cd "$(dirname "$0")/.."
seconds="${1:-300}"
workers="${2:-1}"

if ! STACKGAN_FUZZ=1 swift build -c release --build-path .build-fuzz --product stackgan-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -enable-testing; then
    echo "fuzz.sh: this Swift toolchain could not build with -sanitize=fuzzer (libFuzzer); nothing fuzzed" >&2
    exit 1
fi

corpus=fuzz/corpus
mkdir -p "$corpus" fuzz/artifacts
seed() {  # seed PICK FILE [OFFSET LENGTH]: the reader byte, then the file (or a slice of it)
    local name="$corpus/seed-$1-$(basename "$2")${3:+-$3}"
    { printf "\\x0$1"; if [ -n "${3:-}" ]; then tail -c +"$(($3 + 1))" "$2" | head -c "$4"; else cat "$2"; fi; } > "$name"
}
for f in Tests/NNTests/Fixtures/*.safetensors Tests/StackGANTests/Fixtures/models/*.safetensors; do
    if [ "$(stat -c %s "$f")" -le 200000 ]; then seed 0 "$f"; fi
done
for f in Tests/DatasetsTests/Fixtures/*.npy; do seed 1 "$f"; done
# The PNG and JPEG images inside the per-example fixture (signature to end marker).
fixture=Tests/DatasetsTests/Fixtures/per_example.h5
offset() { LC_ALL=C grep -obUaP "$1" "$fixture" | cut -d: -f1 || true; }
png=$(offset '\x89PNG' | head -1); png_end=$(offset 'IEND' | head -1)
if [ -n "$png" ] && [ -n "$png_end" ]; then seed 2 "$fixture" "$png" $((png_end + 8 - png)); fi
jpeg=$(offset '\xff\xd8\xff' | head -1); jpeg_end=$(offset '\xff\xd9' | awk -v s="$jpeg" '$1 > s { print $1; exit }')
if [ -n "$jpeg" ] && [ -n "$jpeg_end" ]; then seed 2 "$fixture" "$jpeg" $((jpeg_end + 2 - jpeg)); fi
for f in Tests/DatasetsTests/Fixtures/*.h5; do
    if [ "$(stat -c %s "$f")" -le 65536 ]; then seed 3 "$f"; fi
done
for f in configs/*.yml; do seed 4 "$f"; done
STACKGAN_FUZZ_SEEDS="$corpus" .build-fuzz/release/stackgan-fuzz  # 5 classifier, 6 matcher, 10 evaluation.json
hdf5=$(for f in Tests/DatasetsTests/Fixtures/*.h5; do if [ "$(stat -c %s "$f")" -le 65536 ]; then echo "$f"; fi; done)
# shellcheck disable=SC2086  # one argument per file
python3 scripts/fuzz_hdf5_groups.py "$corpus" 300 "$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')" $hdf5
text() { printf '%b' "$2" > "$corpus/seed-$1-$3"; }
text 7 '\x07a big red star on a black background\na tiny blue square\n' captions-lf.txt
text 7 '\x07a big red star\r\na tiny [SEP] blue square\r\n\xe2\x80\x8b\r\ncaf\xc3\xa9 \xe7\xba\xa2\r\n' captions-crlf.txt
text 8 '\x08a.png\ta big red star\nb/c.jpg\ta tiny blue square\r\n./a.png\tanother caption\n' captions.tsv
text 9 '\x09{"step": 1, "time": 0.5, "images_per_second": 30, "d_loss": 1.5, "g_loss": 0.7}\n{"step": 2, "d_loss": 1.2, "g_loss": [1]}\n{"step": 3' metrics.jsonl

echo "fuzz.sh: $(ls "$corpus" | wc -l) inputs in $corpus, fuzzing for $seconds s with $workers worker(s)"
# -fork: findings do not end the run; each is written and the fuzzing goes on. SWIFT_BACKTRACE:
# Swift's own crash handler would take a fatalError's signal first and exit, so libFuzzer wrote no
# input for it (a job counted as a crash, no file).
SWIFT_BACKTRACE=enable=no OMP_WAIT_POLICY=PASSIVE .build-fuzz/release/stackgan-fuzz "$corpus" -fork="$workers" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 -artifact_prefix=fuzz/artifacts/ \
    -print_final_stats=1 2>&1 | tee fuzz/last_run.log | grep -E "^#|INFO: fuzzed|crash|timeout|oom|stat::" | tail -40
echo "fuzz.sh: findings in fuzz/artifacts: $(ls fuzz/artifacts | wc -l)"
