@testable import Autograd
import XCTest

/// Per-example draws on data-parallel ranks: each rank's rows are the global batch's rows, and
/// every rank's generator ends in the same state as the single process's.
final class ExampleShardTests: XCTestCase {
    func testEachRankDrawsItsRowsOfTheGlobalBatch() {
        var single = RandomGenerator(seed: 7)
        let global = single.normals(examples: 6, width: 5)   // an odd width: Box-Muller pairs cross rows
        let uniforms = single.perExample(6) { $0.nextUniform() }
        for rank in 0..<3 {
            var shard = RandomGenerator(seed: 7)
            shard.exampleShard = ExampleShard(index: rank, count: 3)
            XCTAssertEqual(shard.normals(examples: 2, width: 5), Array(global[(rank * 10)..<((rank + 1) * 10)]))
            XCTAssertEqual(shard.perExample(2) { $0.nextUniform() }, Array(uniforms[(rank * 2)..<((rank + 1) * 2)]))
            shard.exampleShard = nil
            XCTAssertEqual(shard, single, "rank \(rank) must end where the single process ends")
        }
    }

    func testWithoutAShardTheDrawsAreTheOrdinaryOnes() {
        var a = RandomGenerator(seed: 3), b = RandomGenerator(seed: 3)
        XCTAssertEqual(Tensor.randomNormal(examples: 4, width: 3, using: &a).scalars, Tensor.randomNormal([4, 3], using: &b).scalars)
        XCTAssertEqual(a, b)
    }
}
