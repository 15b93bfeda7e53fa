// Reading text-image datasets from HDF5 in either known layout.
import Foundation

/// How the HDF5 file is organised (detected automatically).
public enum DatasetLayout: String, Sendable {
    /// Split groups (`train`/`valid`/`test`), one group per example holding `img` (encoded
    /// JPEG/PNG bytes), `embeddings` (E,) or (K, E), `txt`, `class`, `name` (aelnouby-style
    /// birds.hdf5 / flowers.hdf5, and our data/shapes.h5).
    case perExample
    /// Arrays over all examples: `images` (N, H, W, 3) uint8, `embeddings` (N, K, E) or
    /// (N, E), optional `captions` (N, K) or (N,), `class_ids` (N,), `filenames` (N,), and
    /// either a `split` array (N,) or split groups each holding the arrays.
    case flat
}

/// Names of the datasets to read, when a file uses names other than the defaults.
/// For `.perExample` they name members of each example group, for `.flat` the arrays.
/// `nil` means: try the usual names (listed in `candidates`).
public struct DatasetPaths: Codable, Equatable, Sendable {
    public var images: String?
    public var embeddings: String?
    public var captions: String?
    public var classes: String?
    public var names: String?
    /// Flat layout only: the per-example split array.
    public var split: String?

    public init(images: String? = nil, embeddings: String? = nil, captions: String? = nil,
                classes: String? = nil, names: String? = nil, split: String? = nil) {
        self.images = images; self.embeddings = embeddings; self.captions = captions
        self.classes = classes; self.names = names; self.split = split
    }

    enum Field { case images, embeddings, captions, classes, names, split }

    /// Every name the readers look up in a group, the usual split names included.
    var probedNames: [String] {
        let fields: [Field] = [.images, .embeddings, .captions, .classes, .names, .split]
        let splits = ["train", "valid", "val", "validation", "test", "all", "attributes"]
        return Array(Set(fields.flatMap { candidates($0, .perExample) + candidates($0, .flat) } + splits)).sorted()
    }

    func candidates(_ field: Field, _ layout: DatasetLayout) -> [String] {
        let override: String?
        let defaults: [String]
        switch field {
        case .images: override = images; defaults = layout == .perExample ? ["img", "image"] : ["images", "imgs"]
        case .embeddings: override = embeddings; defaults = ["embeddings", "embedding"]
        case .captions: override = captions; defaults = layout == .perExample ? ["txt", "captions", "caption", "text"] : ["captions", "txt", "text"]
        case .classes: override = classes; defaults = layout == .perExample ? ["class", "class_id", "label"] : ["class_ids", "classes", "labels", "class"]
        case .names: override = names; defaults = layout == .perExample ? ["name"] : ["filenames", "names"]
        case .split: override = split; defaults = ["split", "splits"]
        }
        return override.map { [$0] } ?? defaults
    }
}

/// What to do with an example whose image bytes cannot be decoded.
public enum InvalidImagePolicy: String, Codable, Sendable {
    /// Throw, naming the example.
    case stop
    /// Leave the example out and record its name in `TextImageDataset.skipped`.
    case skip
}

/// Options for `TextImageDataset.open`.
public struct DatasetOptions: Codable, Equatable, Sendable {
    public var paths: DatasetPaths
    /// When set, embeddings of any other width are an error (the model's E is fixed).
    public var expectedEmbeddingWidth: Int?
    public var invalidImages: InvalidImagePolicy

    public init(paths: DatasetPaths = DatasetPaths(), expectedEmbeddingWidth: Int? = nil,
                invalidImages: InvalidImagePolicy = .stop) {
        self.paths = paths
        self.expectedEmbeddingWidth = expectedEmbeddingWidth
        self.invalidImages = invalidImages
    }

    /// Missing keys take the defaults, so a config names only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paths = try c.decodeIfPresent(DatasetPaths.self, forKey: .paths) ?? DatasetPaths()
        expectedEmbeddingWidth = try c.decodeIfPresent(Int.self, forKey: .expectedEmbeddingWidth)
        invalidImages = try c.decodeIfPresent(InvalidImagePolicy.self, forKey: .invalidImages) ?? .stop
    }
}

