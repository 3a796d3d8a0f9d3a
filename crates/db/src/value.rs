//! What crosses the API: the values bound and read, the same on both engines, so that a store never
//! names an engine's types.

use crate::DbError;
use std::sync::Arc;

/// A value bound to a statement or read from a row. `Null` carries the type it stands for, which
/// PostgreSQL needs to type the parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The column types the stores use: BIGINT, DOUBLE PRECISION, TEXT, BLOB/BYTEA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// A Rust type that binds as one [`Kind`] (so that its `None` can be typed).
pub trait Typed: Into<Value> {
    const KIND: Kind;
}

macro_rules! typed {
    ($kind:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from($v: $t) -> Value {
                Value::$kind($e)
            }
        }
        impl Typed for $t {
            const KIND: Kind = Kind::$kind;
        }
    )*};
}

typed!(Int:
    i64 => |v| v,
    i32 => |v| i64::from(v),
    bool => |v| i64::from(v),
);
typed!(Real: f64 => |v| v);
typed!(Text:
    String => |v| v,
    &str => |v| v.to_string(),
    &String => |v| v.clone(),
);
typed!(Blob:
    Vec<u8> => |v| v,
    &[u8] => |v| v.to_vec(),
);

impl<T: Typed> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null(T::KIND), Into::into)
    }
}

/// One result row: its values by position, with the column names.
#[derive(Clone, Debug)]
pub struct Row {
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

/// A column by position (`0`, `1`, …) or by name.
pub trait ColumnIndex {
    fn position(&self, columns: &[String]) -> Result<usize, DbError>;
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Result<usize, DbError> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(DbError::NoColumn(self.to_string()))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Result<usize, DbError> {
        columns
            .iter()
            .position(|c| c == self)
            .ok_or_else(|| DbError::NoColumn((*self).to_string()))
    }
}

impl Row {
    pub fn try_get<T: Decode, I: ColumnIndex>(&self, index: I) -> Result<T, DbError> {
        let i = index.position(&self.columns)?;
        let v = self
            .values
            .get(i)
            .ok_or_else(|| DbError::NoColumn(i.to_string()))?;
        T::decode(v).map_err(|problem| DbError::Decode {
            column: self.columns.get(i).cloned().unwrap_or_default(),
            problem,
        })
    }
}

/// A Rust type read from a column.
pub trait Decode: Sized {
    fn decode(v: &Value) -> Result<Self, String>;
}

fn unexpected(want: &str, v: &Value) -> String {
    format!("expected {want}, found {v:?}")
}

impl Decode for i64 {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(unexpected("an integer", other)),
        }
    }
}

impl Decode for i32 {
    fn decode(v: &Value) -> Result<Self, String> {
        i32::try_from(i64::decode(v)?).map_err(|e| e.to_string())
    }
}

impl Decode for bool {
    fn decode(v: &Value) -> Result<Self, String> {
        Ok(i64::decode(v)? != 0)
    }
}

impl Decode for f64 {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            // SQLite stores a whole REAL as an integer when it can.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Ok(*i as f64),
            other => Err(unexpected("a number", other)),
        }
    }
}

impl Decode for String {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(unexpected("text", other)),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(unexpected("bytes", other)),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null(_) => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}
