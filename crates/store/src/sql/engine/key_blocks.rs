//! The keys of new holds and ledger entries on PostgreSQL, drawn from the tables' sequences a
//! block at a time and handed out by this node in the order drawn. A batch that finds keys
//! left over from an earlier draw makes no statement for them: the draw was a round trip of
//! its own in every batch.
//!
//! Keys of one node rise with the order its batches write in; two nodes hand out keys from
//! blocks drawn at different times, so across nodes a key says nothing of when its row was
//! made (reads order by `created_at` first). Keys left over when a node stops are never used:
//! gaps, as a rolled-back transaction's keys always were. Front Payment lines, which are
//! listed in key order, still draw their keys as they are made.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use super::super::SqlExec;
use super::persist::{Counts, NewKeys};
use crate::StoreError;

/// Keys drawn beyond what the batch that draws needs, for the batches after it.
pub const BLOCK_KEYS: usize = 256;

/// The keys this node has drawn and not yet handed out.
#[derive(Debug, Default)]
pub struct KeyBlocks {
    left: Mutex<Left>,
}

#[derive(Debug, Default)]
struct Left {
    holds: VecDeque<i64>,
    entries: VecDeque<i64>,
}

/// Up to `count` keys from the front of `left`.
fn take_up_to(left: &mut VecDeque<i64>, count: usize) -> Vec<i64> {
    let count = count.min(left.len());
    left.drain(..count).collect()
}

/// How many keys to draw for a table short of `short`: none, or those and a block.
fn to_draw(short: usize) -> usize {
    if short == 0 { 0 } else { short + BLOCK_KEYS }
}

impl KeyBlocks {
    /// Keys for `counts` new rows: holds and entries from what is left, drawing (in one
    /// statement, with any lines') only when that is short.
    pub(super) async fn take<T: SqlExec>(
        &self,
        tx: &mut T,
        counts: &Counts,
    ) -> Result<NewKeys, StoreError> {
        let (mut holds, mut entries) = {
            let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
            (
                take_up_to(&mut left.holds, counts.holds),
                take_up_to(&mut left.entries, counts.entries),
            )
        };
        let short_holds = counts.holds - holds.len();
        let short_entries = counts.entries - entries.len();
        if short_holds + short_entries + counts.lines == 0 {
            return Ok(NewKeys {
                holds,
                entries,
                lines: Vec::new(),
            });
        }
        let drawn = draw(
            tx,
            &Counts {
                holds: to_draw(short_holds),
                entries: to_draw(short_entries),
                lines: counts.lines,
            },
        )
        .await?;
        let mut drawn_holds: VecDeque<i64> = drawn.holds.into();
        let mut drawn_entries: VecDeque<i64> = drawn.entries.into();
        holds.extend(drawn_holds.drain(..short_holds));
        entries.extend(drawn_entries.drain(..short_entries));
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        left.holds.extend(drawn_holds);
        left.entries.extend(drawn_entries);
        Ok(NewKeys {
            holds,
            entries,
            lines: drawn.lines,
        })
    }
}

/// Draws `counts` keys from the sequences, in one statement, each table's in rising order.
/// Lines are drawn only when there are some, so the statement of a batch of payments keeps
/// its text.
async fn draw<T: SqlExec>(tx: &mut T, counts: &Counts) -> Result<NewKeys, StoreError> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut sql = String::from(
        "SELECT 'h', nextval('holds_pk_seq') FROM generate_series(1, $1) \
         UNION ALL SELECT 'e', nextval('entries_pk_seq') FROM generate_series(1, $2)",
    );
    let mut params = vec![count(counts.holds).into(), count(counts.entries).into()];
    if counts.lines > 0 {
        sql.push_str(
            " UNION ALL SELECT 'l', nextval('front_lines_pk_seq') FROM generate_series(1, $3)",
        );
        params.push(count(counts.lines).into());
    }
    let mut keys = NewKeys {
        holds: Vec::with_capacity(counts.holds),
        entries: Vec::with_capacity(counts.entries),
        lines: Vec::with_capacity(counts.lines),
    };
    for row in tx.fetch(&sql, params).await? {
        let mut r = row.reader();
        let table = r.text()?;
        let pk = r.int()?;
        match table.as_str() {
            "h" => keys.holds.push(pk),
            "e" => keys.entries.push(pk),
            _ => keys.lines.push(pk),
        }
    }
    keys.holds.sort_unstable();
    keys.entries.sort_unstable();
    keys.lines.sort_unstable();
    if keys.holds.len() != counts.holds
        || keys.entries.len() != counts.entries
        || keys.lines.len() != counts.lines
    {
        return Err(StoreError::Other("drew the wrong number of keys".into()));
    }
    Ok(keys)
}