/// One split of a text-image dataset, held in memory except for flat pixel arrays,
/// which stay on disk and are read a row at a time.
///
/// Shapes: `embeddings` is (count, captionsPerImage, embeddingWidth) row-major;
/// `captions[i]` holds up to captionsPerImage strings; `classIndices[i]` indexes
/// `classNames` (-1 when the file has no classes); `image(at:)` gives (H, W, 3) RGB8.
public final class TextImageDataset {
    public let file: String
    public let split: String
    public let layout: DatasetLayout
    /// Splits present in the file (a flat file without split information has one, "all").
    public let availableSplits: [String]
    public let captionsPerImage: Int
    public let embeddingWidth: Int
    public let embeddings: [Float]
    public let captions: [[String]]
    /// Sorted distinct class values of this split (ints appear as their decimal strings).
    /// Indices are per split: match classes across splits by these names.
    public let classNames: [String]
    public let classIndices: [Int]
    /// Example names (group names or filenames), used in error messages.
    public let names: [String]
    /// Names of examples left out under `InvalidImagePolicy.skip`.
    public let skipped: [String]
    /// Per-example attribute labels by attribute name (`shape`, `color`, ... on shapes.h5), read
    /// from the string arrays of `/attributes/<split>/` in example order; empty when the file has none.
    public let attributes: [String: [String]]

    enum ImageStore {
        case encoded([[UInt8]], paths: [String])
        case rows(H5Dataset, rows: [Int])
    }
    let images: ImageStore

    public var count: Int { names.count }

    /// Embedding `caption` of example `index`: `embeddingWidth` floats.
    public func embedding(_ index: Int, caption: Int) -> ArraySlice<Float> {
        let start = (index * captionsPerImage + caption) * embeddingWidth
        return embeddings[start..<(start + embeddingWidth)]
    }

    /// Decoded image of example `index`, (H, W, 3) RGB8.
    public func image(at index: Int) throws -> RGBImage {
        switch images {
        case .encoded(let blobs, let paths):
            return try ImageCodec.decode(blobs[index], file: file, name: "\(paths[index]) (example '\(names[index])')")
        case .rows(let dataset, let rows):
            let pixels = try dataset.readUInt8Rows(start: rows[index], rows: 1)
            return RGBImage(width: dataset.shape[2], height: dataset.shape[1], pixels: pixels)
        }
    }

    private init(file: String, split: String, layout: DatasetLayout, availableSplits: [String], examples: Examples, images: ImageStore, skipped: [String]) {
        self.file = file
        self.split = split
        self.layout = layout
        self.availableSplits = availableSplits
        captionsPerImage = examples.captionsPerImage
        embeddingWidth = examples.embeddingWidth
        embeddings = examples.embeddings
        captions = examples.captions
        names = examples.names
        let classValues = examples.classes
        if classValues.allSatisfy({ $0 != nil }) && !classValues.isEmpty {
            let distinct = Array(Set(classValues.compactMap { $0 })).sorted {
                // Numeric ids sort numerically, so that class 10 follows class 9.
                if let a = Int($0), let b = Int($1) { return a < b }
                return $0 < $1
            }
            let lookup = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            classNames = distinct
            classIndices = classValues.map { lookup[$0 ?? ""] ?? -1 }
        } else {
            classNames = []
            classIndices = Array(repeating: -1, count: examples.names.count)
        }
        self.images = images
        self.skipped = skipped
        attributes = examples.attributes
    }

    /// Example fields gathered while reading, before the images are attached.
    struct Examples {
        var captionsPerImage = 0
        var embeddingWidth = 0
        var embeddings: [Float] = []
        var captions: [[String]] = []
        var classes: [String?] = []
        var names: [String] = []
        var attributes: [String: [String]] = [:]
    }

    // MARK: Opening

    /// Layout and split names of a file, without reading examples.
    public static func describe(path: String, paths: DatasetPaths = DatasetPaths()) throws -> (layout: DatasetLayout, splits: [String]) {
        let file = try H5File(path: path, probing: paths.probedNames)
        let root = try file.root()
        return try detect(root, paths: paths, file: path)
    }

