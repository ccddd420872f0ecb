import Dispatch

/// Splits loops over the worker threads of one inference session.
///
/// Work is divided into at most `threadCount` contiguous ranges, so each worker touches one
/// block of output rows and results do not depend on the thread count.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
    }

    /// Runs `body(task)` for each task index in `0..<tasks` concurrently; `tasks` should not exceed
    /// `threadCount`. Each task owns per-task scratch indexed by its number.
    public func runTasks(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 {
            if tasks == 1 { body(0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: tasks, execute: body)
    }

    /// Calls `body` on disjoint ranges that together cover `0..<count`, in parallel.
    /// `grain` is the smallest range worth handing to a thread.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(1, grain)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let begin = count * chunk / chunks, end = count * (chunk + 1) / chunks
            if begin < end { body(begin..<end) }
        }
    }
}
