//! `GET /openapi.json` describes exactly the routes the server has: every `.route(..)` in
//! the server's source is in the description with its method, every path in the
//! description is a route, and the real server answers each parameterless GET with 200
//! and unknown paths with the API's JSON 404.

use std::collections::BTreeSet;

use crate::support::Serve;

/// The `.rs` files under `dir`, subfolders included.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// (METHOD, path) of every `.route("<path>", get(..).post(..))` under `host/src/server/`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server");
    let mut routes = BTreeSet::new();
    for path in rust_files(&dir) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(index) = rest.find(".route(\"") {
            rest = &rest[index + ".route(\"".len()..];
            let (route, after) = rest.split_once('"').unwrap();
            let call = &after[..after.find("))").map_or(after.len(), |end| end + 2)];
            for method in ["get", "post", "put", "delete", "patch"] {
                if call.contains(&format!("{method}(")) {
                    routes.insert((method.to_ascii_uppercase(), route.to_string()));
                }
            }
        }
    }
    routes
}

fn routes_in_description(description: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, operations) in description["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            routes.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_description_lists_exactly_the_servers_routes() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let (status, body) = serve.get("/openapi.json");
    assert_eq!(status, 200);
    let description: serde_json::Value = serde_json::from_str(&body).expect("the description is JSON");
    assert_eq!(description["openapi"], "3.1.0");

    let in_source = routes_in_source();
    assert!(in_source.contains(&("POST".to_string(), "/loads".to_string())), "source scan found {in_source:?}");
    assert_eq!(routes_in_description(&description), in_source, "described routes != routes in host/src/server");

    assert!(in_source.contains(&("GET".to_string(), "/events".to_string())), "subfolders are scanned");
    for (method, path) in &in_source {
        let needs_query = description["paths"][path]["get"]["parameters"].as_array().is_some_and(|parameters| {
            parameters.iter().any(|parameter| parameter["in"] == "query" && parameter["required"] == true)
        });
        // `/events` never ends a response (tests/all/console.rs reads it).
        if method == "GET" && !path.contains('{') && !needs_query && path != "/events" {
            let (status, body) = serve.get(path);
            assert_eq!(status, 200, "GET {path}: {body}");
        }
    }
    // A parameterised route answers (not the fallback's 404 for an unknown route).
    let (status, body) = serve.get("/calendars/XNYS/status");
    assert_eq!(status, 200, "{body}");
    let (status, body) = serve.get("/no/such/route");
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(error["error"].is_string(), "{body}");
    serve.stop();
}
