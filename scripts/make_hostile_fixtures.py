#!/usr/bin/env python3
"""Writes the damaged HDF5 files of Tests/DatasetsTests/Fixtures/hostile_*.h5 (issue 13).

Run from the repository root:  python scripts/make_hostile_fixtures.py   (needs h5py, numpy)

Each file is one small valid per-example dataset (split `train`, two examples, captions and
classes as variable-length strings in the global heap, like the public birds/flowers files)
with a few bytes of its global heap collection (GCOL) changed afterwards. HDF5 1.10.8 (Debian 12)
reads the first one by copying the heap object's stored size into a buffer sized by the
dataset's own length: a huge size segfaulted inside libhdf5 (memcpy in H5HG_read).

  hostile_heap_object_size.h5    the caption object's size field is 2^40
  hostile_heap_object_index.h5   the caption object's index is changed: the dataset's heap id
                                 points at no object (read as an empty caption before)
  hostile_heap_signature.h5      the collection's signature is not GCOL
  hostile_heap_collection_size.h5 the collection claims 2^40 bytes
  hostile_dataspace_dims.h5      /train/ex0/embeddings' dataspace says (2^31, 8), not (1, 8): a
                                 64 GB allocation ended the process before
  hostile_flat_split_length.h5   a flat file whose split array has 5 labels for 2 examples (an
                                 index out of range trapped before)
  hostile_heap_free_list_loop.h5 per_example.h5 with the root group's local heap free block
                                 pointing at itself: libhdf5 allocated without end (23 GB)
  hostile_external_link.h5       /train is an external link to per_example.h5 (another file, which
                                 was read; a link to a FIFO hung the command)
  hostile_heap_object_size_chunked.h5, hostile_heap_object_size_compact.h5
                                 the first file's damage with `txt` in chunked or compact storage,
                                 which libhdf5 reads itself (issue 28; it segfaulted in H5Dread)

The damaged group structures (hostile_link_*.h5) come from scripts/make_hostile_group_fixtures.c.
"""
import os
import struct

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DatasetsTests", "Fixtures")
CAPTION = "caption-zero: a red square"
PNG = bytes.fromhex(  # a 1x1 red PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082")


def write_valid(path, layout=None):
    """`layout`: None (contiguous), "chunked" or "compact" storage for the captions `txt`."""
    with h5py.File(path, "w", libver="earliest") as f:
        train = f.create_group("train")
        for i, caption in enumerate([CAPTION, "caption-one: a blue circle"]):
            g = train.create_group(f"ex{i}")
            g.create_dataset("img", data=np.void(PNG))
            g.create_dataset("embeddings", data=np.full((1, 8), i, np.float32))
            texts = np.array([caption], dtype=h5py.string_dtype())
            if layout == "compact":
                plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                plist.set_layout(h5py.h5d.COMPACT)
                space = h5py.h5s.create_simple((1,))
                h5py.h5d.create(g.id, b"txt", h5py.h5t.py_create(h5py.string_dtype(), logical=True), space, dcpl=plist).write(
                    h5py.h5s.ALL, h5py.h5s.ALL, texts)
            else:
                g.create_dataset("txt", data=texts, chunks=(1,) if layout == "chunked" else None)
            g.create_dataset("class", data=np.array(["red" if i == 0 else "blue"], dtype=h5py.string_dtype()))


def heap_objects(data):
    """(collection offset, collection size, [(object offset, index, size)]) of the first GCOL."""
    start = data.index(b"GCOL")
    (size,) = struct.unpack_from("<Q", data, start + 8)
    objects, p = [], start + 16
    while p + 16 <= start + size:
        index, _, _, length = struct.unpack_from("<HHIQ", data, p)
        if index == 0:
            break
        objects.append((p, index, length))
        p += 16 + (length + 7) // 8 * 8
    return start, size, objects


def damage(name, edit, layout=None):
    path = os.path.join(OUT, name)
    write_valid(path, layout)
    data = bytearray(open(path, "rb").read())
    start, size, objects = heap_objects(bytes(data))
    caption = next(o for o in objects if data[o[0] + 16:o[0] + 16 + o[2]] == CAPTION.encode())
    edit(data, start, caption)
    open(path, "wb").write(bytes(data))
    print(name, len(data), "bytes")


def damage_dims(name):
    path = os.path.join(OUT, name)
    write_valid(path)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["train/ex0/embeddings"].id).addr
    data = bytearray(open(path, "rb").read())
    at = data.index(struct.pack("<QQ", 1, 8), header)
    struct.pack_into("<Q", data, at, 1 << 31)
    open(path, "wb").write(bytes(data))
    print(name, len(data), "bytes")


def heap_free_list_loop(name):
    data = bytearray(open(os.path.join(OUT, "per_example.h5"), "rb").read())
    heap = data.index(b"HEAP")  # the root group's local heap: sizes, free list head, data address
    _, free, address = struct.unpack_from("<QQQ", data, heap + 8)
    struct.pack_into("<Q", data, address + free, free)  # the first free block's next is itself
    open(os.path.join(OUT, name), "wb").write(bytes(data))
    print(name, len(data), "bytes")


def external_link(name):
    path = os.path.join(OUT, name)
    with h5py.File(path, "w", libver="earliest") as f:
        f["train"] = h5py.ExternalLink("per_example.h5", "/train")
    print(name, os.path.getsize(path), "bytes")


def flat_split_length(name):
    path = os.path.join(OUT, name)
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("images", data=np.zeros((2, 4, 4, 3), np.uint8))
        f.create_dataset("embeddings", data=np.ones((2, 8), np.float32))
        f.create_dataset("split", data=np.zeros(5, np.int64))
    print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    flat_split_length("hostile_flat_split_length.h5")
    external_link("hostile_external_link.h5")
    heap_free_list_loop("hostile_heap_free_list_loop.h5")
    damage_dims("hostile_dataspace_dims.h5")
    damage("hostile_heap_object_size.h5", lambda d, s, o: struct.pack_into("<Q", d, o[0] + 8, 1 << 40))
    damage("hostile_heap_object_index.h5", lambda d, s, o: struct.pack_into("<H", d, o[0], 4000))
    damage("hostile_heap_signature.h5", lambda d, s, o: d.__setitem__(slice(s, s + 4), b"GCXL"))
    damage("hostile_heap_collection_size.h5", lambda d, s, o: struct.pack_into("<Q", d, s + 8, 1 << 40))
    for layout in ["chunked", "compact"]:
        damage(f"hostile_heap_object_size_{layout}.h5", lambda d, s, o: struct.pack_into("<Q", d, o[0] + 8, 1 << 40), layout)
