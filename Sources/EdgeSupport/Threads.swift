// Threads, a mutex and a condition variable on pthreads: what the project used from Foundation's Thread, NSLock and
// NSCondition, which FoundationEssentials does not have (see Printf.swift for why the deployable binary avoids full
// Foundation). Same semantics as the Foundation classes on Linux, which wrap the same pthread calls.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts a detached thread running `body`, like `Thread { body() }` with `name` and `stackSize` set, then `start()`.
/// `name` shows in /proc/PID/task/*/comm, cut to the kernel's 15 bytes; `stackSize` 0 keeps the default (the
/// process's stack limit, as for Foundation's Thread).
public func startThread(name: String? = nil, stackSize: Int = 0, _ body: @escaping () -> Void) {
    final class Box {
        let name: String?
        let body: () -> Void
        init(name: String?, body: @escaping () -> Void) { self.name = name; self.body = body }
    }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attr, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        if let name = box.name, let setName = setThreadName {
            _ = setName(pthread_self(), String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self))
        }
        box.body()
        return nil
    }, box)
    // Foundation's Thread.start() also treats a failed pthread_create as fatal.
    precondition(rc == 0, "pthread_create failed: \(rc)")
}

/// pthread_setname_np, a GNU extension the Glibc module does not declare: looked up once (as CPUAffinity does for
/// sched_setaffinity). Nil where the C library has none; threads then keep the process's name.
private let setThreadName: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32)? = {
    guard let symbol = dlsym(nil, "pthread_setname_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32).self)
}()

/// Sleeps the calling thread (Foundation's `Thread.sleep(forTimeInterval:)`).
public func sleepThread(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// A non-recursive mutex (Foundation's NSLock).
public final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` holding the lock.
    @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A mutex with a condition variable (Foundation's NSCondition): lock, then wait/signal/broadcast while holding it.
public final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    public func signal() { pthread_cond_signal(cond) }
    public func broadcast() { pthread_cond_broadcast(cond) }

    /// Waits for a signal (spurious wake-ups possible, as with any condition variable: re-check the predicate).
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits for a signal or until the wall-clock time `secondsSince1970` (`Date.timeIntervalSince1970`; NSCondition's
    /// `wait(until:)` also waits on the realtime clock). Returns false when the time passed without a signal.
    public func wait(untilSecondsSince1970 secondsSince1970: Double) -> Bool {
        guard secondsSince1970.isFinite else { wait(); return true }
        let whole = secondsSince1970.rounded(.down)
        var deadline = timespec(tv_sec: Int(max(0, whole)), tv_nsec: Int((secondsSince1970 - whole) * 1e9))
        if deadline.tv_nsec >= 1_000_000_000 { deadline.tv_sec += 1; deadline.tv_nsec -= 1_000_000_000 }
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }

    /// Waits for a signal for at most `seconds`; false when the time passed without one.
    public func wait(timeout seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return wait(untilSecondsSince1970: Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9 + max(0, seconds))
    }
}
