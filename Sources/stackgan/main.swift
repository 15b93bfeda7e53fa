import Foundation
import StackGANCLI

// oneDNN's OpenMP threads, which also run our elementwise loops (Kernels.parallelFor), spin for
// ~3 ms after each parallel region by default. Beside the data loader on a small machine that
// starved the threads with work (measured: a short run 8x slower), so they sleep (PASSIVE) after
// a short spin (GOMP_SPINCOUNT 30000, a tenth of the default) that bridges the gap to the next
// kernel: main job 239 -> 298 images/s against sleeping at once (AMD Zen 4, 2 cores). Several
// ranks on one node share its cores, so there they sleep at once. libgomp reads these only when
// it loads, before main, so set them and re-execute once; values the user set are kept.
let environment = ProcessInfo.processInfo.environment
if environment["OMP_WAIT_POLICY"] == nil {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    let ranksOnThisNode = Int(environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
    if environment["GOMP_SPINCOUNT"] == nil && ranksOnThisNode <= 1 { setenv("GOMP_SPINCOUNT", "30000", 1) }
    let arguments = CommandLine.unsafeArgv
    execv("/proc/self/exe", arguments)
    // execv returns only on failure; run with the default policy then.
}

exit(CommandLineTool.run(Array(CommandLine.arguments.dropFirst())))
