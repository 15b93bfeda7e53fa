import Foundation

extension Tensor {
    /// 1 / (1 + e^-x), evaluated without overflow for large |x|. d/dx = g * y * (1 - y).
    public func sigmoid() -> Tensor {
        let out = map { x in x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
        let y = out.storage
        return out.recorded([self]) { g in [g.zipMap(Tensor(shape: g.shape, storage: y)) { $0 * $1 * (1 - $1) }] }
    }
}
