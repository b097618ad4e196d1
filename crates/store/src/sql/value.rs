//! The values that cross between the shared SQL and a backend: a closed set of column types,
//! so a backend binds and decodes without knowing any query.

use time::OffsetDateTime;

use crate::StoreError;

/// A bind parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A NULL text (and any NULL read back from the database).
    Null,
    /// A NULL of an integer column: PostgreSQL needs to know the type of a NULL it binds.
    NullInt,
    Int(i64),
    Text(String),
    Bool(bool),
    /// A whole integer column for a set-based statement: bound as an array on PostgreSQL
    /// (`unnest($1::bigint[])`), as a JSON array text on SQLite (`json_each($1)`). Never read
    /// back.
    Ints(Vec<Option<i64>>),
    /// A whole text column, bound like [`Value::Ints`].
    Texts(Vec<Option<String>>),
}

impl Value {
    /// An array value as the JSON array text SQLite's `json_each` reads; `None` for a scalar.
    pub fn json_array(&self) -> Option<String> {
        match self {
            Value::Ints(values) => serde_json::to_string(values).ok(),
            Value::Texts(values) => serde_json::to_string(values).ok(),
            Value::Null | Value::NullInt | Value::Int(_) | Value::Text(_) | Value::Bool(_) => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Value::Int(to_micros(v))
    }
}
/// The NULL that stands for a missing value of a type.
pub trait NullOf {
    const NULL: Value;
}
impl NullOf for i64 {
    const NULL: Value = Value::NullInt;
}
impl NullOf for OffsetDateTime {
    const NULL: Value = Value::NullInt;
}
impl NullOf for String {
    const NULL: Value = Value::Null;
}
impl NullOf for &str {
    const NULL: Value = Value::Null;
}

impl<T: Into<Value> + NullOf> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(T::NULL, Into::into)
    }
}

/// Microseconds since the Unix epoch.
pub fn to_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| StoreError::Other(format!("stored time out of range: {e}")))
}

/// One result row, its columns in the order of the query's select list.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Reads the columns front to back.
    pub fn reader(&self) -> RowReader<'_> {
        RowReader { row: self, next: 0 }
    }
}

/// Sequential typed access to a row's columns.
pub struct RowReader<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> RowReader<'a> {
    fn take(&mut self) -> Result<&'a Value, StoreError> {
        let row: &'a Row = self.row;
        let value = row
            .0
            .get(self.next)
            .ok_or_else(|| StoreError::Other(format!("row has no column {}", self.next)))?;
        self.next += 1;
        Ok(value)
    }

    fn mismatch(&self, want: &str, got: &Value) -> StoreError {
        StoreError::Other(format!(
            "column {} is {got:?}, expected {want}",
            self.next - 1
        ))
    }

    pub fn int(&mut self) -> Result<i64, StoreError> {
        match self.take()? {
            Value::Int(v) => Ok(*v),
            other => Err(self.mismatch("an integer", other)),
        }
    }

    pub fn opt_int(&mut self) -> Result<Option<i64>, StoreError> {
        match self.take()? {
            Value::Null | Value::NullInt => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(self.mismatch("an integer or null", other)),
        }
    }

    pub fn text(&mut self) -> Result<String, StoreError> {
        match self.take()? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(self.mismatch("text", other)),
        }
    }

    pub fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        match self.take()? {
            Value::Null | Value::NullInt => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            other => Err(self.mismatch("text or null", other)),
        }
    }

    /// SQLite has no boolean type and answers 0/1; PostgreSQL answers a boolean.
    pub fn bool(&mut self) -> Result<bool, StoreError> {
        match self.take()? {
            Value::Bool(v) => Ok(*v),
            Value::Int(v) => Ok(*v != 0),
            other => Err(self.mismatch("a boolean", other)),
        }
    }

    pub fn time(&mut self) -> Result<OffsetDateTime, StoreError> {
        from_micros(self.int()?)
    }

    pub fn opt_time(&mut self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.opt_int()?.map(from_micros).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_through_microseconds() {
        let at = datetime!(2026-11-24 15:54:01.123456 UTC);
        assert_eq!(from_micros(to_micros(at)).expect("in range"), at);
    }

    #[test]
    fn arrays_bind_as_json_on_sqlite() {
        let texts = Value::Texts(vec![Some("a\"b".into()), None]);
        assert_eq!(texts.json_array().as_deref(), Some(r#"["a\"b",null]"#));
        assert_eq!(
            Value::Ints(vec![Some(1), None]).json_array().as_deref(),
            Some("[1,null]")
        );
        assert_eq!(Value::Int(1).json_array(), None);
    }

    #[test]
    fn a_reader_decodes_in_order_and_reports_mismatches() {
        let row = Row(vec![Value::Int(1), Value::Null, Value::Text("x".into())]);
        let mut r = row.reader();
        assert_eq!(r.int().expect("int"), 1);
        assert_eq!(r.opt_text().expect("null"), None);
        assert!(r.int().is_err());
    }
}
