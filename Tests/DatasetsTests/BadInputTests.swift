import Datasets
import Foundation
import XCTest

/// Every bad input ends in a thrown DatasetError naming the file and the inner path.
final class BadInputTests: XCTestCase {
    func testMissingFile() {
        assertDatasetError(.fileNotFound, file: "/no/such/dir/missing.h5", innerPath: "/", contains: "not found") {
            try TextImageDataset.open(path: "/no/such/dir/missing.h5", split: "train")
        }
    }

    func testNotHDF5() throws {
        let path = try Fixture.path("bad_not_hdf5.h5")
        assertDatasetError(.notHDF5, file: path, innerPath: "/", contains: "expected an HDF5 file") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    func testTruncatedFile() throws {
        let path = try Fixture.path("bad_truncated.h5")
        assertDatasetError(.notHDF5, file: path, innerPath: "/", contains: "truncated") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    func testNaNEmbeddingNamesTheExample() throws {
        let path = try Fixture.path("bad_nan.h5")
        assertDatasetError(.invalidValue, file: path, innerPath: "/train/ex1/embeddings", contains: "example_1") {
            try TextImageDataset.open(path: path, split: "train")
        }
        // The other split of the same file is fine.
        XCTAssertEqual(try TextImageDataset.open(path: path, split: "test").count, 2)
    }

    func testWrongRank() throws {
        let path = try Fixture.path("bad_rank.h5")
        assertDatasetError(.wrongRank, file: path, innerPath: "/train/ex2/embeddings", contains: "(K, E)") {
            try TextImageDataset.open(path: path, split: "train")
        }
        let flat = try Fixture.path("bad_flat_image_rank.h5")
        assertDatasetError(.wrongRank, file: flat, innerPath: "/images", contains: "(2, H, W, 3)") {
            try TextImageDataset.open(path: flat, split: "all")
        }
    }

    func testWrongDtype() throws {
        let path = try Fixture.path("bad_dtype.h5")
        assertDatasetError(.wrongType, file: path, innerPath: "/train/ex0/embeddings", contains: "expected float32 or float64") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    func testMissingEmbeddingsAndImages() throws {
        let path = try Fixture.path("bad_missing_embeddings.h5")
        assertDatasetError(.missingObject, file: path, innerPath: "/train/ex2", contains: "no embeddings") {
            try TextImageDataset.open(path: path, split: "train")
        }
        let flat = try Fixture.path("bad_missing_images.h5")
        assertDatasetError(.missingObject, file: flat, innerPath: "/", contains: "no images") {
            try TextImageDataset.open(path: flat, split: "train")
        }
    }

    func testEmptyAndUnknownSplit() throws {
        let path = try Fixture.path("bad_empty_split.h5")
        XCTAssertTrue(try TextImageDataset.describe(path: path).splits.contains("valid"))
        assertDatasetError(.emptySplit, file: path, innerPath: "/valid", contains: "no examples") {
            try TextImageDataset.open(path: path, split: "valid")
        }
        assertDatasetError(.missingObject, file: path, innerPath: "/nope", contains: "splits") {
            try TextImageDataset.open(path: path, split: "nope")
        }
        let flat = try Fixture.path("flat.h5")
        assertDatasetError(.missingObject, file: flat, innerPath: "/split", contains: "valid") {
            try TextImageDataset.open(path: flat, split: "valid")
        }
    }

    func testEmbeddingWidthDifferentFromExpected() throws {
        let path = try Fixture.path("per_example.h5")
        assertDatasetError(.widthMismatch, file: path, innerPath: "/train/ex0/embeddings", contains: "expected 384") {
            try TextImageDataset.open(path: path, split: "train", options: DatasetOptions(expectedEmbeddingWidth: 384))
        }
        let flat = try Fixture.path("flat.h5")
        assertDatasetError(.widthMismatch, file: flat, innerPath: "/embeddings", contains: "expected 1024") {
            try TextImageDataset.open(path: flat, split: "train", options: DatasetOptions(expectedEmbeddingWidth: 1024))
        }
    }

    func testUndecodableImageStopsOrIsSkipped() throws {
        let path = try Fixture.path("bad_image.h5")
        assertDatasetError(.undecodableImage, file: path, innerPath: "/train/ex1/img", contains: "example_1") {
            try TextImageDataset.open(path: path, split: "train")
        }
        let data = try TextImageDataset.open(path: path, split: "train", options: DatasetOptions(invalidImages: .skip))
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.skipped, ["example_1"])
        XCTAssertEqual(data.names, ["example_0", "example_2", "example_3"])
        // Fields stay aligned after the skip: example_2's embedding follows example_0's.
        XCTAssertEqual(Array(data.embedding(1, caption: 0))[0], Fixture.embedding(example: 2, k: 0, j: 0), accuracy: 1e-6)
        Fixture.assertPattern(try data.image(at: 1), example: 2, tolerance: 0)
    }

    func testErrorDescriptionFormat() {
        let e = DatasetError(.wrongRank, file: "a.h5", path: "/x", "expected (N, E)")
        XCTAssertEqual(e.description, "a.h5: /x: expected (N, E) [wrongRank]")
    }

    /// Damaged global heaps (scripts/make_hostile_fixtures.py): libhdf5 1.10 segfaulted on the
    /// first and read the second as an empty caption; each is now an error naming the dataset.
    func testDamagedGlobalHeapIsAnErrorNotACrashOrAnEmptyCaption() throws {
        let cases = [("hostile_heap_object_size.h5", "global heap collection"),
                     ("hostile_heap_object_index.h5", "names no object"),
                     ("hostile_heap_signature.h5", "no GCOL signature"),
                     ("hostile_heap_collection_size.h5", "more than the file holds")]
        for (name, expected) in cases {
            let path = try Fixture.path(name)
            assertDatasetError(.readFailed, file: path, innerPath: "/train/ex0/txt", contains: expected) {
                try TextImageDataset.open(path: path, split: "train")
            }
        }
    }

    /// Damaged group structures (scripts/make_hostile_group_fixtures.c): libhdf5 1.10 died inside
    /// H5Literate on both (free() of a pointer it never allocated; a read at a wild address). A
    /// child process walks the file first; its death is this error, naming the object it was on.
    /// The read at a wild address does not always fault (a fresh-clone CI run read past it and
    /// found no dataset layout): either way the file ends in one error naming it, never a crash.
    func testDamagedGroupStructuresAreErrorsNotCrashes() throws {
        for (name, object) in [("hostile_link_message_version.h5", "/train/ex0"), ("hostile_link_info_heap.h5", "/train")] {
            let path = try Fixture.path(name)
            do {
                _ = try TextImageDataset.describe(path: path)
                XCTFail("\(name): read without an error")
            } catch let error as DatasetError {
                XCTAssertTrue(error.description.contains(name), "\(error)")
                if error.kind == .readFailed {
                    XCTAssertTrue(error.description.contains(object) && error.description.contains("libhdf5 crashed (signal "), "\(error)")
                } else {
                    XCTAssertEqual(error.kind, .unknownLayout, "\(error)")
                }
            }
        }
        // The same file undamaged, its links in object headers ("compact" storage), reads.
        let data = try TextImageDataset.open(path: try Fixture.path("compact_links.h5"), split: "train")
        XCTAssertEqual(data.names, ["ex0", "ex1"])
        XCTAssertEqual(Array(data.embedding(1, caption: 0)), Array(repeating: 1, count: 8))
    }

    /// Found by scripts/fuzz.sh (kept as it was): /train/ex0's listing misses `txt`, which a
    /// lookup by name still finds, with a damaged global heap behind it. The walk looked up the
    /// readers' names without opening what it found, and this process then segfaulted in H5Dread.
    func testAMemberOnlyALookupFindsIsWalkedToo() throws {
        let path = try Fixture.path("hostile_fuzz_looked_up_member.h5")
        assertDatasetError(.readFailed, file: path, innerPath: "/train/ex0/txt", contains: "libhdf5 crashed") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    /// A local heap whose free list loops: libhdf5 allocates without end (23 GB before the kernel
    /// killed it). The walk's memory is bounded and the file refused.
    func testALocalHeapFreeListThatLoopsIsAnError() throws {
        let path = try Fixture.path("hostile_heap_free_list_loop.h5")
        assertDatasetError(.readFailed, file: path, innerPath: "/", contains: "takes more than 512 MB of memory") {
            try TextImageDataset.describe(path: path)
        }
    }

    /// An external link leads into another file anywhere on disk (a FIFO there hung the command):
    /// it is refused, naming the link.
    func testExternalLinksAreNotFollowed() throws {
        let path = try Fixture.path("hostile_external_link.h5")
        assertDatasetError(.readFailed, file: path, innerPath: "/train", contains: "external or user-defined link") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    /// Variable-length captions in chunked or compact storage, which libhdf5 reads itself, with
    /// the damaged heap of hostile_heap_object_size.h5: a segfault in H5Dread before.
    func testDamagedVariableLengthDataOutsideContiguousStorageIsAnError() throws {
        for layout in ["chunked", "compact"] {
            let path = try Fixture.path("hostile_heap_object_size_\(layout).h5")
            assertDatasetError(.readFailed, file: path, innerPath: "/train/ex0/txt", contains: "libhdf5 crashed") {
                try TextImageDataset.open(path: path, split: "train")
            }
        }
    }

    /// A dataspace claiming billions of elements of a 32-byte dataset: refused before allocating.
    func testDataspaceLargerThanItsStorageIsAnError() throws {
        let path = try Fixture.path("hostile_dataspace_dims.h5")
        assertDatasetError(.invalidValue, file: path, innerPath: "/train/ex0/embeddings", contains: "the file stores 32") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }

    /// A compact images dataset whose buffer in the header is shorter than its extent (found by
    /// scripts/fuzz.sh, committed as found): libhdf5 1.10 copied past the buffer and this process
    /// segfaulted in H5Dread. Refused before reading.
    func testACompactDatasetLargerThanItsBufferIsAnError() throws {
        let path = try Fixture.path("hostile_fuzz_compact_buffer.h5")
        assertDatasetError(.invalidValue, file: path, innerPath: "/images", contains: "the file stores") {
            let split = try XCTUnwrap(TextImageDataset.describe(path: path).splits.first)
            return try TextImageDataset.open(path: path, split: split).image(at: 0)
        }
    }

    /// A root group whose symbol table's local heap claims a 20 GB data block (found by
    /// scripts/fuzz.sh, committed as found): the bounded walk's allocation failed, libhdf5 made
    /// that an ordinary error, and this process then made the allocation while listing the group:
    /// 21 GB of memory for `inspect`. A failed allocation in the walk now refuses the file.
    func testALinkTableThatAsksForGigabytesIsAnError() throws {
        let path = try Fixture.path("hostile_fuzz_link_table_size.h5")
        assertDatasetError(.readFailed, file: path, innerPath: "/", contains: "takes more than 512 MB of memory") {
            try TextImageDataset.describe(path: path)
        }
    }

    /// A flat file's split array longer than its arrays: an index out of range trapped before.
    func testFlatSplitArrayOfAnotherLengthIsAnError() throws {
        let path = try Fixture.path("hostile_flat_split_length.h5")
        assertDatasetError(.wrongRank, file: path, innerPath: "/split", contains: "expected (2,)") {
            try TextImageDataset.open(path: path, split: "train")
        }
    }
}
