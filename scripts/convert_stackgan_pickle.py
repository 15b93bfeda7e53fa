#!/usr/bin/env python3
"""Converts the StackGAN pickle layout into a flat (layout 2) HDF5 file the Swift reader opens.

StackGAN (TF original and StackGAN-Pytorch) keeps, per split directory (train/, test/):
  char-CNN-RNN-embeddings.pickle   (N, K=10, E=1024) float embeddings (list or array)
  filenames.pickle                 N strings, e.g. '002.Laysan_Albatross/Laysan_Albatross_0002_1027'
  class_info.pickle                N integer class ids
  76images.pickle / 304images.pickle   (N, S, S, 3) uint8 images (list or array)
Pickles from Python 2 need encoding='latin1', which is used here.

Output (one file, both splits):
  images (N, S, S, 3) uint8 (chunked per image, gzip), embeddings (N, K, E) float32,
  class_ids (N,) int32, filenames (N,) str, split (N,) str ('train'/'test'),
  captions (N, K) str when --text-dir holds <filename>.txt files (CUB's text_c10).

Usage:
  python scripts/convert_stackgan_pickle.py --data-dir Data/birds --image-size 76 --out birds76.h5
  python scripts/convert_stackgan_pickle.py --self-test [--keep converted.h5]
"""
import argparse
import os
import pickle
import sys
import tempfile

import h5py
import numpy as np


def load_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def load_split(split_dir, image_size, embeddings_name, text_dir):
    emb = np.asarray(load_pickle(os.path.join(split_dir, embeddings_name)), dtype=np.float32)
    if emb.ndim == 2:
        emb = emb[:, None, :]
    if emb.ndim != 3:
        raise SystemExit(f"{split_dir}/{embeddings_name}: embeddings of shape {emb.shape}; expected (N, K, E)")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in load_pickle(os.path.join(split_dir, "filenames.pickle"))]
    classes = np.asarray(load_pickle(os.path.join(split_dir, "class_info.pickle")), dtype=np.int32).reshape(-1)
    images = np.asarray(load_pickle(os.path.join(split_dir, f"{image_size}images.pickle")), dtype=np.uint8)
    n = emb.shape[0]
    if images.shape != (n, image_size, image_size, 3):
        raise SystemExit(f"{split_dir}: images of shape {images.shape}; expected ({n}, {image_size}, {image_size}, 3)")
    if len(names) != n or classes.shape[0] != n:
        raise SystemExit(f"{split_dir}: {len(names)} filenames, {classes.shape[0]} classes; expected {n} of each")
    captions = None
    if text_dir:
        captions = []
        for name in names:
            with open(os.path.join(text_dir, name + ".txt"), encoding="utf-8") as f:
                lines = [l.strip() for l in f if l.strip()]
            captions.append((lines + [""] * emb.shape[1])[: emb.shape[1]])
    return images, emb, classes, names, captions


def convert(data_dir, image_size, out, splits=("train", "test"), embeddings_name="char-CNN-RNN-embeddings.pickle", text_dir=None):
    parts = [(s, load_split(os.path.join(data_dir, s), image_size, embeddings_name, text_dir)) for s in splits
             if os.path.isdir(os.path.join(data_dir, s))]
    if not parts:
        raise SystemExit(f"{data_dir}: no split directories among {splits}")
    images = np.concatenate([p[1][0] for p in parts])
    emb = np.concatenate([p[1][1] for p in parts])
    classes = np.concatenate([p[1][2] for p in parts])
    names = sum((p[1][3] for p in parts), [])
    split = sum(([s] * len(p[3]) for s, p in parts), [])
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=images, chunks=(1,) + images.shape[1:], compression="gzip", compression_opts=4)
        f.create_dataset("embeddings", data=emb)
        f.create_dataset("class_ids", data=classes)
        f.create_dataset("filenames", data=names, dtype=h5py.string_dtype())
        f.create_dataset("split", data=split, dtype=h5py.string_dtype())
        if all(p[1][4] is not None for p in parts):
            f.create_dataset("captions", data=sum((p[1][4] for p in parts), []), dtype=h5py.string_dtype())
    os.replace(tmp, out)
    return images, emb, classes, names, split


def self_test(keep=None):
    """Builds tiny synthetic pickles (train 5, test 2, K 3, E 16, 8x8 images), converts,
    and checks every array read back. `keep` saves the converted file (a test fixture)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        expected = {}
        for split, n in [("train", 5), ("test", 2)]:
            d = os.path.join(root, split)
            os.makedirs(d)
            emb = rng.standard_normal((n, 3, 16)).astype(np.float32)
            imgs = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
            names = [f"{split}/img_{i}" for i in range(n)]
            classes = [i % 2 + (10 if split == "test" else 0) for i in range(n)]
            for obj, name in [(list(emb), "char-CNN-RNN-embeddings.pickle"), (names, "filenames.pickle"),
                              (classes, "class_info.pickle"), (list(imgs), "8images.pickle")]:
                with open(os.path.join(d, name), "wb") as f:
                    pickle.dump(obj, f, protocol=2)
            expected[split] = (imgs, emb, classes, names)
        out = keep or os.path.join(root, "converted.h5")
        convert(root, 8, out)
        with h5py.File(out, "r") as f:
            split = [s.decode() if isinstance(s, bytes) else s for s in f["split"][()]]
            assert split == ["train"] * 5 + ["test"] * 2, split
            for s, rows in [("train", slice(0, 5)), ("test", slice(5, 7))]:
                imgs, emb, classes, names = expected[s]
                assert np.array_equal(f["images"][rows], imgs)
                assert np.array_equal(f["embeddings"][rows], emb)
                assert list(f["class_ids"][rows]) == classes
                assert [n.decode() for n in f["filenames"][rows]] == names
    print("convert_stackgan_pickle self-test passed" + (f"; kept {keep}" if keep else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="directory holding train/ and test/")
    ap.add_argument("--image-size", type=int, default=76, help="76 or 304 (selects <size>images.pickle)")
    ap.add_argument("--embeddings", default="char-CNN-RNN-embeddings.pickle")
    ap.add_argument("--text-dir", help="optional: directory of <filename>.txt caption files")
    ap.add_argument("--out", help="output .h5")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--keep", help="with --self-test: keep the converted file here")
    a = ap.parse_args()
    if a.self_test:
        self_test(a.keep)
        return
    if not a.data_dir or not a.out:
        ap.error("--data-dir and --out are required (or --self-test)")
    images, emb, _, _, split = convert(a.data_dir, a.image_size, a.out, embeddings_name=a.embeddings, text_dir=a.text_dir)
    print(f"wrote {a.out}: {images.shape[0]} examples ({split.count('train')} train, {split.count('test')} test), "
          f"images {images.shape[1:]}, embeddings {emb.shape[1:]}")


if __name__ == "__main__":
    sys.exit(main())
