//! `GET`/`POST /admin/keys`, `DELETE /admin/keys/{id}`: the stored API
//! keys, managed over HTTP by an admin (a configured key; the policy
//! refuses everyone else before these run). The same work as
//! `sonica keys add|list|revoke`, for a running server (which holds the
//! store, so the command line cannot).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sonica_schema::api_key::{KeyRecord, Overrides, Tier};
use sonica_schema::quota::Quota;

use crate::pipeline::writer::unix_now_s;
use crate::search::ParamError;
use crate::service::error::ApiError;
use crate::service::keys::{self, KeyError};
use crate::service::routes::{blocking, json_body};
use crate::service::state::AppState;
use crate::SonicaError;

/// Largest body of `POST /admin/keys`.
const MAX_JSON: usize = 16 * 1024;

/// A stored key as lists show it (never the key, nor its hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: u64,
    pub name: String,
    /// free, starter, producer or studio.
    pub tier: String,
    /// Limits of this key's own, replacing its tier's (a number or
    /// `"unlimited"` each).
    #[schema(value_type = Object)]
    pub overrides: Overrides,
    /// Unix seconds.
    pub created_unix: u64,
    /// Unix seconds; absent while the key is usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_unix: Option<u64>,
    /// Counted in the current windows: `requests` (this hour), `analyses`
    /// (this month), `uploads` (today).
    #[schema(value_type = Object)]
    pub used: Map<String, Value>,
}

/// `{"keys": [...]}`, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// The body of `POST /admin/keys` (documentation; read field by field so
/// each mistake gets its own answer).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewKeyBody {
    /// 1–100 characters, no control characters.
    name: String,
    /// free, starter, producer or studio.
    tier: String,
    /// Limits replacing the tier's for this key: `requests_per_hour`,
    /// `analyses_per_month`, `uploads_per_day`, `pattern_results`, each a
    /// whole number or `"unlimited"`.
    #[schema(value_type = Object, required = false)]
    overrides: Overrides,
}

fn param(msg: String) -> ApiError {
    SonicaError::Param(ParamError(msg)).into()
}

fn view(state: &AppState, r: KeyRecord) -> KeyView {
    let now = unix_now_s();
    let used = Quota::ALL
        .into_iter()
        .map(|q| {
            let n = state.guard.quotas().used(r.id, q, now).unwrap_or(0);
            (q.name().to_string(), json!(n))
        })
        .collect();
    KeyView {
        id: r.id,
        name: r.name,
        tier: r.tier.name().into(),
        overrides: r.overrides,
        created_unix: r.created_unix,
        revoked_unix: r.revoked_unix,
        used,
    }
}

#[utoipa::path(get, path = "/admin/keys", tag = "admin",
    responses(
        (status = 200, description = "Every stored key, revoked ones too, by id", body = KeyList),
        (status = 403, description = "`admin_required`: a stored key; only configured keys manage keys", body = crate::service::error::ErrorBody)))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let keys = blocking(move || {
        let all = st.guard.stored_keys().list();
        Ok(all.into_iter().map(|r| view(&st, r)).collect())
    })
    .await?;
    Ok(HttpResponse::Ok().json(KeyList { keys }))
}

/// Reads `{"name", "tier", "overrides"?}`, each mistake named.
fn parse_new_key(v: Value) -> Result<(String, Tier, Overrides), ApiError> {
    let Value::Object(mut o) = v else {
        return Err(ApiError::BadRequest("the JSON body must be an object".into()));
    };
    let name = match o.remove("name") {
        Some(Value::String(s)) => sonica_schema::api_key::check_name(&s).map_err(param)?,
        Some(_) => return Err(param("name must be a string".into())),
        None => return Err(param("name is required".into())),
    };
    let tier = match o.remove("tier") {
        Some(Value::String(s)) => s.parse::<Tier>().map_err(ApiError::UnknownTier)?,
        Some(_) => return Err(param("tier must be a string: free, starter, producer or studio".into())),
        None => return Err(param("tier is required: free, starter, producer or studio".into())),
    };
    let overrides = match o.remove("overrides") {
        None | Some(Value::Null) => Overrides::default(),
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map_err(|e| param(format!("overrides: {e}")))?,
        Some(_) => return Err(param("overrides must be an object".into())),
    };
    if let Some(field) = o.keys().next() {
        let shown: String = field.chars().take(40).collect();
        return Err(param(format!(
            "unknown field {shown:?}; the body has name, tier and overrides"
        )));
    }
    Ok((name, tier, overrides))
}

