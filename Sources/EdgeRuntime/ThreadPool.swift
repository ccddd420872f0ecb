import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits loops over the worker threads of one inference session.
///
/// Work is divided into at most `threadCount` tasks with a static, deterministic split, so each worker
/// touches one block of output and results do not depend on the thread count.
///
/// The pool keeps `threadCount - 1` persistent workers; the calling thread runs task 0. Between parallel
/// steps the workers spin briefly on an atomic generation counter (an inference is ~30 steps of 0.05-1 ms:
/// waking a sleeping thread per step, as DispatchQueue.concurrentPerform may, costs more than the short
/// steps themselves), then yield, then sleep on a condition variable until the next call. When the
/// pool has more threads than the machine has cores it does not spin.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private let state: PoolState?

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        if self.threadCount > 1 {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let state = PoolState(workers: self.threadCount - 1, spin: self.threadCount <= cores)
            for index in 1..<self.threadCount {
                let thread = Thread { state.workerLoop(index: index) }
                thread.stackSize = 1 << 20
                thread.start()
            }
            self.state = state
        } else {
            state = nil
        }
    }

    deinit { state?.stop() }

    /// Runs `body(task)` for each task index in `0..<tasks`, task i on thread i % threadCount (the caller
    /// is thread 0), and returns when all are done. Each task owns per-task scratch indexed by its number.
    public func runTasks(_ tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 1, let state else {
            for task in 0..<max(tasks, 0) { body(task) }
            return
        }
        withoutActuallyEscaping(body) { state.run(tasks: tasks, threads: threadCount, $0) }
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
        runTasks(chunks) { chunk in
            let begin = count * chunk / chunks, end = count * (chunk + 1) / chunks
            if begin < end { body(begin..<end) }
        }
    }
}

/// The workers' shared state (kept apart from `ThreadPool` so that the pool can be released while they run).
private final class PoolState: @unchecked Sendable {
    let workers: Int
    let spinIterations: Int
    let yieldIterations: Int
    /// Bumped once per parallel call (and at shutdown); workers run a call when they see it change.
    let generation = Atomic<Int>(0)
    /// Workers that have not finished the current call.
    let pending = Atomic<Int>(0)
    /// Workers blocked (or about to block) on the condition variable.
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    /// The caller is blocked on `finished` waiting for `pending` to reach 0.
    let callerWaiting = Atomic<Bool>(false)
    /// The current call; written by the caller before `generation` is bumped (release), read by the
    /// workers after they observe the new generation (acquire).
    var job: ((Int) -> Void)?
    var tasks = 0
    var threads = 1
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let condition: UnsafeMutablePointer<pthread_cond_t>
    let finished: UnsafeMutablePointer<pthread_cond_t>

    init(workers: Int, spin: Bool) {
        self.workers = workers
        // About 50-100 us of spinning (an atomic load per iteration), then a few yields, then sleep.
        spinIterations = spin ? 50_000 : 0
        yieldIterations = spin ? 100 : 10
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        finished = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        pthread_cond_init(finished, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_cond_destroy(finished)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
        finished.deallocate()
    }

    func run(tasks: Int, threads: Int, _ body: @escaping (Int) -> Void) {
        job = body
        self.tasks = tasks
        self.threads = threads
        pending.store(workers, ordering: .relaxed)
        generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wake() }
        var task = 0
        while task < tasks {
            body(task)
            task += threads
        }
        var spins = 0
        while pending.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > spinIterations + yieldIterations {
                pthread_mutex_lock(mutex)
                callerWaiting.store(true, ordering: .sequentiallyConsistent)
                while pending.load(ordering: .sequentiallyConsistent) > 0 { pthread_cond_wait(finished, mutex) }
                callerWaiting.store(false, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            } else if spins > spinIterations {
                sched_yield()
            }
        }
        job = nil
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        wake()
    }

    private func wake() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        // The generation the pool was created with: a call made before this thread got going still counts.
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins > spinIterations + yieldIterations {
                    pthread_mutex_lock(mutex)
                    sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        pthread_cond_wait(condition, mutex)
                    }
                    sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                } else if spins > spinIterations {
                    sched_yield()
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            if let job {
                var task = index
                while task < tasks {
                    job(task)
                    task += threads
                }
            }
            if pending.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue == 0,
               callerWaiting.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(finished)
                pthread_mutex_unlock(mutex)
            }
        }
    }
}
