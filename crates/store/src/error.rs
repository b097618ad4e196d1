//! Storage failures, typed so that callers never match on a driver's error.

/// Why a store operation failed. Business refusals are not here: they are
/// [`voucherd_domain::DomainError`]s inside a successful execution.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or foreign-key constraint refused a write (a concurrent writer won).
    #[error("constraint conflict: {0}")]
    Conflict(String),
    /// The database asked for the transaction to be retried (serialization failure,
    /// deadlock, busy database).
    #[error("retryable: {0}")]
    Retryable(String),
    /// Too many commands are waiting for the writer; retry shortly.
    #[error("too many commands waiting")]
    Overloaded,
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupted row. Logged, never shown to clients.
    #[error("storage failure: {0}")]
    Other(String),
}
