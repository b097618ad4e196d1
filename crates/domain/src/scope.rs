//! The seven permissions a client group grants its clients, and an access token carries.

use serde::{Deserialize, Serialize};

/// One permission, named as on the wire (`read-lists`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Read,
    ReadLists,
    ReadSecrets,
    Use,
    Manage,
    Update,
    Recharge,
}

impl Scope {
    /// Every scope, in the order the JTL documents list them.
    pub const ALL: [Scope; 7] = [
        Scope::Read,
        Scope::ReadLists,
        Scope::ReadSecrets,
        Scope::Use,
        Scope::Manage,
        Scope::Update,
        Scope::Recharge,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadLists => "read-lists",
            Scope::ReadSecrets => "read-secrets",
            Scope::Use => "use",
            Scope::Manage => "manage",
            Scope::Update => "update",
            Scope::Recharge => "recharge",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Parses a space-separated list; `None` if any name is unknown. Duplicates collapse.
    pub fn parse_list(text: &str) -> Option<Vec<Scope>> {
        let mut scopes = text
            .split_whitespace()
            .map(Scope::parse)
            .collect::<Option<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        Some(scopes)
    }

    /// Formats a list space-separated, as OAuth does.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_sort_and_deduplicate() {
        assert_eq!(
            Scope::parse_list("use read use"),
            Some(vec![Scope::Read, Scope::Use])
        );
        assert_eq!(Scope::parse_list("read admin"), None);
        assert_eq!(
            Scope::join(&[Scope::Read, Scope::ReadLists]),
            "read read-lists"
        );
    }
}
