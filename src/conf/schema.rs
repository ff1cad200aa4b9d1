//! The JSON Schema of config *files*, generated from the key table: every key
//! and alias of every block, its type, and in its description whether rnats
//! implements it and whether it reloads. Editors use it for completion and to
//! flag unknown keys in JSON configs (`rnats schema --file`).
//! `schemas/rnats-config.schema.json` (the resolved config, `--dump`) is the
//! other schema, generated from the model.

use std::collections::HashMap;

use serde_json::{json, Map as JsonMap, Value};

use super::keys::{self, BlockInfo, KeyInfo, Support, Ty};

/// Generates the schema. Each block is one definition under `$defs`, named
/// after the first path it appears at.
pub fn config_file_schema() -> Value {
    let mut gen = Gen { defs: JsonMap::new(), names: HashMap::new() };
    let root = gen.block_schema(keys::top(), "");
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/rnats/rnats/schemas/nats-config-file.schema.json",
        "title": "NATS server configuration file (as rnats and nats-server 2.15 read it)",
        "description": "Generated from rnats's key table (src/conf/keys.rs). Key names are matched case-insensitively by the servers; the schema lists them in lower case.",
    });
    if let (Some(obj), Value::Object(root)) = (schema.as_object_mut(), root) {
        obj.extend(root);
        obj.insert("$defs".into(), Value::Object(gen.defs));
    }
    schema
}

struct Gen {
    defs: JsonMap<String, Value>,
    /// Definition name of each block already generated (by address).
    names: HashMap<usize, String>,
}

impl Gen {
    fn block_schema(&mut self, block: &'static dyn BlockInfo, path: &str) -> Value {
        let mut props = JsonMap::new();
        for k in block.key_infos() {
            let child = if path.is_empty() { k.name.to_string() } else { format!("{path}.{}", k.name) };
            let mut s = self.ty_schema(k.ty, &child);
            if let Some(obj) = s.as_object_mut() {
                obj.insert("description".into(), describe(&k).into());
            }
            for alias in k.aliases {
                let mut a = s.clone();
                if let Some(obj) = a.as_object_mut() {
                    obj.insert("description".into(), format!("Alias of `{}`. {}", k.name, describe(&k)).into());
                }
                props.insert((*alias).to_string(), a);
            }
            props.insert(k.name.to_string(), s);
        }
        json!({ "type": "object", "properties": props, "additionalProperties": false })
    }

    /// A reference to the definition of `block`, generating it on first use.
    fn block_ref(&mut self, block: &'static dyn BlockInfo, path: &str) -> Value {
        let id = block as *const dyn BlockInfo as *const () as usize;
        if let Some(name) = self.names.get(&id) {
            return json!({ "$ref": format!("#/$defs/{name}") });
        }
        let name = path.replace('.', "_");
        self.names.insert(id, name.clone());
        let schema = self.block_schema(block, path);
        self.defs.insert(name.clone(), schema);
        json!({ "$ref": format!("#/$defs/{name}") })
    }

    fn ty_schema(&mut self, ty: &Ty, path: &str) -> Value {
        match ty {
            Ty::Bool => json!({ "type": "boolean" }),
            Ty::Int { min, max } => {
                let mut s = json!({ "type": "integer" });
                if *min > i64::MIN {
                    s["minimum"] = (*min).into();
                }
                if *max < i64::MAX {
                    s["maximum"] = (*max).into();
                }
                s
            }
            Ty::Size { max } => json!({ "type": "integer", "minimum": 0, "maximum": max }),
            Ty::Str => json!({ "type": "string" }),
            Ty::Strings => json!({ "type": ["string", "array"], "items": { "type": "string" } }),
            Ty::StrArray => json!({ "type": "array", "items": { "type": "string" } }),
            Ty::Duration => json!({ "type": ["string", "integer"] }),
            Ty::DurationStr => json!({ "type": "string" }),
            Ty::Seconds => json!({ "type": ["number", "string"] }),
            Ty::Port => json!({ "type": ["integer", "string"], "minimum": -1, "maximum": 65535 }),
            Ty::Listen => json!({ "type": ["integer", "string"] }),
            Ty::OneOf(values) => json!({ "enum": values }),
            Ty::StorageSize => json!({ "type": ["integer", "string"] }),
            Ty::Block(b) => self.block_ref(*b, path),
            Ty::Blocks(b) => json!({ "type": "array", "items": self.block_ref(*b, path) }),
            Ty::MapOf(inner) => json!({ "type": "object", "additionalProperties": self.ty_schema(inner, path) }),
            Ty::Custom(c) => serde_json::from_str(c.schema).unwrap_or_else(|_| json!({})),
        }
    }
}

fn describe(k: &KeyInfo) -> String {
    let support = match k.support() {
        Support::Implemented => String::new(),
        Support::Ignored(why) | Support::Refused(why) => format!(" rnats: {why}."),
    };
    let doc = if k.doc.is_empty() { String::new() } else { format!("{}. ", k.doc) };
    format!("{doc}Type: {}. Reload: {}.{support}", k.ty.describe(), k.reload.describe())
}
