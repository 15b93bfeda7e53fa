// Inference-only BERT encoder on packed sequences.
//
// Shape letters: T tokens of all sequences in a batch, packed one after another (no padding);
// H hidden width, A heads of width D = H / A, I intermediate width. A sequence's tokens attend
// only to each other, which is exactly what a padded batch with an attention mask computes
// (masked scores become exp(-inf) = 0), without the padded rows' work.
import Autograd
import Foundation
import NN

/// The hyperparameters of a BERT encoder, as Hugging Face's config.json spells them.
public struct BertConfig: Decodable, Equatable, Sendable {
    public var hiddenSize = 384
    public var numHiddenLayers = 6
    public var numAttentionHeads = 12
    public var intermediateSize = 1536
    public var layerNormEps: Float = 1e-12
    public var maxPositionEmbeddings = 512
    public var vocabSize = 30522
    public var typeVocabSize = 2
    public var hiddenAct = "gelu"

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BertConfig()
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? d.typeVocabSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
    }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", layerNormEps = "layer_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", vocabSize = "vocab_size"
        case typeVocabSize = "type_vocab_size", hiddenAct = "hidden_act"
    }

    /// The problem with these numbers, or nil when a model can be built from them.
    var problem: String? {
        let sizes = [hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings, vocabSize, typeVocabSize]
        guard sizes.allSatisfy({ (1...1 << 20).contains($0) }) else { return "sizes \(sizes) must be between 1 and 2^20" }
        guard hiddenSize % numAttentionHeads == 0 else { return "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)" }
        guard hiddenAct == "gelu" else { return "hidden_act '\(hiddenAct)'; only 'gelu' (erf) is implemented" }
        guard layerNormEps > 0, layerNormEps.isFinite else { return "layer_norm_eps \(layerNormEps) must be positive" }
        return nil
    }

    /// Every tensor the encoder reads, with its shape (Hugging Face BertModel names, no prefix).
    var tensorShapes: [(String, [Int])] {
        let (h, i) = (hiddenSize, intermediateSize)
        var shapes: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [vocabSize, h]),
            ("embeddings.position_embeddings.weight", [maxPositionEmbeddings, h]),
            ("embeddings.token_type_embeddings.weight", [typeVocabSize, h]),
            ("embeddings.LayerNorm.weight", [h]), ("embeddings.LayerNorm.bias", [h]),
        ]
        for l in 0..<numHiddenLayers {
            let p = "encoder.layer.\(l)."
            for name in ["query", "key", "value"] {
                shapes += [(p + "attention.self.\(name).weight", [h, h]), (p + "attention.self.\(name).bias", [h])]
            }
            shapes += [
                (p + "attention.output.dense.weight", [h, h]), (p + "attention.output.dense.bias", [h]),
                (p + "attention.output.LayerNorm.weight", [h]), (p + "attention.output.LayerNorm.bias", [h]),
                (p + "intermediate.dense.weight", [i, h]), (p + "intermediate.dense.bias", [i]),
                (p + "output.dense.weight", [h, i]), (p + "output.dense.bias", [h]),
                (p + "output.LayerNorm.weight", [h]), (p + "output.LayerNorm.bias", [h]),
            ]
        }
        return shapes
    }
}

/// A BERT encoder's weights and its forward pass: token ids of several sequences -> the last
/// layer's hidden states [T, H], sequences packed in order. The dense layers are the engine's
/// `Linear`s, run without gradients; LayerNorm, attention and GELU are inference-only loops here.
struct BertModel {
    struct Norm { let scale: [Float]; let shift: [Float] }
    struct Layer {
        let qkv: Linear            // query, key and value stacked: [3H, H], one matrix product
        let attentionOutput: Linear
        let attentionNorm: Norm
        let intermediate: Linear
        let output: Linear
        let outputNorm: Norm
    }

    let config: BertConfig
    let wordEmbeddings: [Float], positionEmbeddings: [Float], typeEmbeddings: [Float]
    let embeddingNorm: Norm
    let layers: [Layer]

    /// `tensors` holds every name of `config.tensorShapes` with that shape (checked by the caller).
    init(config: BertConfig, tensors: [String: SafeTensors.Entry]) throws {
        self.config = config
        func t(_ name: String) -> [Float] { tensors[name]?.values ?? [] }
        func linear(_ parts: [String]) throws -> Linear {
            let weights = parts.flatMap { t($0 + ".weight") }, biases = parts.flatMap { t($0 + ".bias") }
            return Linear(weight: try Tensor(shape: [biases.count, weights.count / max(biases.count, 1)], scalars: weights),
                          bias: try Tensor(shape: [biases.count], scalars: biases))
        }
        func norm(_ p: String) -> Norm { Norm(scale: t(p + ".weight"), shift: t(p + ".bias")) }
        wordEmbeddings = t("embeddings.word_embeddings.weight")
        positionEmbeddings = t("embeddings.position_embeddings.weight")
        typeEmbeddings = t("embeddings.token_type_embeddings.weight")
        embeddingNorm = norm("embeddings.LayerNorm")
        layers = try (0..<config.numHiddenLayers).map { l in
            let p = "encoder.layer.\(l)."
            return Layer(qkv: try linear(["query", "key", "value"].map { p + "attention.self.\($0)" }),
                         attentionOutput: try linear([p + "attention.output.dense"]),
                         attentionNorm: norm(p + "attention.output.LayerNorm"),
                         intermediate: try linear([p + "intermediate.dense"]),
                         output: try linear([p + "output.dense"]),
                         outputNorm: norm(p + "output.LayerNorm"))
        }
    }

