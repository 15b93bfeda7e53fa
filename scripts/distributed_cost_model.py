#!/usr/bin/env python3
"""Cost model of data-parallel training (docs/distributed.md): ring allreduce of the gradients
after each D and G step, no overlap with the backward pass (as implemented).

Per step, each of the D and G gradients (S bytes) goes through a ring allreduce in buckets of
16 MiB: time = 2 (N-1)/N * S / bandwidth + buckets * 2 (N-1) * latency.
Compute per step = local batch / (node images/s). Efficiency = compute / (compute + allreduce).
Usage: python3 scripts/distributed_cost_model.py  (prints the markdown tables of the docs page)."""
import math

LATENCY = 30e-6          # s per message on TCP (an assumption; InfiniBand is ~2 us)
BUCKET = 16 * 2**20      # bytes (DataParallel.bucketCount floats)
# Trained parameters counted from checkpoints at published widths (gf_dim 128, df_dim 64);
# images/s per 2-core node: docs/performance.md's `stackgan bench train` table (quiet machine, EPYC Zen 4).
STAGES = {
    "Stage-I (64 px)": {"D": 5_715_713, "G": 10_137_408, "images_per_s": 66.2, "batch": 64},
    "Stage-II (256 px)": {"D": 71_269_122, "G": 26_126_240, "images_per_s": 3.7, "batch": 16},
}

def allreduce(size_bytes, nodes, gbit):
    if nodes == 1:
        return 0.0
    buckets = math.ceil(size_bytes / BUCKET)
    return 2 * (nodes - 1) / nodes * size_bytes / (gbit * 1e9 / 8) + buckets * 2 * (nodes - 1) * LATENCY

def table(name, s, node_speedup, label):
    grads = {k: 4 * s[k] for k in ("D", "G")}
    print(f"\n{name}, node = {label}; gradient bytes per step {sum(grads.values()) / 2**20:.1f} MiB "
          f"(D {grads['D'] / 2**20:.1f}, G {grads['G'] / 2**20:.1f})")
    print("\n| nodes | global batch | compute s/step | allreduce 10 / 25 / 100 Gb/s (s) | efficiency 10 / 25 / 100 Gb/s |")
    print("|---|---|---|---|---|")
    for n in (2, 4, 8, 16, 32, 64):
        compute = s["batch"] / (s["images_per_s"] * node_speedup)
        comm = [sum(allreduce(b, n, g) for b in grads.values()) for g in (10, 25, 100)]
        eff = [compute / (compute + c) for c in comm]
        print(f"| {n} | {n * s['batch']} | {compute:.2f} | {' / '.join(f'{c:.3f}' for c in comm)} | "
              f"{' / '.join(f'{100 * e:.0f}%' for e in eff)} |")

for name, s in STAGES.items():
    table(name, s, 1, f"a 2-core box like this one ({s['images_per_s']} img/s, local batch {s['batch']})")
    table(name, s, 16, "a 32-core node, assumed 16x the 2-core speed (not measured)")