    /// Opens one split (`train`, `valid`, `test`, ...). Embeddings are validated (finite,
    /// consistent width, optional expected width) and every image header is checked, so
    /// that bad data fails here rather than hours into training.
    public static func open(path: String, split: String, options: DatasetOptions = DatasetOptions()) throws -> TextImageDataset {
        let file = try H5File(path: path, probing: options.paths.probedNames + [split])
        let root = try file.root()
        let (layout, splits) = try detect(root, paths: options.paths, file: path)
        switch layout {
        case .perExample:
            guard let group = try root.group(split) else {
                throw DatasetError(.missingObject, file: path, path: "/" + split, "split '\(split)' not found; the file has splits \(splits)")
            }
            let attributes = try root.group("attributes").flatMap { try $0.group(split) }
            return try openPerExample(group, split: split, splits: splits, attributes: attributes, options: options)
        case .flat:
            return try openFlat(root, split: split, splits: splits, options: options)
        }
    }

    private static func firstDataset(_ group: H5Group, _ names: [String]) throws -> H5Dataset? {
        for name in names { if let d = try group.dataset(name) { return d } }
        return nil
    }

    static func detect(_ root: H5Group, paths: DatasetPaths, file: String) throws -> (DatasetLayout, [String]) {
        let embeddingNames = paths.candidates(.embeddings, .flat)
        if try firstDataset(root, embeddingNames) != nil {
            if let splitArray = try firstDataset(root, paths.candidates(.split, .flat)) {
                return (.flat, try splitNames(splitArray))
            }
            return (.flat, ["all"])
        }
        var splits: [String] = []
        var layout: DatasetLayout?
        for name in try root.childNames() {
            guard let group = try root.group(name) else { continue }
            if try firstDataset(group, embeddingNames) != nil {
                layout = layout ?? .flat
                splits.append(name)
                continue
            }
            // A per-example split holds groups; an empty split still counts, so that
            // opening it reports "empty split" rather than "unknown layout".
            let children = try group.childNames()
            if let first = children.first, let example = try group.group(first) {
                if try firstDataset(example, paths.candidates(.embeddings, .perExample)) != nil {
                    layout = layout ?? .perExample
                    splits.append(name)
                }
            } else if children.isEmpty {
                splits.append(name)
            }
        }
        // Conventional order first, so reports and defaults start with the training split.
        let rank = ["train": 0, "valid": 1, "val": 1, "validation": 1, "test": 2]
        splits.sort { (rank[$0] ?? 3, $0) < (rank[$1] ?? 3, $1) }
        guard let found = layout else {
            if !splits.isEmpty { return (.perExample, splits) }
            throw DatasetError(.unknownLayout, file: file, path: "/",
                               "no embeddings found; expected a root dataset \(embeddingNames), split groups holding it, or split groups of example groups each holding it")
        }
        return (found, splits)
    }

    /// Distinct split names of a flat `split` array, in first-seen order. Integer splits
    /// follow the common 0 = train, 1 = valid, 2 = test convention.
    private static func splitNames(_ array: H5Dataset) throws -> [String] {
        var seen: [String] = []
        for s in try splitLabels(array) where !seen.contains(s) { seen.append(s) }
        return seen
    }

    private static func splitLabels(_ array: H5Dataset) throws -> [String] {
        if array.typeClass == .integer {
            return try array.readInts().map { ["train", "valid", "test"].indices.contains($0) ? ["train", "valid", "test"][$0] : String($0) }
        }
        guard array.typeClass == .string else {
            throw array.error(.wrongType, "expected split labels as strings or integers (0 train, 1 valid, 2 test), found \(array.typeDescription)")
        }
        return try array.readStrings()
    }