#[utoipa::path(post, path = "/admin/keys", tag = "admin",
    request_body = NewKeyBody,
    responses(
        (status = 201, description = "The new key: `key` is shown this once (only its sha256 is stored), with `id`, `name`, `tier`, `overrides`, `created_unix`", body = Object),
        (status = 400, description = "`bad_request` (malformed JSON), `invalid_parameter` (a missing or bad name, tier or override, an unknown field) or `unknown_tier`", body = crate::service::error::ErrorBody),
        (status = 403, description = "`admin_required`: a stored key; only configured keys manage keys", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: over 16 KiB", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_content_type`: not `application/json`", body = crate::service::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (name, tier, overrides) = parse_new_key(json_body(&req, payload, MAX_JSON, "{\"name\", \"tier\"}").await?)?;
    let st = state.clone();
    let (secret, r) = blocking(move || {
        keys::create(st.guard.stored_keys(), &name, tier, overrides, unix_now_s()).map_err(|e| match e {
            KeyError::Name(m) => param(m),
            KeyError::Index(i) => ApiError::Index(i),
            KeyError::Random(m) => ApiError::Internal(m),
        })
    })
    .await?;
    tracing::info!(id = r.id, tier = %r.tier, "API key added");
    Ok(HttpResponse::Created().json(json!({
        "key": secret,
        "id": r.id,
        "name": r.name,
        "tier": r.tier,
        "overrides": r.overrides,
        "created_unix": r.created_unix,
    })))
}

#[utoipa::path(delete, path = "/admin/keys/{id}", tag = "admin",
    params(("id" = u64, Path, minimum = 1, description = "Key id")),
    responses(
        (status = 200, description = "Revoked (again: unchanged): `{\"id\", \"revoked_unix\"}`; the key is refused from now on and its counters are gone", body = Object),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 403, description = "`admin_required`: a stored key; only configured keys manage keys", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_key`", body = crate::service::error::ErrorBody)))]
pub async fn revoke(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let id = raw.parse::<u64>().ok().filter(|&id| id > 0).ok_or_else(|| {
        let shown: String = raw.chars().take(40).collect();
        ApiError::BadRequest(format!("key id must be a positive integer, not {shown:?}"))
    })?;
    let st = state.clone();
    let r = blocking(move || {
        st.guard
            .stored_keys()
            .revoke(id, unix_now_s())?
            .ok_or(ApiError::UnknownKey(id))
    })
    .await?;
    tracing::info!(id, "API key revoked");
    Ok(HttpResponse::Ok().json(json!({"id": r.id, "revoked_unix": r.revoked_unix})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::api_key::Limit;

    fn code(r: Result<(String, Tier, Overrides), ApiError>) -> &'static str {
        r.err().map(|e| e.code().as_str()).unwrap_or("ok")
    }

    #[test]
    fn each_mistake_in_a_new_key_is_named() {
        let ok = parse_new_key(json!({"name": "ci", "tier": "producer", "overrides": {"uploads_per_day": 5}})).unwrap();
        assert_eq!((ok.0.as_str(), ok.1), ("ci", Tier::Producer));
        assert_eq!(ok.2.uploads_per_day, Some(Limit::Finite(5)));
        assert_eq!(code(parse_new_key(json!(["ci", "free"]))), "bad_request");
        assert_eq!(code(parse_new_key(json!({"tier": "free"}))), "invalid_parameter");
        assert_eq!(
            code(parse_new_key(json!({"name": 5, "tier": "free"}))),
            "invalid_parameter"
        );
        assert_eq!(
            code(parse_new_key(json!({"name": "x".repeat(101), "tier": "free"}))),
            "invalid_parameter"
        );
        assert_eq!(
            code(parse_new_key(json!({"name": "ci", "tier": "gold"}))),
            "unknown_tier"
        );
        assert_eq!(code(parse_new_key(json!({"name": "ci"}))), "invalid_parameter");
        assert_eq!(
            code(parse_new_key(
                json!({"name": "ci", "tier": "free", "overrides": {"requests_per_hour": -1}})
            )),
            "invalid_parameter"
        );
        assert_eq!(
            code(parse_new_key(json!({"name": "ci", "tier": "free", "admin": true}))),
            "invalid_parameter"
        );
    }
}
