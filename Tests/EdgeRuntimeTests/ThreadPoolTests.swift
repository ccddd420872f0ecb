import EdgeRuntime
import Foundation
import Testing

/// The thread pool's split and its CPU pinning.
@Suite struct ThreadPoolTests {
    @Test func everyTaskRunsOnceWithAndWithoutPinning() {
        for pinned in [false, true] {
            for threads in [1, 2, 3] {
                let pool = ThreadPool(threadCount: threads, pinned: pinned)
                for tasks in [1, 2, 3, 7] {
                    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: tasks)
                    defer { counts.deallocate() }
                    counts.initialize(repeating: 0)
                    for _ in 0..<50 { pool.runTasks(tasks) { counts[$0] += 1 } }
                    #expect(counts.allSatisfy { $0 == 50 }, "pinned \(pinned), \(threads) threads, \(tasks) tasks: \(Array(counts))")
                }
            }
        }
    }

    @Test func pinnedThreadsGetCPUsOfTheirOwnAndTheCallerIsBound() throws {
        let allowed = CPUAffinity.allowedCPUs()
        try #require(!allowed.isEmpty, "sched_getaffinity gave nothing")
        defer { CPUAffinity.bindCurrentThread(to: allowed) }   // this test runner's thread is shared with other tests

        let two = ThreadPool(threadCount: 2, pinned: true)
        if allowed.count >= 2 {
            #expect(two.pinnedCPUs == Array(allowed.prefix(2)))
            two.pinCaller()
            #expect(CPUAffinity.allowedCPUs() == [allowed[0]])
            #expect(CPUAffinity.bindCurrentThread(to: allowed))
            #expect(CPUAffinity.allowedCPUs() == allowed)
        } else {
            #expect(two.pinnedCPUs.isEmpty)   // one CPU for two threads: not pinned at all
        }
        // More threads than CPUs, or not asked: nothing is pinned and the caller is left alone.
        #expect(ThreadPool(threadCount: allowed.count + 1, pinned: true).pinnedCPUs.isEmpty)
        let unpinned = ThreadPool(threadCount: 2)
        #expect(unpinned.pinnedCPUs.isEmpty)
        unpinned.pinCaller()
        #expect(CPUAffinity.allowedCPUs() == allowed)
        #expect(!CPUAffinity.bindCurrentThread(to: []))
    }
}