    /// Checks width and finiteness of embeddings for `count` examples.
    private static func validate(embeddings: [Float], width: Int, perExample: Int, names: [String], options: DatasetOptions, file: String, path: (Int) -> String) throws {
        if let expected = options.expectedEmbeddingWidth, expected != width {
            throw DatasetError(.widthMismatch, file: file, path: path(0), "embedding width \(width), expected \(expected) (the width the model was built for)")
        }
        for (i, v) in embeddings.enumerated() where !v.isFinite {
            let example = i / max(perExample * width, 1)
            throw DatasetError(.invalidValue, file: file, path: path(example),
                               "embedding of example '\(names.indices.contains(example) ? names[example] : String(example))' contains \(v); expected finite values")
        }
    }

    /// The string arrays of an attributes group with one entry per example group, at the rows of
    /// the examples kept (`kept` indexes the split's example groups in order).
    private static func readAttributes(_ group: H5Group?, groups: Int, kept: [Int]) throws -> [String: [String]] {
        guard let group else { return [:] }
        var result: [String: [String]] = [:]
        for name in try group.childNames() {
            guard let set = try group.dataset(name), set.typeClass == .string, set.shape == [groups] else { continue }
            let values = try set.readStrings()
            result[name] = kept.map { values[$0] }
        }
        return result
    }

    /// aelnouby's files store each caption of an image as its own group (`<name>_0` ... `<name>_4`,
    /// each holding the same `img` and `name`). Groups sharing a name become one example with all
    /// their captions, so that captions-per-image, mean-of-k, wrong pairs and R-precision see one
    /// image with K captions rather than K images that happen to look alike.
    /// Returns the group indices of each merged example, in first-seen order.
    private static func groupByName(_ ex: inout Examples, file: String, path: String) throws -> [[Int]] {
        var members: [[Int]] = []
        var slot: [String: Int] = [:]
        for (i, name) in ex.names.enumerated() {
            if let s = slot[name] { members[s].append(i) } else { slot[name] = members.count; members.append([i]) }
        }
        guard members.count < ex.names.count else { return members }
        let groupsPerImage = members[0].count
        if let odd = members.first(where: { $0.count != groupsPerImage }) {
            throw DatasetError(.wrongRank, file: file, path: path,
                               "example '\(ex.names[odd[0]])' has \(odd.count) caption groups where '\(ex.names[0])' has \(groupsPerImage); every image needs the same number of captions")
        }
        let size = ex.captionsPerImage * ex.embeddingWidth
        var merged = Examples()
        merged.captionsPerImage = ex.captionsPerImage * groupsPerImage
        merged.embeddingWidth = ex.embeddingWidth
        for group in members {
            for i in group { merged.embeddings += ex.embeddings[(i * size)..<((i + 1) * size)] }
            merged.captions.append(group.flatMap { ex.captions[$0] })
            merged.classes.append(ex.classes[group[0]])
            merged.names.append(ex.names[group[0]])
        }
        ex = merged
        return members
    }

