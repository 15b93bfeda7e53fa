#!/usr/bin/env python3
"""Stage-I against Stage-II, 1:1: for each caption of two `stackgan generate` folders made with the
same --captions and --seed (one on the Stage-I checkpoint, one on the Stage-II checkpoint), the
Stage-I image nearest-upsampled to 256 px (what an upscaler starts from) beside the Stage-II image
at its own 256 px, both unscaled, so the edges can be compared pixel for pixel.

usage: scripts/stage2_side_by_side.py STAGE1_DIR STAGE2_DIR OUT.png [--sample K] [--captions 0,1,...]
"""
import argparse
from pathlib import Path

from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("stage1")
parser.add_argument("stage2")
parser.add_argument("out")
parser.add_argument("--sample", type=int, default=0)
parser.add_argument("--captions", default="", help="caption numbers, default all")
args = parser.parse_args()

names = sorted(p.name for p in Path(args.stage2).glob(f"caption*_sample{args.sample:02d}.png"))
if args.captions:
    wanted = {int(c) for c in args.captions.split(",")}
    names = [n for n in names if int(n[7:10]) in wanted]
if not names:
    raise SystemExit(f"{args.stage2}: no caption*_sample{args.sample:02d}.png")
gap = 4
sheet = Image.new("RGB", (2 * 256 + gap, len(names) * (256 + gap) - gap), "white")
for row, name in enumerate(names):
    small = Image.open(Path(args.stage1) / name).convert("RGB")
    big = Image.open(Path(args.stage2) / name).convert("RGB")
    if small.size != (64, 64) or big.size != (256, 256):
        raise SystemExit(f"{name}: expected 64 px in {args.stage1} and 256 px in {args.stage2}")
    y = row * (256 + gap)
    sheet.paste(small.resize((256, 256), Image.NEAREST), (0, y))
    sheet.paste(big, (256 + gap, y))
sheet.save(args.out)
print(f"wrote {args.out}: {len(names)} rows, left Stage-I nearest x4, right Stage-II")
