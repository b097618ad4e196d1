//! Writes whose answers a command does not need, sent to the database together. On
//! PostgreSQL every statement is a round trip and a backend wake-up, so the writes that end a
//! command go as one statement: each but the last a data-modifying `WITH` of the last. They
//! all see the database as it was before that statement, so they must not depend on each
//! other's effects, nor change the same row twice. On SQLite, where a statement costs no round
//! trip, they run one after the other, a run of writes of the same statement as one prepared
//! statement stepped once per row ([`one_by_one`]).

use std::borrow::Cow;

use crate::StoreError;
use crate::sql::{SqlExec, Value};

/// One write statement with its parameters, written `$1`, `$2`, ... as everywhere.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::sql) struct Write {
    pub(in crate::sql) sql: Cow<'static, str>,
    pub(in crate::sql) params: Vec<Value>,
}

impl Write {
    pub(in crate::sql) fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Write {
        Write {
            sql: sql.into(),
            params,
        }
    }
}

/// Runs the writes one after the other, in order; consecutive writes of the same statement
/// (the rows of one table, say) go to [`SqlExec::execute_each`] together.
pub(in crate::sql) async fn one_by_one<T: SqlExec>(
    tx: &mut T,
    writes: Vec<Write>,
) -> Result<(), StoreError> {
    let mut writes = writes.into_iter().peekable();
    while let Some(first) = writes.next() {
        let mut rows = vec![first.params];
        while let Some(next) = writes.next_if(|next| next.sql == first.sql) {
            rows.push(next.params);
        }
        tx.execute_each(&first.sql, rows).await?;
    }
    Ok(())
}

/// The writes as one PostgreSQL statement: `WITH w1 AS (first), w2 AS (second) last`, each
/// write's parameters renumbered after the ones before it.
pub(in crate::sql) fn combined(mut writes: Vec<Write>) -> Write {
    let count = writes.len();
    if count == 1
        && let Some(only) = writes.pop()
    {
        return only;
    }
    let mut sql = String::new();
    let mut params = Vec::new();
    for (index, write) in writes.into_iter().enumerate() {
        let renumbered = renumbered(&write.sql, params.len());
        if index + 1 == count {
            if index > 0 {
                sql.push(' ');
            }
            sql.push_str(&renumbered);
        } else {
            sql.push_str(if index == 0 { "WITH " } else { ", " });
            sql.push_str(&format!("w{} AS ({renumbered})", index + 1));
        }
        params.extend(write.params);
    }
    Write::new(sql, params)
}

/// `sql` with every parameter `$N` written `$(N + offset)`. The statements given here hold no
/// `$` but in their parameters.
fn renumbered(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(number) => out.push_str(&(number + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_after_the_ones_before() {
        assert_eq!(
            renumbered("UPDATE t SET a = $2, b = $10 WHERE pk = $1", 3),
            "UPDATE t SET a = $5, b = $13 WHERE pk = $4"
        );
        assert_eq!(renumbered("SELECT $1", 0), "SELECT $1");
        assert_eq!(renumbered("no parameters", 7), "no parameters");
    }

    #[test]
    fn writes_become_one_statement_whose_last_write_is_the_main_one() {
        let writes = vec![
            Write::new(
                "UPDATE v SET n = n + $2 WHERE pk = $1",
                vec![1_i64.into(), 5_i64.into()],
            ),
            Write::new(
                "UPDATE h SET s = $2 WHERE pk = $1",
                vec![2_i64.into(), "x".into()],
            ),
            Write::new("INSERT INTO a (d) VALUES ($1)", vec!["y".into()]),
        ];
        let one = combined(writes);
        assert_eq!(
            one.sql,
            "WITH w1 AS (UPDATE v SET n = n + $2 WHERE pk = $1), \
             w2 AS (UPDATE h SET s = $4 WHERE pk = $3) INSERT INTO a (d) VALUES ($5)"
        );
        assert_eq!(
            one.params,
            vec![
                1_i64.into(),
                5_i64.into(),
                2_i64.into(),
                "x".into(),
                "y".into()
            ]
        );
    }

    #[test]
    fn a_single_write_is_left_as_it_is() {
        let write = Write::new("DELETE FROM t WHERE pk = $1", vec![1_i64.into()]);
        assert_eq!(combined(vec![write.clone()]), write);
    }
}
