//! The OpenAPI document of the whole public surface: the gateway's own routes plus every engine
//! route as the gateway forwards it (`/api/v1/engines/{engine_id}/…`). Served at
//! `/api/openapi.json`, printed by `flowork openapi`, committed as `openapi.json` at the root.
//!
//! The engine half comes from the engine's committed document (`services/scheduler/openapi.json`,
//! itself checked against the engine's code by a test), so the gateway need not link the engine
//! to describe it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

const ENGINE_DOC: &str = include_str!("../../scheduler/openapi.json");

/// Engine tags that would mean something else next to the gateway's.
const RENAMED_TAGS: &[(&str, &str)] = &[("webhooks", "webhook-triggers")];

static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// The merged document (built once).
pub fn openapi_document() -> &'static Value {
    &DOCUMENT
}

fn build() -> Value {
    let mut doc = serde_json::to_value(crate::api::openapi()).unwrap_or_else(|_| json!({}));
    doc["info"]["title"] = json!("Flowork API");
    doc["info"]["description"] = json!(
        "The gateway's own routes (auth, users, API keys, engines, webhooks) and each engine's \
         API, forwarded over EngineLink under /api/v1/engines/{engine_id}/. Send \
         `Authorization: Bearer <access token or API key>` on every call but login, refresh and \
         webhooks."
    );
    let engine: Value = serde_json::from_str(ENGINE_DOC).unwrap_or_else(|_| json!({}));
    merge_engine(&mut doc, engine);
    unique_operation_ids(&mut doc);
    doc
}

fn rename_tag(tag: &str) -> String {
    RENAMED_TAGS
        .iter()
        .find(|(from, _)| *from == tag)
        .map_or(tag, |(_, to)| to)
        .to_owned()
}

/// Adds the engine's `/api/v1/...` routes under the engine prefix, each with the `engine_id`
/// parameter and bearer auth; its schemas and tags join the gateway's.
fn merge_engine(doc: &mut Value, engine: Value) {
    let engine_id = json!({
        "name": "engine_id", "in": "path", "required": true,
        "description": "Engine id (eng_...)", "schema": {"type": "string"}
    });
    let mut paths = Map::new();
    for (path, mut item) in engine["paths"].as_object().cloned().unwrap_or_default() {
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            continue; // the engine's own /webhook and /api/openapi.json: the gateway has its own
        };
        if let Some(ops) = item.as_object_mut() {
            for op in ops.values_mut().filter(|op| op.is_object()) {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                op["parameters"] = Value::Array([vec![engine_id.clone()], params].concat());
                op["security"] = json!([{"bearer": []}]);
                if let Some(tags) = op["tags"].as_array_mut() {
                    for tag in tags.iter_mut() {
                        *tag = json!(rename_tag(tag.as_str().unwrap_or_default()));
                    }
                }
                op["responses"]["503"] =
                    json!({"description": "The engine is offline or busy (Retry-After)"});
            }
        }
        paths.insert(format!("/api/v1/engines/{{engine_id}}/{rest}"), item);
    }
    if let Some(all) = doc["paths"].as_object_mut() {
        all.extend(paths);
    }
    let schemas = engine["components"]["schemas"].as_object().cloned();
    if let (Some(all), Some(schemas)) = (doc["components"]["schemas"].as_object_mut(), schemas) {
        for (name, schema) in schemas {
            all.entry(name).or_insert(schema);
        }
    }
    let tags = engine["tags"].as_array().cloned().unwrap_or_default();
    if let Some(all) = doc["tags"].as_array_mut() {
        for mut tag in tags {
            tag["name"] = json!(rename_tag(tag["name"].as_str().unwrap_or_default()));
            tag["description"] = json!(format!(
                "{} (engine API, through the gateway)",
                tag["description"].as_str().unwrap_or_default()
            ));
            all.push(tag);
        }
    }
}

/// Handler names repeat across resources (`create`, `list`); clients need unique operation ids,
/// so each becomes `<tag>_<name>` (plus a number if that still repeats).
fn unique_operation_ids(doc: &mut Value) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut().filter(|op| op.is_object()) {
            let tag = op["tags"][0].as_str().unwrap_or("api").replace('-', "_");
            let name = op["operationId"].as_str().unwrap_or("op").to_owned();
            let mut id = format!("{tag}_{name}");
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                id = format!("{id}_{n}");
            }
            op["operationId"] = json!(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_routes_are_nested_unique_and_authenticated() {
        let doc = openapi_document();
        let paths = doc["paths"].as_object().expect("paths");
        let run = &paths["/api/v1/engines/{engine_id}/workflows/{id}/run"]["post"];
        assert_eq!(run["parameters"][0]["name"], "engine_id");
        assert_eq!(run["security"], json!([{"bearer": []}]));
        assert!(paths.contains_key("/api/v1/auth/login"));
        assert!(!paths.keys().any(|p| p.starts_with("/webhook/{path}")));
        let mut ids: Vec<_> = paths
            .values()
            .flat_map(|i| i.as_object().into_iter().flat_map(|o| o.values()))
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids are unique");
        assert!(doc["components"]["schemas"]["ExecutionView"].is_object());
    }
}