    private static func openPerExample(_ splitGroup: H5Group, split: String, splits: [String], attributes: H5Group?,
                                       options: DatasetOptions) throws -> TextImageDataset {
        let file = splitGroup.file
        let paths = options.paths
        var ex = Examples()
        var blobs: [[UInt8]] = []
        var blobPaths: [String] = []
        var skipped: [String] = []
        let exampleNames = try splitGroup.childNames()
        guard !exampleNames.isEmpty else {
            throw DatasetError(.emptySplit, file: file, path: splitGroup.path, "split '\(split)' has no examples; expected one group per example")
        }
        var kept: [Int] = []
        for (position, groupName) in exampleNames.enumerated() {
            guard let example = try splitGroup.group(groupName) else { continue }
            guard let imageSet = try firstDataset(example, paths.candidates(.images, .perExample)) else {
                throw DatasetError(.missingObject, file: file, path: example.path, "no image; expected one of \(paths.candidates(.images, .perExample)) holding encoded JPEG/PNG bytes")
            }
            guard let embeddingSet = try firstDataset(example, paths.candidates(.embeddings, .perExample)) else {
                throw DatasetError(.missingObject, file: file, path: example.path, "no embeddings; expected one of \(paths.candidates(.embeddings, .perExample)) of shape (E,) or (K, E)")
            }
            let name: String
            if let nameSet = try firstDataset(example, paths.candidates(.names, .perExample)) {
                name = try nameSet.readStrings().first ?? groupName
            } else {
                name = groupName
            }
            // Embeddings: (E,) is one caption, (K, E) K captions.
            let shape = embeddingSet.shape
            guard shape.count == 1 || shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
                throw embeddingSet.error(.wrongRank, "embeddings of shape \(shape); expected (E,) or (K, E)")
            }
            let k = shape.count == 2 ? shape[0] : 1, e = shape.last ?? 0
            if ex.names.isEmpty && skipped.isEmpty {
                ex.captionsPerImage = k; ex.embeddingWidth = e
            } else if k != ex.captionsPerImage || e != ex.embeddingWidth {
                throw embeddingSet.error(.wrongRank, "embeddings of shape \(shape); expected (\(ex.captionsPerImage), \(ex.embeddingWidth)) like the examples before it")
            }
            let values = try embeddingSet.readFloats()
            try validate(embeddings: values, width: e, perExample: k, names: [name], options: options, file: file) { _ in embeddingSet.path }
            let blob = try imageSet.readBlob()
            do {
                _ = try ImageCodec.size(of: blob, file: file, name: "\(imageSet.path) (example '\(name)')")
            } catch let error as DatasetError where options.invalidImages == .skip && error.kind == .undecodableImage {
                skipped.append(name)
                continue
            }
            var texts: [String] = []
            if let captionSet = try firstDataset(example, paths.candidates(.captions, .perExample)) {
                texts = try captionSet.readStrings()
                // Some files store K captions as one newline-separated string.
                if texts.count == 1 && k > 1 {
                    let lines = texts[0].split(separator: "\n").map(String.init)
                    if lines.count == k { texts = lines }
                }
                if let empty = texts.firstIndex(where: { $0.isEmpty }) {
                    throw captionSet.error(.invalidValue, "caption \(empty) of example '\(name)' is empty; expected its text")
                }
            }
            var classValue: String?
            if let classSet = try firstDataset(example, paths.candidates(.classes, .perExample)) {
                classValue = classSet.typeClass == .integer ? try classSet.readInts().first.map(String.init) : try classSet.readStrings().first
                // A class dataset holding nothing (or an empty string) is damage, not a class "".
                guard let value = classValue, !value.isEmpty else {
                    throw classSet.error(.invalidValue, "empty class label of example '\(name)'; expected a class name or number")
                }
            }
            ex.embeddings += values
            ex.captions.append(texts)
            ex.classes.append(classValue)
            ex.names.append(name)
            kept.append(position)
            blobs.append(blob)
            blobPaths.append(imageSet.path)
        }
        guard !ex.names.isEmpty else {
            throw DatasetError(.emptySplit, file: file, path: splitGroup.path, "split '\(split)' has no usable examples (\(skipped.count) skipped for undecodable images)")
        }
        let members = try groupByName(&ex, file: file, path: splitGroup.path)
        blobs = members.map { blobs[$0[0]] }
        blobPaths = members.map { blobPaths[$0[0]] }
        kept = members.map { kept[$0[0]] }
        ex.attributes = try readAttributes(attributes, groups: exampleNames.count, kept: kept)
        return TextImageDataset(file: file, split: split, layout: .perExample, availableSplits: splits, examples: ex,
                                images: .encoded(blobs, paths: blobPaths), skipped: skipped)
    }

    private static func openFlat(_ root: H5Group, split: String, splits: [String], options: DatasetOptions) throws -> TextImageDataset {
        let file = root.file
        let paths = options.paths
        // Either arrays at the root with a split array, or one group per split.
        var holder = root
        var selected: [Int]?
        var splitArray: H5Dataset?
        if let splitGroup = try root.group(split), try firstDataset(splitGroup, paths.candidates(.embeddings, .flat)) != nil {
            holder = splitGroup
        } else if let splitSet = try firstDataset(root, paths.candidates(.split, .flat)) {
            splitArray = splitSet
            let labels = try splitLabels(splitSet)
            selected = labels.indices.filter { labels[$0] == split }
            guard splits.contains(split) else {
                throw DatasetError(.missingObject, file: file, path: splitSet.path, "split '\(split)' not found; the split array has \(splits)")
            }
        } else if !(splits == ["all"] && (split == "all" || split == "train")) {
            throw DatasetError(.missingObject, file: file, path: "/" + split, "split '\(split)' not found; the file has splits \(splits)")
        }
        guard let embeddingSet = try firstDataset(holder, paths.candidates(.embeddings, .flat)) else {
            throw DatasetError(.missingObject, file: file, path: holder.path, "no embeddings; expected one of \(paths.candidates(.embeddings, .flat)) of shape (N, K, E) or (N, E)")
        }
        guard let imageSet = try firstDataset(holder, paths.candidates(.images, .flat)) else {
            throw DatasetError(.missingObject, file: file, path: holder.path, "no images; expected one of \(paths.candidates(.images, .flat)) of shape (N, H, W, 3) uint8")
        }
        let es = embeddingSet.shape
        guard es.count == 2 || es.count == 3, es.allSatisfy({ $0 > 0 }) else {
            throw embeddingSet.error(.wrongRank, "embeddings of shape \(es); expected (N, K, E) or (N, E)")
        }
        let n = es[0], k = es.count == 3 ? es[1] : 1, e = es[es.count - 1]
        let iss = imageSet.shape
        guard iss.count == 4, iss[0] == n, iss[3] == 3, iss[1] > 0, iss[2] > 0 else {
            throw imageSet.error(.wrongRank, "images of shape \(iss); expected (\(n), H, W, 3) to match embeddings \(es)")
        }
        guard imageSet.typeClass == .integer, imageSet.typeSize == 1 else {
            throw imageSet.error(.wrongType, "images stored as \(imageSet.typeDescription); expected uint8 pixels")
        }
        if let splitArray, splitArray.shape != [n] {
            throw splitArray.error(.wrongRank, "split labels of shape \(splitArray.shape); expected (\(n),), one per example of \(embeddingSet.path)")
        }
        let rows = selected ?? Array(0..<n)
        guard !rows.isEmpty else {
            throw DatasetError(.emptySplit, file: file, path: holder.path, "split '\(split)' has no examples")
        }
        func perRow<T>(_ field: DatasetPaths.Field, _ read: (H5Dataset) throws -> [T]) throws -> [[T]]? {
            guard let set = try firstDataset(holder, paths.candidates(field, .flat)) else { return nil }
            guard set.shape.first == n else {
                throw set.error(.wrongRank, "shape \(set.shape); expected first dimension \(n) (one entry per example)")
            }
            let values = try read(set)
            let per = values.count / n
            return rows.map { Array(values[($0 * per)..<(($0 + 1) * per)]) }
        }
        var ex = Examples()
        ex.captionsPerImage = k
        ex.embeddingWidth = e
        let all = try embeddingSet.readFloats()
        ex.embeddings.reserveCapacity(rows.count * k * e)
        for r in rows { ex.embeddings += all[(r * k * e)..<((r + 1) * k * e)] }
        ex.names = try perRow(.names) { try $0.readStrings() }?.map { $0.first ?? "" } ?? rows.map { "row \($0)" }
        ex.captions = try perRow(.captions) { try $0.readStrings() } ?? Array(repeating: [], count: rows.count)
        if let row = ex.captions.firstIndex(where: { $0.contains(where: \.isEmpty) }) {
            throw DatasetError(.invalidValue, file: file, path: holder.path, "a caption of example '\(ex.names[row])' is empty; expected its text")
        }
        ex.classes = try perRow(.classes) { set -> [String] in
            set.typeClass == .integer ? try set.readInts().map(String.init) : try set.readStrings()
        }?.map { $0.first } ?? Array(repeating: nil, count: rows.count)
        try validate(embeddings: ex.embeddings, width: e, perExample: k, names: ex.names, options: options, file: file) { _ in embeddingSet.path }
        return TextImageDataset(file: file, split: split, layout: .flat, availableSplits: splits, examples: ex,
                                images: .rows(imageSet, rows: rows), skipped: [])
    }
}
