#!/usr/bin/env python3
"""Writes variants of HDF5 files with their group structures damaged, as fuzz seeds (scripts/fuzz.sh).

    python3 scripts/fuzz_hdf5_groups.py OUT_FOLDER COUNT SEED FILE.h5...

libFuzzer's byte mutations rarely land in the few hundred bytes that hold a file's groups, so
each variant changes 1-6 values inside them: symbol-table B-tree nodes (TREE), local heaps (HEAP
and their data), symbol table nodes (SNOD) and their entries, version-1 object headers they point
at, version-2 object headers (OHDR, OCHK), fractal heaps and v2 B-trees (dense link storage), the
bytes around member names (link messages, heap names) and the superblock. A version-2 object
header's checksum is recomputed, so libhdf5 reads what was changed instead of refusing it. Each
variant is written as `seed-3-groups-SEED-N.h5`: reader byte 3 (HDF5) followed by the file.
Plain Python, no packages.
"""
import os
import random
import re
import struct
import sys

SIGNATURES = [b"TREE", b"HEAP", b"SNOD", b"OHDR", b"OCHK", b"FRHP", b"FHDB", b"FHIB", b"BTHD", b"BTLF", b"BTIN"]
NAMES = [b"embeddings", b"img", b"txt", b"class", b"name", b"train", b"test", b"ex0", b"0000"]


def rotate(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data):
    """Bob Jenkins' lookup3 hashlittle with seed 0: HDF5's metadata checksum."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length) & 0xFFFFFFFF
    i = 0
    while length > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & 0xFFFFFFFF
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & 0xFFFFFFFF
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & 0xFFFFFFFF
        for x, y, z, k in ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4)):
            v = [a, b, c]
            v[x] = (v[x] - v[y]) & 0xFFFFFFFF
            v[x] ^= rotate(v[y], k)
            v[y] = (v[y] + v[z]) & 0xFFFFFFFF
            a, b, c = v
        length -= 12
        i += 12
    if length == 0:
        return c
    tail = bytes(data[i:]) + bytes(12 - length)
    if length > 8:
        c = (c + int.from_bytes(tail[8:12], "little")) & 0xFFFFFFFF
    if length > 4:
        b = (b + int.from_bytes(tail[4:8], "little")) & 0xFFFFFFFF
    a = (a + int.from_bytes(tail[0:4], "little")) & 0xFFFFFFFF
    for x, y, k in ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24)):
        v = [a, b, c]
        v[x] ^= v[y]
        v[x] = (v[x] - rotate(v[y], k)) & 0xFFFFFFFF
        a, b, c = v
    return c


def regions(data):
    """(start, length) of the byte ranges that hold group structures."""
    out = [(0, 128)]  # the superblock and the root's symbol table entry
    for signature in SIGNATURES:
        for m in re.finditer(re.escape(signature), data):
            out.append((m.start(), 256))
    for m in re.finditer(b"HEAP", data):  # local heap: size(8) at +8, data address(8) at +24
        if m.start() + 32 <= len(data):
            size, = struct.unpack_from("<Q", data, m.start() + 8)
            address, = struct.unpack_from("<Q", data, m.start() + 24)
            if address < len(data) and size < 1 << 16:
                out.append((address, max(size, 8)))
    for m in re.finditer(b"SNOD", data):  # entries of 40 bytes after the node's 8-byte header
        count, = struct.unpack_from("<H", data, m.start() + 6)
        for i in range(min(count, 64)):
            entry = m.start() + 8 + 40 * i
            if entry + 40 > len(data):
                break
            out.append((entry, 40))
            header, = struct.unpack_from("<Q", data, entry + 8)
            if header < len(data):
                out.append((header, 256))  # the version-1 object header it points at
    for name in NAMES:
        for m in re.finditer(re.escape(name), data):
            out.append((max(0, m.start() - 24), 48))
    return out


def fix_checksums(data):
    """Recomputes each version-2 object header's checksum over its first chunk."""
    for m in re.finditer(b"OHDR", data):
        start = m.start()
        if start + 8 > len(data) or data[start + 4] != 2:
            continue
        flags = data[start + 5]
        p = start + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        size = int.from_bytes(data[p:p + width], "little")
        end = p + width + size
        if end + 4 <= len(data):
            struct.pack_into("<I", data, end, lookup3(data[start:end]))


def mutate(data, rng):
    data = bytearray(data)
    spans = regions(bytes(data))
    for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
        start, length = rng.choice(spans)
        at = start + rng.randrange(max(length, 1))
        if at >= len(data):
            continue
        how = rng.randrange(6)
        if how == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif how == 1:
            data[at] = rng.randrange(256)
        elif how == 2:
            data[at] = rng.choice([0, 0xFF, 0x7F, 0x80, 1])
        elif how == 3 and at + 8 <= len(data):  # an address or a length: small, huge, another structure's
            old, = struct.unpack_from("<Q", data, at)
            value = rng.choice([0, 1, len(data) - 1, len(data) + 100, 1 << 63, (1 << 64) - 1, rng.choice(spans)[0],
                                old + rng.choice([-8, -1, 1, 8, 64])])
            struct.pack_into("<Q", data, at, value % (1 << 64))
        elif how == 4 and at + 2 <= len(data):
            struct.pack_into("<H", data, at, rng.choice([0, 1, 0xFFFF, 0x8000, rng.randrange(1 << 16)]))
        else:
            data[at] = (data[at] + rng.choice([-1, 1])) % 256
    if rng.random() < 0.8:
        fix_checksums(data)
    return bytes(data)


def main():
    folder, count, seed, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    rng = random.Random(seed)
    sources = [open(f, "rb").read() for f in files]
    for n in range(count):
        variant = mutate(rng.choice(sources), rng)
        with open(os.path.join(folder, f"seed-3-groups-{seed}-{n}.h5"), "wb") as out:
            out.write(b"\x03" + variant)


if __name__ == "__main__":
    main()