    /// Hidden states [T, H] of the sequences, packed. Ids must be below the vocabulary size and
    /// each sequence no longer than the position table (the tokenizer's limits guarantee both).
    func forward(_ sequences: [[Int32]]) throws -> [Float] {
        let h = config.hiddenSize, heads = config.numAttentionHeads
        var starts: [Int] = []
        var total = 0
        for s in sequences { starts.append(total); total += s.count }
        let x = Tensor(repeating: 0, shape: [total, h])
        // Embeddings: word + position + token type 0 (one segment), then LayerNorm.
        for (s, ids) in sequences.enumerated() {
            for (p, id) in ids.enumerated() {
                let row = x.pointer + (starts[s] + p) * h
                let w = Int(id) * h, q = p * h
                for c in 0..<h { row[c] = wordEmbeddings[w + c] + positionEmbeddings[q + c] + typeEmbeddings[c] }
            }
        }
        layerNorm(x, residual: nil, embeddingNorm, width: h)
        try withoutGradients {
            for layer in layers {
                let qkv = try layer.qkv(x)
                let context = Tensor(repeating: 0, shape: [total, h])
                attention(qkv, starts: starts, lengths: sequences.map(\.count), heads: heads, width: h, into: context)
                layerNorm(x, residual: try layer.attentionOutput(context), layer.attentionNorm, width: h)
                let inner = try layer.intermediate(x)
                gelu(inner)
                layerNorm(x, residual: try layer.output(inner), layer.outputNorm, width: h)
            }
        }
        return x.scalars
    }

    /// x = LayerNorm(x + residual) per row of `width`, in place, biased variance as PyTorch. One
    /// parallel pass for both: each pass wakes the other threads, the expensive part on a loaded machine.
    private func layerNorm(_ x: Tensor, residual: Tensor?, _ norm: Norm, width: Int) {
        let rows = x.count / width, eps = config.layerNormEps
        let base = x.pointer, added = residual?.pointer
        parallelChunks(rows, minimumPerChunk: 64) { range in
            for row in range {
                let v = base + row * width
                if let added { for c in 0..<width { v[c] += added[row * width + c] } }
                var sum: Float = 0
                for c in 0..<width { sum += v[c] }
                let mean = sum / Float(width)
                var squares: Float = 0
                for c in 0..<width { let d = v[c] - mean; squares += d * d }
                let inverse = 1 / (squares / Float(width) + eps).squareRoot()
                for c in 0..<width { v[c] = (v[c] - mean) * inverse * norm.scale[c] + norm.shift[c] }
            }
        }
    }

    /// Scaled dot-product attention per sequence and head, reading Q, K, V from the stacked
    /// projection [T, 3H] and writing each head's D columns of `out` [T, H].
    private func attention(_ qkv: Tensor, starts: [Int], lengths: [Int], heads: Int, width h: Int, into out: Tensor) {
        let d = h / heads, stride = 3 * h
        let scale = 1 / Float(d).squareRoot()
        let longest = lengths.max() ?? 0
        let q0 = UnsafePointer(qkv.pointer), o0 = out.pointer
        parallelChunks(starts.count * heads, minimumPerChunk: 8) { range in
            var scores = [Float](repeating: 0, count: longest)
            for pair in range {
                let (s, head) = pair.quotientAndRemainder(dividingBy: heads)
                let n = lengths[s], first = starts[s]
                for i in 0..<n {
                    let q = q0 + (first + i) * stride + head * d
                    var largest = -Float.infinity
                    for j in 0..<n {
                        let k = q0 + (first + j) * stride + h + head * d
                        let score = dot(q, k, d) * scale
                        scores[j] = score
                        largest = max(largest, score)
                    }
                    var sum: Float = 0
                    for j in 0..<n { scores[j] = expf(scores[j] - largest); sum += scores[j] }
                    let o = o0 + (first + i) * h + head * d
                    for c in 0..<d { o[c] = 0 }
                    for j in 0..<n {
                        let p = scores[j] / sum
                        let v = q0 + (first + j) * stride + 2 * h + head * d
                        for c in 0..<d { o[c] += p * v[c] }
                    }
                }
            }
        }
    }

    private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var c = 0
        while c + 16 <= n { acc += load16(a, c) * load16(b, c); c += 16 }
        var sum = acc.sum()
        while c < n { sum += a[c] * b[c]; c += 1 }
        return sum
    }

    /// GELU with erf, as BERT: x/2 (1 + erf(x / sqrt 2)).
    private func gelu(_ x: Tensor) {
        let p = x.pointer
        parallelChunks(x.count) { range in for k in range { p[k] = 0.5 * p[k] * (1 + Self.erf(p[k] * 0.70710678118654752)) } }
    }

    /// erf to about 1e-7 absolute (the rational approximation Eigen and XLA use for float):
    /// branch-free, so the loop above vectorises, unlike a call into libm per element.
    @inline(__always)
    static func erf(_ value: Float) -> Float {
        let x = min(max(value, -4), 4), x2 = x * x
        var p: Float = -2.72614225801306e-10
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        var q: Float = -1.45660718464996e-05
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return x * p / q
    }
}
