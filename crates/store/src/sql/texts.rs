//! Statement texts made once per process. The batch statements are built from a fixed set of
//! parts (a table, its columns, the kinds of names a batch carries), so there are few distinct
//! texts; formatting one again for every batch cost more than running some of them. A text is
//! made the first time its key is asked for and kept for the life of the process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::Dialect;

/// What a text is made of: where it is built, for which dialect, and the parts that vary there
/// (the names of its tables, columns or branches).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct TextKey {
    pub(super) site: &'static str,
    pub(super) dialect: Dialect,
    pub(super) parts: Vec<&'static str>,
}

/// The text kept under `key`, made by `make` the first time.
pub(super) fn once(key: TextKey, make: impl FnOnce() -> String) -> &'static str {
    static TEXTS: OnceLock<Mutex<HashMap<TextKey, &'static str>>> = OnceLock::new();
    let texts = TEXTS.get_or_init(Mutex::default);
    let mut texts = texts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // The keys name a fixed set of sites, tables and columns, so the texts kept are bounded.
    texts
        .entry(key)
        .or_insert_with(|| Box::leak(make().into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(column: &'static str) -> TextKey {
        TextKey {
            site: "texts::tests",
            dialect: Dialect::Sqlite,
            parts: vec!["holds", column],
        }
    }

    #[test]
    fn a_text_is_made_once_per_key() {
        let first = once(key("pk"), || "SELECT pk FROM holds".to_string());
        let again = once(key("pk"), || unreachable!("made again"));
        assert!(std::ptr::eq(first, again));
        assert_eq!(
            once(key("id"), || "SELECT id FROM holds".to_string()),
            "SELECT id FROM holds"
        );
    }
}
