//! Set-based statements: a whole column of values bound as one parameter, so that a batch
//! reads and writes any number of rows of a table with one statement of fixed text (planned
//! once, cached). On PostgreSQL a column is an array read with `unnest`; on SQLite it is a JSON
//! array read with `json_each` in reads (as the driving side of a join where a statement runs
//! in every batch), and writes run a cached one-row statement per row, which costs no round trip
//! there. The texts are made once per process ([`texts`]).

use super::Dialect;
use super::Value;
use super::ledger::writes::Write;
use super::texts::{self, TextKey};

/// A column of a set-based write, by its SQL type.
#[derive(Debug, Clone, Copy)]
pub(super) enum Column {
    Int(&'static str),
    Text(&'static str),
}

impl Column {
    fn name(&self) -> &'static str {
        match self {
            Column::Int(name) | Column::Text(name) => name,
        }
    }

    /// The column as part of a statement text's key: its name and its type.
    fn key_parts(&self) -> [&'static str; 2] {
        [self.name(), self.array_type()]
    }

    fn array_type(&self) -> &'static str {
        match self {
            Column::Int(_) => "bigint[]",
            Column::Text(_) => "text[]",
        }
    }

    /// The column's values across `rows` (each row holding this column at `index`) as one
    /// array parameter.
    pub(super) fn gather(&self, rows: &[Vec<Value>], index: usize) -> Value {
        match self {
            Column::Int(_) => Value::Ints(
                rows.iter()
                    .map(|row| match row.get(index) {
                        Some(Value::Int(v)) => Some(*v),
                        Some(Value::Bool(v)) => Some(i64::from(*v)),
                        _ => None,
                    })
                    .collect(),
            ),
            Column::Text(_) => Value::Texts(
                rows.iter()
                    .map(|row| match row.get(index) {
                        Some(Value::Text(v)) => Some(v.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// `(columns) IN (the rows of these text arrays)`, the arrays bound at `$first`, `$first + 1`,
/// ... in the order of `columns`.
pub(super) fn in_text_tuples(dialect: Dialect, columns: &[&str], first: usize) -> String {
    let params = first..first + columns.len();
    let rows = match dialect {
        Dialect::Postgres => {
            let arrays: Vec<String> = params.map(|n| format!("${n}::text[]")).collect();
            format!("SELECT * FROM unnest({})", arrays.join(", "))
        }
        Dialect::Sqlite => {
            // Walk the first array; take the other columns by position (`->> i`, which reads the
            // i-th element without building a path text per row). SQLite keeps each JSON
            // argument parsed while the statement runs, so this stays linear where a join of
            // the arrays on their keys would not.
            let select: Vec<String> = params
                .clone()
                .map(|n| {
                    if n == first {
                        "j.value".to_string()
                    } else {
                        format!("(${n} ->> j.key)")
                    }
                })
                .collect();
            format!("SELECT {} FROM json_each(${first}) j", select.join(", "))
        }
    };
    format!("({}) IN ({rows})", columns.join(", "))
}

/// SQLite: the rows of `table` whose `columns` match a row of the text arrays bound at
/// `$first`, `$first + 1`, ..., as a join driven by the first array:
/// `json_each($first) j CROSS JOIN {table} ON ...`. Unlike `IN (subquery)`, which SQLite
/// answers from a temporary b-tree built for every execution, the join only seeks `table`'s
/// index once per element. It yields a row once per matching element, so a name sent twice
/// matches twice.
pub(super) fn sqlite_join_text_tuples(table: &str, columns: &[&str], first: usize) -> String {
    let matches: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if i == 0 {
                format!("{column} = j.value")
            } else {
                format!("{column} = (${} ->> j.key)", first + i)
            }
        })
        .collect();
    format!(
        "json_each(${first}) j CROSS JOIN {table} ON {}",
        matches.join(" AND ")
    )
}

/// SQLite: the rows of `table` whose `column` is one of the integers of the array bound at
/// `$param`, as a join driven by the array (see [`sqlite_join_text_tuples`]).
pub(super) fn sqlite_join_ints(table: &str, column: &str, param: usize) -> String {
    format!("json_each(${param}) j CROSS JOIN {table} ON {column} = j.value")
}

/// `key` is one of the keys `subquery` selects, for a statement that locks the rows it reads.
/// On PostgreSQL the keys are gathered into an array first (an init plan, run once), so the
/// condition is a plain one on the locked row: a row that another transaction changed while
/// this one waited for its lock is checked again against that array. Joined to a subquery
/// instead, such a row was dropped from the answer under load (measured: reserves answered
/// `VOUCHER.NOT_FOUND` for vouchers that existed, once the table held thousands of rows).
pub(super) fn key_in_locked(dialect: Dialect, key: &str, subquery: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("{key} = ANY(ARRAY({subquery}))"),
        Dialect::Sqlite => format!("{key} IN ({subquery})"),
    }
}

/// `column IN (the integers of the array bound at $param)`.
pub(super) fn in_ints(dialect: Dialect, column: &str, param: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("{column} = ANY(${param}::bigint[])"),
        Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(${param}))"),
    }
}

/// Inserts `rows` (each with a value per column, in order) into `table`.
pub(super) fn insert(
    dialect: Dialect,
    table: &'static str,
    columns: &[Column],
    rows: Vec<Vec<Value>>,
) -> Vec<Write> {
    if rows.is_empty() {
        return Vec::new();
    }
    let mut parts = vec![table];
    parts.extend(columns.iter().flat_map(Column::key_parts));
    let key = TextKey {
        site: "sets::insert",
        dialect,
        parts,
    };
    let sql = texts::once(key, || {
        let names: Vec<&str> = columns.iter().map(Column::name).collect();
        let names = names.join(", ");
        match dialect {
            Dialect::Postgres => {
                let arrays: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("${}::{}", i + 1, c.array_type()))
                    .collect();
                format!(
                    "INSERT INTO {table} ({names}) SELECT * FROM unnest({})",
                    arrays.join(", ")
                )
            }
            Dialect::Sqlite => {
                let placeholders: Vec<String> =
                    (1..=columns.len()).map(|n| format!("${n}")).collect();
                format!(
                    "INSERT INTO {table} ({names}) VALUES ({})",
                    placeholders.join(", ")
                )
            }
        }
    });
    match dialect {
        Dialect::Postgres => vec![Write::new(sql, gather_all(columns, &rows))],
        Dialect::Sqlite => rows.into_iter().map(|row| Write::new(sql, row)).collect(),
    }
}

/// Sets `set` on the rows of `table` whose `keys` columns match; each row holds the keys, then
/// a value per column of `set`.
pub(super) fn update(
    dialect: Dialect,
    table: &'static str,
    keys: &[Column],
    set: &[Column],
    rows: Vec<Vec<Value>>,
) -> Vec<Write> {
    if rows.is_empty() {
        return Vec::new();
    }
    let mut parts = vec![table];
    parts.extend(keys.iter().flat_map(Column::key_parts));
    parts.push("SET");
    parts.extend(set.iter().flat_map(Column::key_parts));
    let key = TextKey {
        site: "sets::update",
        dialect,
        parts,
    };
    let sql = texts::once(key, || match dialect {
        Dialect::Postgres => {
            let mut columns = keys.to_vec();
            columns.extend_from_slice(set);
            let arrays: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::{}", i + 1, c.array_type()))
                .collect();
            let names: Vec<&str> = columns.iter().map(Column::name).collect();
            let assignments: Vec<String> = set
                .iter()
                .map(|c| format!("{0} = u.{0}", c.name()))
                .collect();
            let matches: Vec<String> = keys
                .iter()
                .map(|k| format!("t.{0} = u.{0}", k.name()))
                .collect();
            format!(
                "UPDATE {table} AS t SET {} FROM unnest({}) AS u({}) WHERE {}",
                assignments.join(", "),
                arrays.join(", "),
                names.join(", "),
                matches.join(" AND "),
            )
        }
        Dialect::Sqlite => {
            let assignments: Vec<String> = set
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} = ${}", c.name(), i + keys.len() + 1))
                .collect();
            let matches: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{} = ${}", k.name(), i + 1))
                .collect();
            format!(
                "UPDATE {table} SET {} WHERE {}",
                assignments.join(", "),
                matches.join(" AND ")
            )
        }
    });
    match dialect {
        Dialect::Postgres => {
            let mut columns = keys.to_vec();
            columns.extend_from_slice(set);
            vec![Write::new(sql, gather_all(&columns, &rows))]
        }
        Dialect::Sqlite => rows.into_iter().map(|row| Write::new(sql, row)).collect(),
    }
}

