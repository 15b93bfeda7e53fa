import Foundation

extension Tensor {
    /// e^x elementwise. d/dx = g * e^x.
    public func exp() -> Tensor {
        let out = map { Foundation.exp($0) }
        let y = out.storage
        return out.recorded([self]) { g in [g.zipMap(Tensor(shape: g.shape, storage: y), *)] }
    }
}
