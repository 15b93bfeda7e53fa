import Foundation
import StackGANCLI

exit(CommandLineTool.run(Array(CommandLine.arguments.dropFirst())))
