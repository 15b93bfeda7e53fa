import Foundation

extension Tensor {
    /// tanh(x). d/dx = g * (1 - y^2), from the saved output.
    public func tanh() -> Tensor {
        let out = map { Foundation.tanh($0) }
        let y = out.storage
        return out.recorded([self]) { g in [g.zipMap(Tensor(shape: g.shape, storage: y)) { $0 * (1 - $1 * $1) }] }
    }
}
