#!/usr/bin/env python3
"""The PyTorch side of scripts/bench_vs_pytorch.sh: times the StackGAN-Pytorch training iteration
(one D step on real/wrong/fake pairs + one G step with KL, Adam 2e-4 (0.5, 0.999)) and eval-mode
generation at the published widths (or others: --gf-dim ...) on synthetic data, with the same shapes as
`stackgan bench`.

    python scripts/reference/bench_torch.py train --stage 1 --batch 64 --iterations 3 [--precision bf16]
    python scripts/reference/bench_torch.py peak
`--precision bf16` runs the forward passes and losses under CPU autocast (torch.bfloat16), as a
PyTorch user turns on mixed precision; `peak` prints the 2048^3 matrix-product GFLOP/s in fp32 and bf16.
Prints one line like the Swift benchmark's, with the model's GFLOP per iteration as PyTorch's own
FlopCounterMode counts them (convolutions and matrix products, forward and backward): the work both
implementations are credited with. Run each measurement in its own process so the peak RSS is that
measurement's.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stackgan_torch import (STAGE1_D, STAGE1_G, STAGE2_D, STAGE2_G, Config,  # noqa: E402
                            discriminator_loss, generator_loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["train", "generate", "peak"])
    parser.add_argument("--stage", type=int, default=1)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    # Other widths, as `stackgan bench --set model.gf_dim=16 ...` (defaults: the published ones).
    parser.add_argument("--gf-dim", type=int, default=Config.gf_dim)
    parser.add_argument("--df-dim", type=int, default=Config.df_dim)
    parser.add_argument("--z-dim", type=int, default=Config.z_dim)
    parser.add_argument("--condition-dim", type=int, default=Config.condition_dim)
    parser.add_argument("--embedding-dim", type=int, default=Config.embedding_dim)
    args = parser.parse_args()
    if args.what == "peak":
        return matmul_peak()

    def amp():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16")
    torch.manual_seed(1)
    cfg = Config(embedding_dim=args.embedding_dim, z_dim=args.z_dim, condition_dim=args.condition_dim,
                 gf_dim=args.gf_dim, df_dim=args.df_dim)
    n = args.batch or (64 if args.stage == 1 else 16)
    size = 64 if args.stage == 1 else 256
    stage1 = STAGE1_G(cfg)
    netG = stage1 if args.stage == 1 else STAGE2_G(stage1, cfg)
    netD = STAGE1_D(cfg) if args.stage == 1 else STAGE2_D(cfg)
    real = torch.randn(n, 3, size, size) * 0.5
    embeddings = torch.randn(n, cfg.embedding_dim)

    if args.what == "train":
        netG.train(); netD.train()
        optG = torch.optim.Adam([p for p in netG.parameters() if p.requires_grad], lr=2e-4, betas=(0.5, 0.999))
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))

        def iteration():
            noise = torch.randn(n, cfg.z_dim)
            with amp():
                _, fake, mu, logvar = netG(embeddings, noise)
            netD.zero_grad()
            with amp():
                d_loss = discriminator_loss(netD, real, fake, mu)
            d_loss.backward()
            optD.step()
            netG.zero_grad()
            with amp():
                g_loss = generator_loss(netD, fake, mu, mu, logvar)
            g_loss.backward()
            optG.step()
    else:
        netG.eval()

        def iteration():
            with torch.no_grad(), amp():
                netG(embeddings, torch.randn(n, cfg.z_dim))

    iteration()  # warm-up
    with FlopCounterMode(display=False) as counter:
        iteration()
    gflop = counter.get_total_flops() / 1e9
    start = time.perf_counter()
    for _ in range(args.iterations):
        iteration()
    seconds = (time.perf_counter() - start) / args.iterations
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unit = "s/iter" if args.what == "train" else "s/batch"
    print(f"torch {args.what} stage {args.stage} batch {n} {args.precision}: {seconds:.3f} {unit}  {n / seconds:.1f} images/s  "
          f"model {gflop:.1f} GFLOP  peak RSS {peak:.0f} MiB  (torch {torch.__version__}, {torch.get_num_threads()} threads)")


def matmul_peak():
    """Best of four 2048^3 matrix products per dtype, GFLOP/s."""
    n = 2048
    line = []
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        best = float("inf")
        for _ in range(4):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        line.append(f"{str(dtype).split('.')[-1]} {2 * n ** 3 / best / 1e9:.0f} GFLOP/s")
    print(f"torch 2048^3 matmul peak: {'  '.join(line)}  (ISA {torch.backends.cpu.get_cpu_capability()})")


if __name__ == "__main__":
    main()