fn gather_all(columns: &[Column], rows: &[Vec<Value>]) -> Vec<Value> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| c.gather(rows, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 2] = [Column::Int("pk"), Column::Text("state")];

    #[test]
    fn postgres_writes_a_whole_set_in_one_statement_of_fixed_text() {
        let rows = vec![
            vec![Value::Int(1), Value::from("live")],
            vec![Value::Int(2), Value::Null],
        ];
        let writes = insert(Dialect::Postgres, "holds", &COLUMNS, rows.clone());
        assert_eq!(writes.len(), 1);
        assert_eq!(
            writes[0].sql,
            "INSERT INTO holds (pk, state) SELECT * FROM unnest($1::bigint[], $2::text[])"
        );
        assert_eq!(
            writes[0].params,
            vec![
                Value::Ints(vec![Some(1), Some(2)]),
                Value::Texts(vec![Some("live".into()), None])
            ]
        );
        let writes = update(
            Dialect::Postgres,
            "holds",
            &COLUMNS[..1],
            &COLUMNS[1..],
            rows,
        );
        assert_eq!(
            writes[0].sql,
            "UPDATE holds AS t SET state = u.state FROM unnest($1::bigint[], $2::text[]) \
             AS u(pk, state) WHERE t.pk = u.pk"
        );
    }

    #[test]
    fn sqlite_writes_one_cached_statement_per_row() {
        let rows = vec![
            vec![Value::Int(1), Value::from("a")],
            vec![Value::Int(2), Value::from("b")],
        ];
        let writes = update(Dialect::Sqlite, "holds", &COLUMNS[..1], &COLUMNS[1..], rows);
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0].sql, "UPDATE holds SET state = $2 WHERE pk = $1");
        assert_eq!(writes[0].sql, writes[1].sql);
    }

    #[test]
    fn membership_reads_arrays_in_each_dialect() {
        assert_eq!(
            in_text_tuples(Dialect::Postgres, &["tenant_id", "id"], 2),
            "(tenant_id, id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
        );
        assert_eq!(
            in_text_tuples(Dialect::Sqlite, &["tenant_id", "id"], 2),
            "(tenant_id, id) IN (SELECT j.value, ($3 ->> j.key) FROM json_each($2) j)"
        );
        assert_eq!(
            in_ints(Dialect::Postgres, "pk", 1),
            "pk = ANY($1::bigint[])"
        );
        assert_eq!(
            sqlite_join_text_tuples("holds h", &["h.tenant_id", "h.id"], 2),
            "json_each($2) j CROSS JOIN holds h ON h.tenant_id = j.value AND h.id = ($3 ->> j.key)"
        );
        assert_eq!(
            sqlite_join_ints("vouchers v", "v.pk", 4),
            "json_each($4) j CROSS JOIN vouchers v ON v.pk = j.value"
        );
    }
}
