//! Masking the values at given paths of JSON documents (`"t.c.$.path"` rules); every
//! string and number of a document (`json` rule) is [`Masker`]'s own. Keys, nesting,
//! booleans and nulls stay. Documents are parsed whole: a column's values are documents
//! of bounded size (the row is).

use serde_json::Value;

use super::rules::{JsonPath, Rule, Step};
use super::value::{Fault, Masker};

/// The document with the values at each path masked by its masker (a value that is
/// itself an object or array: every string and number inside it).
pub fn mask_paths(doc: &str, rules: &[(JsonPath, Masker)]) -> Result<String, Fault> {
    let mut v: Value = serde_json::from_str(doc).map_err(|_| Fault("not a JSON document"))?;
    for (path, m) in rules {
        at_path(&mut v, &path.steps, &mut |node| through(m, node))?;
    }
    Ok(v.to_string())
}

fn at_path(v: &mut Value, steps: &[Step], each: &mut dyn FnMut(&mut Value) -> Result<(), Fault>) -> Result<(), Fault> {
    let Some((step, rest)) = steps.split_first() else { return each(v) };
    match (step, v) {
        (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
            Some(child) => at_path(child, rest, each),
            None => Ok(()),
        },
        (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(child) => at_path(child, rest, each),
            None => Ok(()),
        },
        (Step::Each, Value::Array(items)) => items.iter_mut().try_for_each(|c| at_path(c, rest, each)),
        (Step::Each, Value::Object(map)) => map.values_mut().try_for_each(|c| at_path(c, rest, each)),
        _ => Ok(()),
    }
}

/// One value through a masker: strings and numbers by their text, containers leaf by leaf.
fn through(m: &Masker, v: &mut Value) -> Result<(), Fault> {
    if m.rule == Rule::Null {
        *v = Value::Null;
        return Ok(());
    }
    match v {
        Value::String(s) => {
            *v = m.apply(s)?.map_or(Value::Null, Value::String);
        }
        Value::Number(n) => {
            let text = n.to_string();
            *v = match m.apply(&text)? {
                None => Value::Null,
                Some(out) => serde_json::from_str::<serde_json::Number>(&out).map_or(Value::String(out), Value::Number),
            };
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| through(m, i))?,
        Value::Object(map) => map.values_mut().try_for_each(|i| through(m, i))?,
        Value::Bool(_) | Value::Null => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::TypeKind;
    use crate::factory::values::{Bounds, Faker};
    use crate::mask::key::MasterKey;
    use crate::mask::value::Shape;

    fn masker(rule: Rule) -> Masker {
        let key = MasterKey::for_tests(b"0123456789abcdef0123").rule_key(&rule.fingerprint());
        let shape = Shape {
            kind: TypeKind::Text { max_len: None },
            bounds: Bounds::default(),
            one_of: None,
            distinct: false,
            column: "c".into(),
        };
        Masker { rule, shape, key: Some(key) }
    }

    #[test]
    fn leaves_change_structure_stays() {
        let doc =
            r#"{"note":"Call Mary Smith on Tuesday","priority":3,"tags":["vip","late"],"flagged":false,"x":null}"#;
        let out: Value = serde_json::from_str(&masker(Rule::JsonLeaves).json_leaves(doc).unwrap()).unwrap();
        let orig: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(out["flagged"], false);
        assert_eq!(out["x"], Value::Null);
        assert!(out["priority"].is_number());
        assert_eq!(out["tags"].as_array().unwrap().len(), 2);
        assert_ne!(out["note"], orig["note"]);
        assert!(!out.to_string().contains("Mary"));
        assert_eq!(masker(Rule::JsonLeaves).json_leaves("nope"), Err(Fault("not a JSON document")));
    }

    #[test]
    fn paths_touch_only_their_values() {
        let rules = vec![
            (JsonPath::parse("$.phones[*]").unwrap(), masker(Rule::Fake(Faker::Phone))),
            (JsonPath::parse("$.address").unwrap(), masker(Rule::Null)),
            (JsonPath::parse("$.missing.deep").unwrap(), masker(Rule::Hash)),
        ];
        let doc = r#"{"name":"kept","phones":["555-0101","555-0102"],"address":{"street":"1 Main St"}}"#;
        let out: Value = serde_json::from_str(&mask_paths(doc, &rules).unwrap()).unwrap();
        assert_eq!(out["name"], "kept");
        assert_eq!(out["address"], Value::Null);
        let phones = out["phones"].as_array().unwrap();
        assert!(phones.iter().all(|p| p.is_string() && p != "555-0101" && p != "555-0102"), "{out}");
    }
}
