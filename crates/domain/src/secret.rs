//! Secrets: random tokens from the operating system's CSPRNG (through `rand`'s thread RNG, a
//! ChaCha generator seeded from the OS), their SHA-256 digests for storage, and constant-time
//! comparison. Client secrets and access tokens are stored only as digests; they carry 190+
//! bits of entropy, so a fast hash is the right tool (passwords, which do not, use argon2).

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Letters and digits, for secrets that are typed rarely.
pub const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Upper-case letters and digits without the look-alikes 0/O, 1/I, for values people type.
pub const UNAMBIGUOUS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Lower-case hexadecimal digits, for opaque ids.
pub const HEX: &[u8] = b"0123456789abcdef";

/// A random string of `len` characters drawn uniformly from `alphabet`.
pub fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A fresh opaque id: 21 lower-case hex characters (84 bits), shaped like JTL's ids.
pub fn opaque_id() -> String {
    random_string(HEX, 21)
}

/// A fresh opaque id that sorts by the time it was made: 11 hex characters of milliseconds
/// since 1970 (enough until the year 2527), then 10 random ones (40 bits). Shaped like
/// [`opaque_id`], for records written at a high rate (holds, ledger entries): each new one
/// lands at the end of the indexes on its id instead of on a random page of them, which is
/// what every commit would otherwise write again. Ids are names, not secrets: a lookup by one
/// is scoped to its tenant and needs that tenant's credentials, and the time they carry is
/// what the record's `created_at` shows anyway.
pub fn ordered_id(at: time::OffsetDateTime) -> String {
    let milliseconds = (at.unix_timestamp_nanos() / 1_000_000).clamp(0, ORDERED_ID_TIME_MAX);
    format!("{milliseconds:011x}{}", random_string(HEX, 10))
}

/// The largest time an [`ordered_id`] can carry, in milliseconds since 1970.
const ORDERED_ID_TIME_MAX: i128 = 0xfff_ffff_ffff;

/// The hex SHA-256 digest under which a high-entropy secret is stored.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in hash {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Compares two secrets without leaking, through timing, where they first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_only_their_alphabet_and_differ() {
        let a = random_string(UNAMBIGUOUS, 32);
        let b = random_string(UNAMBIGUOUS, 32);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| UNAMBIGUOUS.contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn ordered_ids_sort_by_time_and_look_like_opaque_ids() {
        let earlier = time::macros::datetime!(2026-03-01 09:00:00.001 UTC);
        let later = time::macros::datetime!(2026-03-01 09:00:00.002 UTC);
        let a = ordered_id(earlier);
        let b = ordered_id(later);
        assert_eq!(a.len(), opaque_id().len());
        assert!(a.bytes().all(|c| HEX.contains(&c)));
        assert!(a < b, "{a} sorts before {b}");
        assert_eq!(&a[..11], "19ca8a03e81");
        assert_ne!(ordered_id(earlier), a);
    }

    #[test]
    fn digests_are_stable_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_comparison_agrees_with_equality() {
        assert!(constant_time_eq("1234", "1234"));
        assert!(!constant_time_eq("1234", "1235"));
        assert!(!constant_time_eq("1234", "12345"));
    }
}
