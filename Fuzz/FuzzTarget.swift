// libFuzzer entry point over every reader of untrusted files (built only by scripts/fuzz.sh,
// with STACKGAN_FUZZ=1 and -sanitize=fuzzer). The first byte picks the reader, the rest is the
// file: 0 safetensors, 1 .npy, 2 PNG/JPEG, 3 HDF5 dataset, 4 YAML config. A thrown error is the
// expected outcome for a bad input; a trap, a signal or a hang is a finding.
import Datasets
import Foundation
import NN
import StackGAN

private let scratch: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return (folder as NSString).appendingPathComponent("stackgan-fuzz-\(getpid())")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start + 1, count: count - 1))
    func file() -> String {
        FileManager.default.createFile(atPath: scratch, contents: Data(bytes))
        return scratch
    }
    switch start[0] % 5 {
    case 0: _ = try? SafeTensors.read(URL(fileURLWithPath: file()))
    case 1: _ = try? Npy.parse(bytes, file: "fuzz.npy")
    case 2:
        _ = try? ImageCodec.size(of: bytes)
        _ = try? ImageCodec.decode(bytes)
    case 3:
        let path = file()
        if let splits = try? TextImageDataset.describe(path: path).splits {
            for split in splits.prefix(3) {
                if let data = try? TextImageDataset.open(path: path, split: split) {
                    for i in 0..<min(data.count, 4) { _ = try? data.image(at: i) }
                }
            }
        }
    default:
        _ = try? ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: String(decoding: bytes, as: UTF8.self),
                                   source: "fuzz.yml").validated()
    }
    return 0
}

private extension ExperimentConfig {
    func validated() throws -> Architecture { try Architecture(self) }
}

// SwiftPM links an executable's entry point as `<module>_main`; it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("stackgan_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOneInput)
}
