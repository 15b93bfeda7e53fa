import Foundation

extension Tensor {
    /// A reparameterised Gaussian sample mu + e^(logvar/2) * noise, with noise ~ N(0,1) drawn by the
    /// caller (so runs are reproducible from a seed). d/dmu = g, d/dlogvar = g * noise * e^(logvar/2) / 2.
    public static func gaussianSample(mu: Tensor, logVariance: Tensor, noise: Tensor) throws -> Tensor {
        try mu.checkSameShape(logVariance, "gaussianSample")
        try mu.checkSameShape(noise, "gaussianSample")
        let std = logVariance.map { Foundation.exp($0 / 2) }
        let out = std.zipMap(noise, *).zipMap(mu, +)
        return out.recorded([mu, logVariance]) { g in
            [g, g.zipMap(std.zipMap(noise, *)) { $0 * $1 / 2 }]
        }
    }
}
