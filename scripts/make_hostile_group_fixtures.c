// Writes the HDF5 files with damaged group structures, Tests/DatasetsTests/Fixtures/hostile_link_*.h5
// (issue 28). Build and run from the repository root, against the system libhdf5 (1.10 writes the
// version-1 object headers these edits need; h5py's newer library writes checksummed ones):
//
//   gcc -O1 scripts/make_hostile_group_fixtures.c $(pkg-config --cflags --libs hdf5) -o /tmp/hostile && /tmp/hostile
//
// Each file is a small valid per-example dataset (split `train`, two examples) whose groups keep
// their links as link messages in the object header ("compact" storage, what link creation order
// tracking gives), with a few bytes changed afterwards. libhdf5 1.10.8 (Debian 12) dies on both
// inside H5Literate, which `stackgan inspect` and `train` called in-process before:
//
//   compact_links.h5                 the valid file, for the readers' own test
//
//   hostile_link_message_version.h5  the version byte of /train/ex0's link message to `img` is 0:
//                                    free() of a pointer never allocated (H5G__link_release_table)
//   hostile_link_info_heap.h5        /train's link info message says its links are in a fractal
//                                    heap at address 0 (they are in the header): SIGSEGV
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char png[] = {  // a 1x1 red PNG
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
    0x90, 0x77, 0x53, 0xDE, 0, 0, 0, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0, 0, 0x03, 0x01, 0x01,
    0, 0x18, 0xDD, 0x8D, 0xB0, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};

static void write_valid(const char *path) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t train = H5Gcreate2(file, "train", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof name, "ex%d", i);
        hid_t group = H5Gcreate2(train, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        hsize_t n = sizeof png, e[2] = {1, 8};
        float embedding[8];
        for (int k = 0; k < 8; k++) embedding[k] = (float)i;
        hid_t space = H5Screate_simple(1, &n, NULL);
        hid_t set = H5Dcreate2(group, "img", H5T_NATIVE_UCHAR, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(set, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, png);
        H5Dclose(set); H5Sclose(space);
        space = H5Screate_simple(2, e, NULL);
        set = H5Dcreate2(group, "embeddings", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, embedding);
        H5Dclose(set); H5Sclose(space);
        H5Gclose(group);
    }
    H5Gclose(train); H5Fclose(file); H5Pclose(gcpl);
}

// Writes `path` valid, then sets `count` bytes at the first match of `pattern` (+ `offset`) to `value`.
static void damage(const char *path, const unsigned char *pattern, size_t length, size_t offset, unsigned char value, size_t count) {
    write_valid(path);
    FILE *f = fopen(path, "r+b");
    if (!f) { perror(path); exit(1); }
    static unsigned char data[1 << 20];
    size_t size = fread(data, 1, sizeof data, f);
    for (size_t at = 0; at + length <= size; at++) {
        if (memcmp(data + at, pattern, length) != 0) continue;
        memset(data + at + offset, value, count);
        fseek(f, 0, SEEK_SET);
        fwrite(data, 1, size, f);
        fclose(f);
        printf("%s: %zu bytes, changed at %zu\n", path, size, at + offset);
        return;
    }
    fprintf(stderr, "%s: pattern not found\n", path);
    exit(1);
}

int main(void) {
    const char *folder = "Tests/DatasetsTests/Fixtures/";
    char path[256];
    snprintf(path, sizeof path, "%scompact_links.h5", folder);
    write_valid(path);
    // Link message (version 1, flags: creation order present, 8-byte order 0, name length 3, "img").
    const unsigned char message[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'i', 'm', 'g'};
    snprintf(path, sizeof path, "%shostile_link_message_version.h5", folder);
    damage(path, message, sizeof message, 0, 0, 1);
    // Link info message (version 0, flags 3, max creation index 2 for /train's two links), then the
    // fractal heap address (undefined: all ones) set to 0.
    const unsigned char info[] = {0, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    snprintf(path, sizeof path, "%shostile_link_info_heap.h5", folder);
    damage(path, info, sizeof info, 10, 0, 8);
    return 0;
}
