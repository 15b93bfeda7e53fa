import Foundation
import StackGANCLI

// oneDNN runs on OpenMP, whose idle threads spin for a while by default. Beside our own
// elementwise threads and the data loader on a small machine, spinning threads starve the ones
// with work (measured: a short run 8x slower). libgomp reads OMP_WAIT_POLICY only when it loads,
// before main, so set it and re-execute once; a value the user set is kept.
if ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    let arguments = CommandLine.unsafeArgv
    execv("/proc/self/exe", arguments)
    // execv returns only on failure; run with the default policy then.
}

exit(CommandLineTool.run(Array(CommandLine.arguments.dropFirst())))
