#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A thread of its own for blocking file I/O with fsync: the serial executor of the durability
/// actors (`DiskSpool`, `DeadLetterWriter`) and the runner of the crash journal's syncs.
///
/// Why a thread and not the actor's default executor: actors run on the cooperative pool, which has
/// one thread per core (two on a small machine). One fsync on a slow or failing disk can take
/// seconds, and would hold a pool thread all that time, stalling the pipeline task, the writer and
/// the health server with it. An actor whose `unownedExecutor` is this thread runs its jobs here,
/// one at a time (its isolation is kept: this executor is serial), and callers on the pool only
/// `await`. The jobs are handed over through a `BlockingQueue`, like the curl workers' jobs.
public final class FileIOThread: SerialExecutor {
    private enum Work: Sendable {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    public let name: String
    private let queue = BlockingQueue<Work>()

    public init(name: String) {
        self.name = name
        // The thread captures the queue and an unowned reference to this executor, never `self`
        // strongly, so dropping the last owner closes the queue and ends the thread. A job only runs
        // while its actor, which holds this executor, is alive.
        let queue = self.queue
        let executor = UnownedSerialExecutor(ordinary: self)
        let thread = Thread {
            Self.nameCurrentThread(name)
            while let work = queue.pop() {
                switch work {
                case .job(let job): job.runSynchronously(on: executor)
                case .closure(let body): body()
                }
            }
        }
        thread.name = name
        thread.start()
    }

    deinit { queue.close() }

    /// Gives the running thread its name in the kernel (`top -H`, `/proc/PID/task/*/comm`; at most
    /// 15 bytes): Foundation's `Thread.name` does not reach the kernel on Linux, and a new thread
    /// would otherwise show the name of the pool thread that created it.
    private static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        let bytes = Array(name.utf8.prefix(15))
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #endif
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let work = Work.job(UnownedJob(job))
        // The queue is closed only in deinit, when no actor uses this executor any more.
        if queue.push(work) != nil { preconditionFailure("FileIOThread \(name): job enqueued after close") }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Runs `body` on this thread, after the work queued before it, and returns its result.
    public func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            let work = Work.closure { continuation.resume(returning: Result { () throws(E) -> T in try body() }) }
            if queue.push(work) != nil { continuation.resume(returning: Result { () throws(E) -> T in try body() }) }
        }
        return try result.get()
    }
}
