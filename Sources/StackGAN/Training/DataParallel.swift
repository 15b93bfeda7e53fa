import Autograd
import Datasets
import Distributed
import Foundation
import NN

/// Data-parallel training on the ranks of an MPI job (`mpirun -np N stackgan train`); on one
/// rank every method returns at once and training is exactly the single-process one.
///
/// `train.batch_size` is the global batch B: every rank builds the same global batch (a pure
/// function of seed, epoch and batch number) and trains on its rows [r B/N, (r+1) B/N); per-example
/// noise is drawn for the global batch and sliced (`RandomGenerator.exampleShard`), so the random
/// state stays identical on every rank. Rank 0's parameters, buffers, optimizer moments and
/// training state are broadcast at the start (fresh or resumed); gradients [same shapes as the
/// parameters] are averaged with allreduce in buckets before each optimizer step.
public final class DataParallel {
    public let group: ProcessGroup
    let syncBatchNorm: Bool
    let replicaCheckEvery: Int
    /// Wall time spent averaging gradients (the progress line shows its share of the run).
    public private(set) var gradientSeconds = 0.0

    /// Joins the ranks of `group` for `config`, trained into `runFolder`. On several ranks they
    /// first agree on the whole job (`agree`), before anything else is exchanged.
    public init(group: ProcessGroup, config: ExperimentConfig, runFolder: URL) throws {
        self.group = group
        let train = config.train
        syncBatchNorm = train.syncBatchNorm
        replicaCheckEvery = train.replicaCheckEvery
        bucketCount = train.allreduceBucketKiB * 256
        if group.size > 1 {
            try agree(on: try ConfigLoader.settings(config) + [("run folder", runFolder.standardizedFileURL.path),
                                                             ("dataset", Self.identity(ofFile: config.data.path))])
        }
        guard train.batchSize % group.size == 0 else {
            throw StackGANError(.usage, "train.batch_size", "the global batch \(train.batchSize) does not split evenly over \(group.size) ranks")
        }
        guard train.replicaCheckEvery >= 0 else {
            throw StackGANError(.usage, "train.replica_check_every", "\(train.replicaCheckEvery); expected >= 0")
        }
    }

