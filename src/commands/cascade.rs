//! How bulk and restore report the tables `--cascade` empties with a load.

use serde_json::json;

use crate::db::schema::TableName;
use crate::output::plural;

/// `--cascade`'s tables in a plan: `also emptied (--cascade): a (12 rows), b (3 rows)`.
pub fn also_emptied_text(also: &[(TableName, u64)]) -> String {
    if also.is_empty() {
        return String::new();
    }
    let list: Vec<String> = also.iter().map(|(t, n)| format!("{t} ({})", plural(*n, "row", "rows"))).collect();
    format!("\nalso emptied (--cascade), not loaded: {}", list.join(", "))
}

pub fn also_emptied_json(also: &[(TableName, u64)]) -> serde_json::Value {
    also.iter().map(|(t, n)| json!({ "table": t.to_string(), "rows": n })).collect()
}
