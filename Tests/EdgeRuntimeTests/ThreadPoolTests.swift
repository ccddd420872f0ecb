import EdgeRuntime
import Foundation
import Synchronization
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

    @Test func forEachChunkHandsOutEveryItemOnceInRangesOfAtMostGrain() {
        for threads in [1, 2, 3, 4] {
            let pool = ThreadPool(threadCount: threads)
            for (count, grain) in [(1, 1), (5, 1), (7, 3), (64, 8), (1000, 7), (3, 10)] {
                let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                defer { seen.deallocate() }
                seen.initialize(repeating: 0)
                let badRanges = Atomic<Int>(0), badThreads = Atomic<Int>(0)
                for _ in 0..<20 {
                    pool.forEachChunk(count, grain: grain) { thread, range in
                        // One thread runs the whole loop as one range (no atomics on that path); more take chunks.
                        let whole = threads == 1 ? range == 0..<count : range.count <= grain && range.lowerBound % grain == 0
                        if range.isEmpty || !whole { badRanges.add(1, ordering: .relaxed) }
                        if thread < 0 || thread >= threads { badThreads.add(1, ordering: .relaxed) }
                        for i in range { seen[i] += 1 }   // disjoint ranges: no two threads touch one element
                    }
                }
                #expect(seen.allSatisfy { $0 == 20 }, "\(threads) threads, count \(count), grain \(grain)")
                #expect(badRanges.load(ordering: .relaxed) == 0 && badThreads.load(ordering: .relaxed) == 0)
            }
        }
    }

    /// The point of taking chunks from a shared counter: a thread held up (a busy core) costs the layer only the
    /// chunk it holds. Thread 0 sleeps 150 ms in its first chunk; with the old static split it would still own half
    /// of the 40 chunks, here the other thread takes them while it sleeps.
    @Test func aHeldUpThreadLeavesTheRestToTheOthers() {
        let pool = ThreadPool(threadCount: 2)
        let taken = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
        defer { taken.deallocate() }
        taken.initialize(repeating: 0)
        let first = Atomic<Bool>(true)
        pool.forEachChunk(40) { thread, _ in
            taken[thread] += 1
            if thread == 0, first.exchange(false, ordering: .relaxed) { usleep(150_000) } else { usleep(1_000) }
        }
        #expect(taken[0] + taken[1] == 40)
        #expect(taken[1] >= 30, "thread 0 took \(taken[0]) chunks, thread 1 \(taken[1])")
    }

    @Test func parallelForRangesStartOnTheUnit() {
        let pool = ThreadPool(threadCount: 3)
        let count = 10_000 + 37
        let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { seen.deallocate() }
        seen.initialize(repeating: 0)
        let misaligned = Atomic<Int>(0)
        pool.parallelFor(count, grain: 100, multipleOf: 64) { range in
            if range.lowerBound % 64 != 0 || (range.upperBound != count && range.upperBound % 64 != 0) { misaligned.add(1, ordering: .relaxed) }
            for i in range { seen[i] += 1 }
        }
        #expect(seen.allSatisfy { $0 == 1 })
        #expect(misaligned.load(ordering: .relaxed) == 0)
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
