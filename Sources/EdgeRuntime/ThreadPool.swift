#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
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
/// A layer's work is a list of independent items (output tiles, pixel chunks, blocks of elements) that the
/// threads take one chunk at a time from a shared atomic counter (`forEachChunk`, as pthreadpool hands out
/// tiles): a thread that finishes early, or a core that is busy with capture or HTTP, costs the layer only the
/// chunk in flight instead of a fixed share. Every item is computed whole by one thread, so results do not depend
/// on the thread count or on which thread took what.
///
/// The pool keeps `threadCount - 1` persistent workers; the calling thread runs task 0. Between parallel
/// steps the workers spin briefly on an atomic generation counter (an inference is ~30 steps of 0.05-1 ms:
/// waking a sleeping thread per step, as DispatchQueue.concurrentPerform may, costs more than the short
/// steps themselves), then yield, then sleep on a condition variable until the next call. When the
/// pool has more threads than the machine has cores it does not spin.
///
/// With `pinned`, the caller (in `pinCaller()`) and the workers are each bound to their own CPU of the ones the process
/// may use. Measured with `resnet-edge probe` on this project's 2-vCPU development VM: with frames 33 ms apart, ResNet18
/// INT8 at 2 threads took 12.1 ms per frame unpinned (p50; 5.3 ms back to back, 10.4 ms at 1 thread) and 5.6 ms
/// pinned. After each idle gap the scheduler had woken both threads onto one CPU, where they took turns through
/// every step's spin-wait, and moved one away only after the frame. ncnn binds its threads for the same reason.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private let state: PoolState?
    /// The CPUs threads are bound to (the caller first), empty when not pinned.
    public let pinnedCPUs: [Int]

    public init(threadCount: Int, pinned: Bool = false) {
        self.threadCount = max(1, threadCount)
        let allowed = pinned && self.threadCount > 1 ? CPUAffinity.allowedCPUs() : []
        // Pin only when every thread can have a CPU of its own; sharing one would bring back the turn-taking.
        pinnedCPUs = allowed.count >= self.threadCount ? Array(allowed.prefix(self.threadCount)) : []
        if self.threadCount > 1 {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let state = PoolState(workers: self.threadCount - 1, spin: self.threadCount <= cores)
            let cpus = pinnedCPUs
            for index in 1..<self.threadCount {
                startThread(stackSize: 1 << 20) {
                    if !cpus.isEmpty { CPUAffinity.bindCurrentThread(to: [cpus[index]]) }
                    state.workerLoop(index: index)
                }
            }
            self.state = state
        } else {
            state = nil
        }
    }

    deinit { state?.stop() }

    /// Binds the calling thread to the first pinned CPU (a no-op when not pinned). Cheap (one system call), so
    /// callers do it per run rather than track which thread they are on.
    public func pinCaller() {
        if let cpu = pinnedCPUs.first { CPUAffinity.bindCurrentThread(to: [cpu]) }
    }

    /// Runs `body(task)` for each task index in `0..<tasks`, task i on thread i % threadCount (the caller
    /// is thread 0), and returns when all are done. Each task owns per-task scratch indexed by its number.
    public func runTasks(_ tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 1, let state else {
            for task in 0..<max(tasks, 0) { body(task) }
            return
        }
        withoutActuallyEscaping(body) { state.run(tasks: tasks, threads: threadCount, $0) }
    }

    /// Calls `body(thread, items)` on disjoint ranges of at most `grain` items that together cover `0..<count`,
    /// in parallel: each thread takes the next range from a shared counter until none is left. `thread` is the
    /// taking thread's index in `0..<threadCount` (for per-thread scratch); the caller is thread 0. With one
    /// thread, or one range, the caller runs `body(0, 0..<count)` itself: no atomics on the single-thread path.
    public func forEachChunk(_ count: Int, grain: Int = 1, _ body: (_ thread: Int, _ items: Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        let chunks = (count + grain - 1) / grain
        guard chunks > 1, let state else {
            body(0, 0..<count)
            return
        }
        state.nextChunk.store(0, ordering: .relaxed)
        runTasks(min(threadCount, chunks)) { thread in
            while true {
                // Relaxed: the counter only hands out indices; the data each range reads was published before the
                // call (the generation bump) and what it writes is published by its end (the pending count).
                let chunk = state.nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                guard chunk < chunks else { return }
                body(thread, (chunk * grain)..<min(count, (chunk + 1) * grain))
            }
        }
    }

    /// Calls `body` on disjoint ranges that together cover `0..<count`, in parallel. `grain` is the smallest range
    /// worth handing to a thread; ranges are about a quarter of a thread's share (at least `grain`), taken
    /// dynamically (`forEachChunk`), so uneven ranges and a busy core even out. Every range but the last starts
    /// and ends on a multiple of `unit` (whole vector blocks for the kernels that need them).
    public func parallelFor(_ count: Int, grain: Int = 1, multipleOf unit: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let unit = max(1, unit)
        let share = max(max(1, grain), (count + 4 * threadCount - 1) / (4 * threadCount))
        forEachChunk(count, grain: (share + unit - 1) / unit * unit) { _, range in body(range) }
    }
}

/// The workers' shared state (kept apart from `ThreadPool` so that the pool can be released while they run).
private final class PoolState: @unchecked Sendable {
    let workers: Int
    let spinIterations: Int
    let yieldIterations: Int
    /// Bumped once per parallel call (and at shutdown); workers run a call when they see it change.
    let generation = Atomic<Int>(0)
    /// The next chunk of a `forEachChunk` call to hand out; reset by the caller before each such call.
    let nextChunk = Atomic<Int>(0)
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

/// sched_getaffinity/sched_setaffinity, looked up at run time: Swift's Glibc module is built without _GNU_SOURCE,
/// which hides them (and cpu_set_t's macros).
public enum CPUAffinity {
    private typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    /// 1024 CPUs, as glibc's cpu_set_t.
    private static let setBytes = 128

    private static func function(_ name: String) -> Call? {
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: Call.self)
    }
    // Looked up once: `bindCurrentThread` runs at the start of every pinned inference.
    private static let getAffinity = function("sched_getaffinity")
    private static let setAffinity = function("sched_setaffinity")

    /// The CPUs the calling thread may run on (taskset, systemd's CPUAffinity=, cgroups), ascending; empty if unknown.
    public static func allowedCPUs() -> [Int] {
        guard let get = getAffinity else { return [] }
        var mask = [UInt8](repeating: 0, count: setBytes)
        guard mask.withUnsafeMutableBytes({ get(0, setBytes, $0.baseAddress!) }) == 0 else { return [] }
        return (0..<setBytes * 8).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }

    /// Binds the calling thread to `cpus` (to restore what `allowedCPUs` returned, or one CPU); false if it failed
    /// (a CPU taken away since, or the list empty), leaving the thread as it was.
    @discardableResult
    public static func bindCurrentThread(to cpus: [Int]) -> Bool {
        let valid = cpus.filter { $0 >= 0 && $0 < setBytes * 8 }
        guard !valid.isEmpty, let set = setAffinity else { return false }
        var mask = [UInt8](repeating: 0, count: setBytes)
        for cpu in valid { mask[cpu / 8] |= 1 << (cpu % 8) }
        return mask.withUnsafeMutableBytes { set(0, setBytes, $0.baseAddress!) } == 0
    }
}
