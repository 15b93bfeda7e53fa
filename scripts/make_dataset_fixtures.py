#!/usr/bin/env python3
"""Writes the tiny HDF5 / .npy fixtures of Tests/DatasetsTests/Fixtures.

Run from the repository root:  /tmp/dataenv/bin/python scripts/make_dataset_fixtures.py
Needs h5py, numpy, pillow. The Swift tests recompute the same formulas (pattern(),
embedding()) to know the expected pixels and embeddings; keep them in sync with
Tests/DatasetsTests/FixtureValues.swift.
"""
import io
import os
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DatasetsTests", "Fixtures")
S = 8  # fixture images are 8x8
E = 8  # fixture embedding width


def pattern(example):
    """(S, S, 3) uint8: red = 36*x, green = 36*y, blue = 20*example + 60."""
    y, x = np.mgrid[0:S, 0:S]
    img = np.zeros((S, S, 3), np.uint8)
    img[..., 0] = 36 * x
    img[..., 1] = 36 * y
    img[..., 2] = 20 * example + 60
    return img


def embedding(example, k_count):
    """(K, E): example + 0.1*k + 0.01*j."""
    k = np.arange(k_count)[:, None]
    j = np.arange(E)[None, :]
    return example + 0.1 * k + 0.01 * j


def png_bytes(arr, mode=None):
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr):
    buf = io.BytesIO()
    # 4:4:4 and high quality so the 8x8 pattern survives within a small tolerance.
    Image.fromarray(arr).save(buf, format="JPEG", quality=95, subsampling=0)
    return buf.getvalue()


def put_image(group, data, storage):
    if storage == "opaque":      # what h5py writes for np.void(bytes), as aelnouby's files do
        group.create_dataset("img", data=np.void(data))
    elif storage == "uint8":     # 1-D uint8 array
        group.create_dataset("img", data=np.frombuffer(data, np.uint8))
    elif storage == "vlen":      # variable-length uint8, one element
        ds = group.create_dataset("img", (1,), dtype=h5py.vlen_dtype(np.uint8))
        ds[0] = np.frombuffer(data, np.uint8)
    else:
        raise ValueError(storage)


def write_per_example(path, mutate=None, libver="earliest"):
    """Layout 1. train: 4 examples, K = 2, covering PNG/JPEG x opaque/uint8/vlen storage,
    float32/float64, vlen/fixed strings. test: 2 examples with (E,) embeddings, a grayscale
    PNG and an RGBA PNG (left half transparent). `mutate(f)` edits it into a bad case.
    The good file uses the default ('earliest') format like the public files; the bad
    copies use the HDF5 1.8 format, whose compact groups keep the fixtures small."""
    with h5py.File(path, "w", libver=libver) as f:
        train = f.create_group("train")
        specs = [  # (format, storage, float dtype, caption storage, class)
            ("png", "opaque", np.float32, "vlen", "red"),
            ("jpeg", "opaque", np.float64, "fixed", "blue"),
            ("png", "uint8", np.float32, "vlen", "red"),
            ("jpeg", "vlen", np.float64, "fixed", "green"),
        ]
        for i, (fmt, storage, dtype, cap, cls) in enumerate(specs):
            g = train.create_group(f"ex{i}")
            img = pattern(i)
            put_image(g, png_bytes(img) if fmt == "png" else jpeg_bytes(img), storage)
            g.create_dataset("embeddings", data=embedding(i, 2).astype(dtype))
            texts = [f"caption {i} {k}" for k in range(2)]
            if cap == "vlen":
                g.create_dataset("txt", data=texts, dtype=h5py.string_dtype())
            else:
                g.create_dataset("txt", data=np.array([t.encode() for t in texts], dtype="S16"))
            g.create_dataset("class", data=cls)
            g.create_dataset("name", data=f"example_{i}")
        test = f.create_group("test")
        gray = (np.arange(S * S).reshape(S, S) * 3).astype(np.uint8)
        rgba = np.zeros((S, S, 4), np.uint8)
        rgba[..., :3] = pattern(5)
        rgba[:, S // 2:, 3] = 255  # left half transparent -> composited onto white
        for i, data in enumerate([png_bytes(gray, "L"), png_bytes(rgba, "RGBA")]):
            g = test.create_group(f"t{i}")
            put_image(g, data, "opaque")
            g.create_dataset("embeddings", data=embedding(10 + i, 1)[0].astype(np.float32))
            g.create_dataset("txt", data=f"test caption {i}")
            g.create_dataset("class", data="gray" if i == 0 else "alpha")
            g.create_dataset("name", data=f"test_{i}")
        if mutate:
            mutate(f)


def write_caption_groups(path, uneven=False):
    """Layout 1 as aelnouby's CUB/Oxford files store it: one group per caption (`<name>_k`), each
    with the image's `img` and `name` and one (E,) embedding. train: 2 images x 3 captions.
    `uneven` drops image 0's last caption group (a clear error)."""
    with h5py.File(path, "w", libver="v108") as f:
        train = f.create_group("train")
        order = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (0, 2)]
        if uneven:
            order = order[:-1]
        for example, k in order:
            g = train.create_group(f"img{example}_{k}")
            put_image(g, png_bytes(pattern(example)), "opaque")
            g.create_dataset("embeddings", data=embedding(example, 3)[k].astype(np.float32))
            g.create_dataset("txt", data=f"image {example} caption {k}")
            g.create_dataset("class", data=f"class{example}")
            g.create_dataset("name", data=f"img{example}")