    /// Makes sure every rank runs the same job. Rank 0's `settings` (every key of the resolved
    /// config, the run folder and the dataset's identity) are broadcast and compared on each rank;
    /// any difference ends every rank with the same error naming the key, the values and the ranks
    /// that differ. Without this, ranks with models of other widths exchanged buffers of other
    /// sizes (a double free), one with another max_steps waited in an allreduce forever, and
    /// another batch size, seed or dataset trained without a word on inconsistent data.
    func agree(on settings: [(key: String, value: String)]) throws {
        let mine = settings.map { [$0.key, $0.value] }
        let reference = try mpi { try broadcastJSON(isWriter ? mine : nil, from: 0) } ?? []
        let theirs = Dictionary(reference.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }, uniquingKeysWith: { a, _ in a })
        let difference = mine.first { theirs[$0[0]] != $0[1] }.map { [$0[0], theirs[$0[0]] ?? "(no such key)", $0[1]] }
            ?? (reference.count != mine.count ? ["the config's keys", "\(reference.count) keys", "\(mine.count) keys"] : nil)
        var differs = [Int](repeating: 0, count: size)
        differs[group.rank] = difference == nil ? 0 : 1
        try mpi { try group.allreduce(&differs, .max) }
        let ranks = differs.indices.filter { differs[$0] != 0 }
        guard let first = ranks.first else { return }
        // The first rank that differs says what, so every rank reports the same.
        let what = try mpi { try broadcastJSON(group.rank == first ? difference.map { [$0] } : nil, from: first) }?.first ?? []
        let (key, reference0, value) = what.count == 3 ? (what[0], what[1], what[2]) : ("?", "?", "?")
        func short(_ text: String) -> String { text.count <= 200 ? text : "\(text.prefix(200))..." }
        throw StackGANError(.usage, key, "differs between the MPI ranks: rank 0 has \(short(reference0)), rank \(first) has \(short(value))"
                            + " (ranks that differ from rank 0: \(ranks.map(String.init).joined(separator: ", "))); every rank must run the same command on the same data")
    }

    /// `value` (given on `root` only) as JSON from `root` to every rank.
    private func broadcastJSON(_ value: [[String]]?, from root: Int) throws -> [[String]]? {
        var bytes = value.map { (try? JSONEncoder().encode($0)).map(Array.init) ?? [] } ?? []
        var length = [bytes.count]
        try group.broadcast(&length, root: root)
        guard (0..<(64 << 20)).contains(length[0]) else {
            throw StackGANError(.training, "rank \(group.rank)", "received \(length[0]) bytes of settings from rank \(root)")
        }
        if group.rank != root { bytes = [UInt8](repeating: 0, count: length[0]) }
        try group.broadcast(&bytes, root: root)
        return try? JSONDecoder().decode([[String]].self, from: Data(bytes))
    }

    /// A file's identity for `agree`: its size and a 64-bit hash of all its bytes (a different copy
    /// of a dataset on another node, or another file at the same path, differs), or why it cannot
    /// be read (compared like any value, so a rank that cannot read it is named too).
    static func identity(ofFile path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, let handle = FileHandle(forReadingAtPath: path) else {
            return "not a readable regular file"
        }
        defer { try? handle.close() }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325, size = 0
        while let chunk = try? handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            size += chunk.count
            chunk.withUnsafeBytes { raw in
                // FNV-1a over 8-byte words (bytes for the tail): a fingerprint, not a defence.
                let words = raw.count / 8
                for i in 0..<words { hash = (hash ^ raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x100_0000_01B3 }
                for i in (8 * words)..<raw.count { hash = (hash ^ UInt64(raw[i])) &* 0x100_0000_01B3 }
            }
        }
        return "\(size) bytes, hash \(String(hash, radix: 16))"
    }

    public var size: Int { group.size }
    /// Rank 0 alone writes checkpoints, samples, metrics and the log.
    public var isWriter: Bool { group.isRoot }

    /// Ends MPI before a successful exit (nothing without a launcher).
    public static func finish() throws { try ProcessGroup.current().finalize() }

    /// Makes every rank's tensors and state rank 0's.
    func start(tensors: [NamedTensor], state: inout TrainingState) throws {
        guard size > 1 else { return }
        try mpi {
            for named in tensors {
                let t = named.tensor
                try group.broadcast(UnsafeMutableBufferPointer(start: t.pointer, count: t.count))
            }
            var bytes = isWriter ? Array(try JSONEncoder().encode(state)) : []
            var length = [bytes.count]
            try group.broadcast(&length)
            guard length[0] >= 0 && length[0] < 1 << 20 else {
                throw StackGANError(.training, "rank \(group.rank)", "received a training state of \(length[0]) bytes")
            }
            bytes = isWriter ? bytes : [UInt8](repeating: 0, count: length[0])
            try group.broadcast(&bytes)
            state = try JSONDecoder().decode(TrainingState.self, from: Data(bytes))
        }
    }

    /// This rank's rows of the global batch.
    func slice(_ batch: Batch) -> Batch { batch.shard(index: group.rank, count: size) }

    /// The caption embeddings [B/N, E] of global rows i + 1 for this rank's rows i (GAN-INT's
    /// partners), nil on one rank.
    func interpolationPartners(_ batch: Batch) -> [Float]? {
        guard size > 1 else { return nil }
        let (n, e) = (batch.size / size, batch.embeddingWidth)
        return (0..<n).flatMap { i in
            let row = (group.rank * n + i + 1) % batch.size
            return batch.embeddings[(row * e)..<((row + 1) * e)]
        }
    }

    /// Runs one training step's body with per-example draws sliced for this rank and, with
    /// `sync_batchnorm`, batch norm over the global batch.
    /// Without `sync_batchnorm` each rank's batch-norm running statistics follow its own slice, so
    /// rank 0's `buffers` are broadcast after the step (as DDP's broadcast_buffers).
    func step<T>(random: inout RandomGenerator, buffers: [NamedTensor],
                 _ body: (inout RandomGenerator) throws -> T) throws -> T {
        guard size > 1 else { return try body(&random) }
        random.exampleShard = ExampleShard(index: group.rank, count: size)
        if syncBatchNorm {
            let group = self.group
            BatchNormSynchronization.sumAcrossReplicas = { try group.allreduce(&$0, .sum) }
        }
        defer {
            random.exampleShard = nil
            BatchNormSynchronization.sumAcrossReplicas = nil
        }
        return try mpi {
            let result = try body(&random)
            if !syncBatchNorm {
                for named in buffers {
                    try group.broadcast(UnsafeMutableBufferPointer(start: named.tensor.pointer, count: named.tensor.count))
                }
            }
            return result
        }
    }

    /// Takes a parameter's gradient as soon as the backward pass has completed it
    /// (`Tensor.backward(ready:)`): gradients are packed in the order the pass completes them, and
    /// each bucket of `bucketCount` floats (`train.allreduce_bucket_kib`) starts its allreduce at once, while the pass goes on
    /// (as PyTorch's DDP does). `averageGradients` ends them.
    func gradientReady(_ leaf: Tensor) throws {
        guard size > 1, let gradient = leaf.grad else { return }
        let started = Date()
        defer { gradientSeconds += Date().timeIntervalSince(started) }
        try mpi {
            reduced.insert(ObjectIdentifier(leaf))
            try add(gradient)
            // Open MPI moves a started reduction on only inside MPI calls.
            if let oldest = inFlight.first { try group.progress(oldest.pending) }
        }
    }

    /// Replaces each gradient of `parameters` by its mean over the ranks: waits for the buckets
    /// `gradientReady` started, then reduces the gradients it was not given (in parameter order).
    func averageGradients(_ parameters: [NamedTensor]) throws {
        guard size > 1 else { return }
        let started = Date()
        defer { gradientSeconds += Date().timeIntervalSince(started) }
        try mpi {
            for named in parameters where !reduced.contains(ObjectIdentifier(named.tensor)) {
                if let gradient = named.tensor.grad { try add(gradient) }
            }
            try launch()
            let scale = 1 / Float(size)
            for bucket in inFlight {
                try group.wait(bucket.pending)
                var offset = 0
                for g in bucket.gradients {
                    let p = g.pointer
                    for i in 0..<g.count { p[i] = bucket.buffer[offset + i] * scale }
                    offset += g.count
                }
                bucket.buffer.deallocate()
            }
            inFlight = []
            reduced = []
        }
    }

    /// Floats per allreduce: a bucket starts as soon as it holds this many.
    let bucketCount: Int
    /// Gradients of the bucket being filled, and how many floats they hold.
    private var filling: [Tensor] = [], fillingCount = 0
    /// Started buckets: their reduction, the copy it reduces in place, and the gradients it holds.
    private var inFlight: [(pending: ProcessGroup.PendingReduction, buffer: UnsafeMutableBufferPointer<Float>, gradients: [Tensor])] = []
    /// Parameters whose gradients `gradientReady` took in this backward pass.
    private var reduced = Set<ObjectIdentifier>()

    private func add(_ gradient: Tensor) throws {
        filling.append(gradient)
        fillingCount += gradient.count
        if fillingCount >= bucketCount { try launch() }
    }

    /// Starts the allreduce of the bucket being filled, on a copy (the gradients stay readable).
    private func launch() throws {
        guard !filling.isEmpty else { return }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: fillingCount)
        var offset = 0
        for g in filling {
            (buffer.baseAddress! + offset).update(from: g.pointer, count: g.count)
            offset += g.count
        }
        do {
            inFlight.append((try group.startAllreduce(buffer, .sum), buffer, filling))
        } catch {
            buffer.deallocate()
            throw error
        }
        filling = []
        fillingCount = 0
    }

    /// Loss terms averaged over the ranks (for the log), in a key order every rank shares.
    func average(_ values: [String: Float]) throws -> [String: Float] {
        guard size > 1 else { return values }
        let keys = values.keys.sorted()
        var sums = keys.map { Double(values[$0] ?? 0) }
        try mpi { try group.allreduce(&sums, .sum) }
        return Dictionary(uniqueKeysWithValues: zip(keys, sums.map { Float($0 / Double(size)) }))
    }

    /// True on every rank when any rank asked to stop (Ctrl-C reaches ranks at different steps).
    func anyRank(_ flag: Bool) throws -> Bool {
        guard size > 1 else { return flag }
        var value = [flag ? 1 : 0]
        try mpi { try group.allreduce(&value, .max) }
        return value[0] != 0
    }

    /// Every `replica_check_every` steps: a hash of every bit of `tensors` compared across ranks
    /// (allreduce MIN and MAX); a difference stops training with an error naming the step.
    func checkReplicas(step: Int, tensors: @autoclosure () -> [NamedTensor]) throws {
        guard size > 1, replicaCheckEvery > 0, step % replicaCheckEvery == 0 else { return }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for named in tensors() {
            let p = named.tensor.pointer
            for i in 0..<named.tensor.count { hash = (hash ^ UInt64(p[i].bitPattern)) &* 0x100_0000_01B3 }
        }
        var low = [Int(bitPattern: UInt(hash))], high = low
        try mpi {
            try group.allreduce(&low, .min)
            try group.allreduce(&high, .max)
        }
        guard low == high else {
            throw StackGANError(.training, "step \(step)",
                                "the ranks' weights differ (checksums \(low[0]) to \(high[0])): a replica diverged; the last checkpoint was written before this step")
        }
    }

    /// MPI failures as training errors naming this rank.
    private func mpi<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as MPIError {
            throw StackGANError(.training, "rank \(group.rank) of \(size)", error.description)
        }
    }
}
