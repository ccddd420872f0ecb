// Running a helper program and collecting its standard output: what `resnet-edge bench` did with Foundation's
// Process and Pipe, which FoundationEssentials does not have (see Printf.swift for why the deployable binary avoids
// full Foundation).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `executable` (a path, not looked up in PATH, as `Process.executableURL`) with `arguments`, inheriting the
/// environment, standard input and standard error; returns its exit status (the signal number if a signal ended it,
/// as `Process.terminationStatus`) and everything it wrote to standard output. Throws if it cannot be started.
public func runProcess(_ executable: String, arguments: [String]) throws -> (status: Int32, output: [UInt8]) {
    // Checked first: where posix_spawn runs as fork + exec (qemu-user emulates glibc's CLONE_VFORK spawn that way), a
    // program that cannot be executed is only an exit status 127 of the child, not an error of posix_spawn.
    guard access(executable, X_OK) == 0 else { throw SystemCallError("cannot execute \(executable)") }
    var pipeFDs: [Int32] = [-1, -1]
    guard pipe(&pipeFDs) == 0 else { throw SystemCallError("pipe") }
    defer { close(pipeFDs[0]) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // The child's stdout is the pipe's write end; it keeps no other copy of either end.
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
    posix_spawn_file_actions_addclose(&actions, pipeFDs[1])

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    close(pipeFDs[1])
    guard rc == 0 else { throw SystemCallError("posix_spawn \(executable)", code: rc) }

    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress!, $0.count) }
        if n > 0 { output += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
    let exited = (status & 0x7f) == 0
    return (exited ? (status >> 8) & 0xff : status & 0x7f, output)
}