def write_flat(path):
    """Layout 2, arrays at the root with a string split array: 6 examples of 8x8,
    embeddings (6, 3, E) float32, captions (6, 3), integer class ids."""
    n = 6
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.stack([pattern(i) for i in range(n)]))
        f.create_dataset("embeddings", data=np.stack([embedding(i, 3) for i in range(n)]).astype(np.float32))
        f.create_dataset("captions", data=[[f"flat {i} {k}" for k in range(3)] for i in range(n)], dtype=h5py.string_dtype())
        f.create_dataset("class_ids", data=np.array([0, 1, 0, 1, 2, 2], np.int32))
        f.create_dataset("filenames", data=[f"img_{i}.png" for i in range(n)], dtype=h5py.string_dtype())
        f.create_dataset("split", data=["train"] * 4 + ["test"] * 2, dtype=h5py.string_dtype())


def write_flat_groups(path):
    """Layout 2 with split groups; (N, E) float64 embeddings (float16 in test, as
    data/shapes.h5 stores them) and string class ids."""
    with h5py.File(path, "w") as f:
        for split, indices in [("train", [0, 1, 2]), ("test", [3])]:
            g = f.create_group(split)
            g.create_dataset("images", data=np.stack([pattern(i) for i in indices]))
            dtype = np.float64 if split == "train" else np.float16
            g.create_dataset("embeddings", data=np.stack([embedding(i, 1)[0] for i in indices]).astype(dtype))
            g.create_dataset("class_ids", data=np.array([b"a", b"b", b"a", b"c"][: len(indices)] if split == "train" else [b"c"]))


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda name: os.path.join(OUT, name)
    write_per_example(p("per_example.h5"))
    write_flat(p("flat.h5"))
    write_flat_groups(p("flat_groups.h5"))
    write_caption_groups(p("caption_groups.h5"))
    write_caption_groups(p("bad_caption_groups.h5"), uneven=True)

    # Bad inputs. Each must end in a thrown DatasetError naming file and inner path.
    with open(p("per_example.h5"), "rb") as src:
        whole = src.read()
    with open(p("bad_truncated.h5"), "wb") as dst:
        dst.write(whole[: len(whole) // 2])
    with open(p("bad_not_hdf5.h5"), "wb") as dst:
        dst.write(b"this is a text file, not HDF5\n" * 4)

    def nan_embedding(f):
        e = f["train/ex1/embeddings"]
        v = e[()]
        v[1, 3] = np.nan
        e[...] = v
    write_per_example(p("bad_nan.h5"), nan_embedding, libver="v108")

    def wrong_rank(f):
        del f["train/ex2/embeddings"]
        f["train/ex2"].create_dataset("embeddings", data=np.zeros((2, 2, E), np.float32))
    write_per_example(p("bad_rank.h5"), wrong_rank, libver="v108")

    def wrong_dtype(f):
        del f["train/ex0/embeddings"]
        f["train/ex0"].create_dataset("embeddings", data=np.ones((2, E), np.int32))
    write_per_example(p("bad_dtype.h5"), wrong_dtype, libver="v108")

    def bad_image(f):
        del f["train/ex1/img"]
        f["train/ex1"].create_dataset("img", data=np.void(b"\x89PNG\r\n\x1a\nthis is not really a png"))
    write_per_example(p("bad_image.h5"), bad_image, libver="v108")

    def missing_embeddings(f):
        del f["train/ex2/embeddings"]
    write_per_example(p("bad_missing_embeddings.h5"), missing_embeddings, libver="v108")

    def empty_split(f):
        f.create_group("valid")
    write_per_example(p("bad_empty_split.h5"), empty_split, libver="v108")

    with h5py.File(p("bad_missing_images.h5"), "w") as f:
        f.create_dataset("embeddings", data=np.zeros((2, E), np.float32))
    with h5py.File(p("bad_flat_image_rank.h5"), "w") as f:
        f.create_dataset("embeddings", data=np.zeros((2, E), np.float32))
        f.create_dataset("images", data=np.zeros((2, S, S), np.uint8))

    # .npy: a float64 (3, E) file written by NumPy, and bad ones.
    np.save(p("embeddings_f64.npy"), np.stack([embedding(i, 1)[0] for i in range(3)]))
    np.save(p("bad_fortran.npy"), np.asfortranarray(np.ones((3, E), np.float32)))
    np.save(p("bad_int.npy"), np.ones((3, E), np.int32))
    np.save(p("bad_bigendian.npy"), np.ones((3, E), ">f4"))

    # A StackGAN-pickle conversion, made by the converter's own self-test.
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert_stackgan_pickle.py"),
                    "--self-test", "--keep", p("converted_pickle.h5")], check=True)

    total = sum(os.path.getsize(p(n)) for n in os.listdir(OUT))
    print(f"fixtures written to {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
