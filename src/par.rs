//! Side-by-side work on scoped threads, for the stages whose parts are each mostly one core's work
//! (a Parquet file's encoding and SHA-256, a table's checks) on a machine with more cores.

/// What a scoped thread returned; if it panicked, its panic goes on in the caller.
pub fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
