//! Hashing people's passwords (argon2id, deliberately slow) off the async workers, for every
//! face that takes one: bleepay payers, console users from the API, the console and the CLI.

/// The hash of `password`, or `None` if it could not be made.
pub async fn hashed(password: String) -> Option<String> {
    tokio::task::spawn_blocking(move || voucherd_domain::password::hash(&password))
        .await
        .ok()
        .filter(|hash| !hash.is_empty())
}
