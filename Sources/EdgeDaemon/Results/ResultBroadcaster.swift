import EdgeCapture
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// A connected client of the result stream (a Unix socket connection, an /events response).
///
/// `deliver` is called on the pipeline thread and must not block: it queues the line for the client's own event loop
/// and returns false when the client already has `limit` lines queued, i.e. it reads slower than results come. The
/// broadcaster then drops it (`close`), so one stalled reader never holds the pipeline or grows memory.
public protocol ResultClient: AnyObject, Sendable {
    func deliver(_ line: String, limit: Int) -> Bool
    /// Closes the connection; `reason` is for the log.
    func close(reason: String)
}

/// Fans each result out to every client and keeps the latest for GET /latest.
public final class ResultBroadcaster: @unchecked Sendable {
    public struct Counts: Sendable, Equatable {
        public var clients: Int
        public var published: UInt64
        public var droppedClients: UInt64
        public var refusedClients: UInt64
    }

    private let lock = Lock()
    private var clients: [ObjectIdentifier: any ResultClient] = [:]
    private var latestJSON: String?
    private var latestResult: ClassificationResult?
    private var counts = Counts(clients: 0, published: 0, droppedClients: 0, refusedClients: 0)
    private var lastPublished = -Double.infinity
    private var finished = false

    /// Results queued per client before it is dropped.
    public var clientQueue: Int { get { lock.locked { _clientQueue } } set { lock.locked { _clientQueue = max(1, newValue) } } }
    private var _clientQueue: Int
    public var maxClients: Int { get { lock.locked { _maxClients } } set { lock.locked { _maxClients = max(1, newValue) } } }
    private var _maxClients: Int
    /// Minimum seconds between results sent to clients (0: all); /latest always has the newest.
    public var minimumInterval: Double { get { lock.locked { _minimumInterval } } set { lock.locked { _minimumInterval = newValue } } }
    private var _minimumInterval: Double
    /// Called with a message when a client is dropped (the daemon logs it).
    public var onDrop: (@Sendable (String) -> Void)?

    public init(clientQueue: Int = 64, maxClients: Int = 64, publishHz: Double = 0) {
        _clientQueue = max(1, clientQueue)
        _maxClients = max(1, maxClients)
        _minimumInterval = publishHz > 0 ? 1 / publishHz : 0
    }

    public func setPublishRate(_ hz: Double) { minimumInterval = hz > 0 ? 1 / hz : 0 }

    public var latest: String? { lock.locked { latestJSON } }
    public var latestClassification: ClassificationResult? { lock.locked { latestResult } }
    public var snapshot: Counts { lock.locked { var c = counts; c.clients = clients.count; return c } }

    /// Adds a client; false when the limit is reached or the broadcaster has stopped (the caller closes it).
    public func add(_ client: any ResultClient) -> Bool {
        lock.locked {
            guard !finished, clients.count < _maxClients else { counts.refusedClients += 1; return false }
            clients[ObjectIdentifier(client)] = client
            return true
        }
    }

    public func remove(_ client: any ResultClient) {
        _ = lock.locked { clients.removeValue(forKey: ObjectIdentifier(client)) }
    }

    /// Records `result` as the latest and sends it to every client (unless rate-limited). Never blocks on a client.
    /// Returns the JSON line sent.
    @discardableResult
    public func publish(_ result: ClassificationResult, now: Double = monotonicSeconds()) -> String {
        let json = result.json
        let (targets, limit): ([any ResultClient], Int) = lock.locked {
            latestJSON = json
            latestResult = result
            guard !finished, now - lastPublished >= _minimumInterval else { return ([], 0) }
            lastPublished = now
            counts.published += 1
            return (Array(clients.values), _clientQueue)
        }
        var slow: [any ResultClient] = []
        for client in targets where !client.deliver(json, limit: limit) { slow.append(client) }
        if !slow.isEmpty {
            lock.locked {
                for client in slow where clients.removeValue(forKey: ObjectIdentifier(client)) != nil { counts.droppedClients += 1 }
            }
            for client in slow {
                client.close(reason: "too slow: more than \(limit) results queued")
                onDrop?("dropped a slow client (more than \(limit) results queued)")
            }
        }
        return json
    }

    /// Closes every client and refuses new ones (shutdown).
    public func finish() {
        let all: [any ResultClient] = lock.locked {
            finished = true
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in all { client.close(reason: "the daemon is stopping") }
    }
}

extension Lock {
    @inline(__always)
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
