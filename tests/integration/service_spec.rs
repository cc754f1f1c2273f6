//! The API against its own document (/openapi.json), on a real server:
//! what benches/api-fuzz.sh checks with schemathesis, in the few cases
//! that matter most, so CI keeps them without a fuzzer.

use serde_json::Value;

use crate::server::Server;

/// Status and `Allow` header of a request with any method.
fn call(srv: &Server, method: &str, path: &str) -> (u16, Option<String>, Value) {
    let r = match ureq::request(method, &srv.url(path)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = r.status();
    let allow = r.header("allow").map(str::to_string);
    let body = serde_json::from_str(&r.into_string().unwrap_or_default()).unwrap_or(Value::Null);
    (status, allow, body)
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    for (method, path, allow) in [
        ("PUT", "/tracks/1", "GET, DELETE"),
        ("TRACE", "/health", "GET"),
        ("DELETE", "/songs", "GET"),
        ("GET", "/recognize", "POST"),
        ("PATCH", "/search", "GET, POST"),
        ("OPTIONS", "/openapi.json", "GET"),
    ] {
        let (status, got, body) = call(&srv, method, path);
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}: Allow");
        assert_eq!(body["error"]["code"], "method_not_allowed", "{method} {path}");
    }
}

#[test]
fn out_of_range_parameters_are_400_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    for (path, code) in [
        ("/songs?limit=-1", "bad_request"),
        ("/songs?limit=0", "bad_request"),
        ("/songs?limit=1001", "bad_request"),
        ("/songs?offset=-1", "bad_request"),
        ("/songs?offset=4294967296", "bad_request"),
        ("/songs?limit=abc", "bad_request"),
        ("/search?q=a&limit=-1", "invalid_parameter"),
        ("/search?q=a&limit=0", "invalid_parameter"),
        ("/search?q=a&limit=1001", "invalid_parameter"),
        ("/search?q=a&offset=-1", "invalid_parameter"),
        ("/search?q=a&offset=100001", "invalid_parameter"),
        ("/search?tempo_min=-1", "invalid_parameter"),
        ("/search?tempo_max=1000.5", "invalid_parameter"),
        ("/search?key=H%20minor", "invalid_parameter"),
        ("/tracks/1/similar?top_k=0", "invalid_parameter"),
        ("/tracks/1/similar?top_k=1001", "invalid_parameter"),
        ("/tracks/1/similar?min_similarity=1.5", "invalid_parameter"),
        ("/tracks/1/pattern.mid?start_s=-1", "invalid_parameter"),
        ("/tracks/0", "bad_request"),
        ("/tracks/-1", "bad_request"),
        ("/tracks/4294967296", "bad_request"),
    ] {
        let r = srv.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.json["error"]["code"], code, "{path}: {}", r.text);
        assert!(r.json["error"]["message"].is_string(), "{path}");
    }
    // Inside the documented ranges, the same parameters are accepted.
    for path in [
        "/songs?limit=1000&offset=4294967295",
        "/search?q=a&limit=1000&offset=100000",
    ] {
        assert_eq!(srv.get(path).status, 200, "{path}");
    }
}

#[test]
fn the_document_matches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let doc = srv.get("/openapi.json").json;
    let paths = doc["paths"].as_object().expect("paths");
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('4')),
                "{method} {path} documents no 4xx: {:?}",
                responses.keys().collect::<Vec<_>>()
            );
            // The guard answers 401 before any handler.
            assert!(responses.contains_key("401"), "{method} {path}: 401");
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "{method} {path}: operationId"
            );
            for p in op["parameters"].as_array().into_iter().flatten() {
                let schema = &p["schema"];
                assert!(
                    !schema["type"]
                        .as_array()
                        .is_some_and(|t| t.contains(&Value::from("null"))),
                    "{method} {path}: parameter {} is nullable",
                    p["name"]
                );
                // Only the path's own placeholders are path parameters.
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{}}}", p["name"].as_str().unwrap())),
                        "{method} {path}: {p}"
                    );
                }
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for media in content.keys() {
                    assert!(
                        media == "multipart/form-data" || media == "application/json",
                        "{method} {path}: media type {media:?}"
                    );
                }
            }
        }
    }
    for path in ["/search", "/search/similar"] {
        let content = doc["paths"][path]["post"]["requestBody"]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("POST {path} has no request body"));
        let mut media: Vec<&str> = content.keys().map(String::as_str).collect();
        media.sort();
        assert_eq!(media, ["application/json", "multipart/form-data"], "POST {path}");
        for m in media {
            assert!(content[m]["schema"].is_object(), "POST {path} {m} has no schema");
        }
    }
    // Ranges the handlers enforce.
    let songs = &doc["paths"]["/songs"]["get"]["parameters"];
    let limit = songs.as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(
        (limit["in"].as_str(), limit["schema"]["minimum"].as_f64()),
        (Some("query"), Some(1.0))
    );
    assert_eq!(limit["schema"]["maximum"].as_f64(), Some(1000.0));
    let id = &doc["paths"]["/tracks/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!(id["minimum"].as_f64(), Some(1.0));
    // Rate-limited routes say so; routes that change the library document
    // the origin check.
    let tracks = &doc["paths"]["/tracks"]["post"]["responses"];
    assert!(tracks.get("429").is_some() && tracks.get("403").is_some());
    assert!(doc["paths"]["/tracks/{id}"]["delete"]["responses"].get("403").is_some());
    // Reads take no unit of the per-client limit; only a stored key's
    // quota can refuse them.
    let songs_429 = doc["paths"]["/songs"]["get"]["responses"]["429"]["description"]
        .as_str()
        .unwrap_or("");
    assert!(
        !songs_429.contains("rate_limited") && songs_429.contains("quota_requests_per_hour"),
        "{songs_429}"
    );
}
