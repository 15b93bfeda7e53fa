import Foundation

/// A training option of issue 12 that an ablation switches on or off (`--techniques`).
public enum Technique: String, Codable, CaseIterable, Sendable {
    case spectralNorm = "spectral_norm"
    case augment
    case contrastive
    case modeSeeking = "mode_seeking"

    /// The config with this technique on (`true`) or off. On keeps the config's own setting when it
    /// has one (e.g. its contrastive weight), else uses SN / [translation, cutout] / weight 1.
    func set(_ on: Bool, in c: inout ExperimentConfig) {
        switch self {
        case .spectralNorm: c.model.spectralNorm = on
        case .augment: c.train.augment = on ? (c.train.augment.isEmpty ? [.translation, .cutout] : c.train.augment) : []
        case .contrastive: c.loss.contrastiveWeight = on ? (c.loss.contrastiveWeight > 0 ? c.loss.contrastiveWeight : 1) : 0
        case .modeSeeking: c.loss.modeSeekingWeight = on ? (c.loss.modeSeekingWeight > 0 ? c.loss.modeSeekingWeight : 1) : 0
        }
    }

    /// Technique sets from a comma-separated list of `+`-joined names or `none`
    /// ("none,spectral_norm,augment+contrastive"); the error names the unknown one.
    public static func parseSets(_ text: String) throws -> [[Technique]] {
        let known = (["none"] + allCases.map(\.rawValue)).joined(separator: ", ")
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw StackGANError(.usage, "--techniques", "no techniques given; expected a list of \(known)") }
        return try items.map { item in
            guard item != "none" else { return [] }
            return try item.split(separator: "+").map { name in
                guard let t = Technique(rawValue: String(name)) else {
                    throw StackGANError(.usage, "--techniques", "unknown technique '\(name)' (known: \(known))")
                }
                return t
            }
        }
    }

    /// "none" or the names joined by "+".
    public static func name(_ set: [Technique]) -> String { set.isEmpty ? "none" : set.map(\.rawValue).joined(separator: "+") }
}

/// The variants of one ablation, planned and checked before anything trains: every discriminator
/// head x set of techniques of one config, each for several seeds with the same data and step
/// budget. A variant's techniques are on, the other `Technique`s off; a variant the config checks
/// reject is a usage error before anything trains, naming the variant and the key. A variant is
/// named by its head, then `+` and its techniques when it has any.
public struct AblationPlan {
    public let config: ExperimentConfig
    /// The config's stage, whose head each variant replaces.
    public let stage: StackGANStage
    public let heads: [DiscriminatorHead]
    /// (head, techniques) pairs in run order.
    public let variants: [(head: DiscriminatorHead, techniques: [Technique])]
    public let seeds: [UInt64]

    /// `steps` replaces `train.max_steps` for every variant when given.
    /// `techniques` nil: each head with the config's own settings.
    public init(config: ExperimentConfig, heads: [DiscriminatorHead], techniques: [[Technique]]? = nil, seeds: [UInt64], steps: Int? = nil) throws {
        guard !heads.isEmpty, !seeds.isEmpty else {
            throw StackGANError(.usage, "ablate", "an ablation needs at least one head and one seed")
        }
        var base = config
        if let steps {
            guard steps > 0 else { throw StackGANError(.usage, "--steps", "must be positive, got \(steps)") }
            base.train.maxSteps = steps
        }
        self.config = base
        stage = try base.check()
        self.heads = heads
        self.seeds = seeds
        var variants: [(head: DiscriminatorHead, techniques: [Technique])] = []
        for head in heads {
            guard head.fits(base.family) else {  // e.g. split on gan_cls: an error, not a skipped variant
                throw StackGANError(.usage, "--heads", "\(head.rawValue) does not fit a \(base.family.rawValue) discriminator")
            }
            for set in techniques ?? [[]] {
                let candidate = Self.variant(base, head: head, techniques: techniques == nil ? nil : set, seed: seeds[0], stage: stage)
                do { try candidate.check() } catch let error as StackGANError {
                    throw StackGANError(error.kind, error.place,
                                        "variant \(Self.variantName(head, techniques == nil ? nil : set)): \(error.message)")
                }
                variants.append((head, set))
            }
        }
        self.variants = variants
        self.techniquesGiven = techniques != nil
    }

    /// Whether `--techniques` was given (else each variant keeps the config's settings).
    public let techniquesGiven: Bool

    /// "<head>" or "<head>+<techniques>".
    static func variantName(_ head: DiscriminatorHead, _ techniques: [Technique]?) -> String {
        guard let techniques else { return head.rawValue }
        return head.rawValue + "+" + Technique.name(techniques)
    }

    /// Heads from a comma-separated list ("single,split"); the error names the unknown one.
    public static func parseHeads(_ text: String) throws -> [DiscriminatorHead] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = DiscriminatorHead.allCases.map(\.rawValue).joined(separator: ", ")
        guard !names.isEmpty else { throw StackGANError(.usage, "--heads", "no heads given; expected a list of \(known)") }
        var heads: [DiscriminatorHead] = []
        for name in names {
            guard let head = DiscriminatorHead(rawValue: name) else {
                throw StackGANError(.usage, "--heads", "unknown head '\(name)' (known: \(known))")
            }
            if !heads.contains(head) { heads.append(head) }
        }
        return heads
    }

    /// The config of one variant: the head of the config's stage replaced, the techniques on and
    /// the others off (nil: as the config has them), the seed set.
    static func variant(_ base: ExperimentConfig, head: DiscriminatorHead, techniques: [Technique]?, seed: UInt64,
                        stage: StackGANStage) -> ExperimentConfig {
        var c = base
        c[keyPath: ExperimentConfig.headKeyPath(stage: stage)] = head
        if let techniques { for t in Technique.allCases { t.set(techniques.contains(t), in: &c) } }
        c.train.seed = seed
        c.name = "\(base.name)-\(variantName(head, techniques))-seed\(seed)"
        return c
    }
}
