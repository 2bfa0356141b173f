//! A typed value as a load writes it: what generated rows hold, and what candidate
//! rows are evaluated with.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}
