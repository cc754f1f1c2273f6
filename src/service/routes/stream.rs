//! `GET /ws/stream`: recognition over a WebSocket.
//!
//! The client sends either one binary frame holding a whole audio file, or
//! a JSON text header (`{"format": "pcm_s16le", "sample_rate", "channels"}`)
//! followed by raw PCM in binary frames of any size. The server answers
//! `{"match", "confidence", "offset_s", "stream_s", "final"}` as soon as it
//! is confident, again whenever the answer changes, and a last time
//! (`"final": true`) when the client sends `{"event": "end"}` or closes.
//!
//! In a stream answer, `match.offset_s` is where the stream's first sample
//! falls in the track and the top-level `offset_s` is where the latest
//! sample falls ("now" in the track).
//!
//! Bounds: a PCM frame holds at most [`MAX_PCM_FRAME`] bytes; a stream at
//! most `max_stream_s` seconds; a connection silent for `ws_idle_s` is
//! closed; PCM conversion and resampling run on the blocking pool, never on
//! the HTTP worker; one recognition runs at a time per connection, and each
//! takes a unit of the client's rate limit (an attempt without one is
//! skipped).

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};

use crate::answer::{round3, MatchView};
use crate::decode::DecodeError;
use crate::service::auth::client_ip;
use crate::service::error::ApiError;
use crate::service::recognition::{recognize_file, recognize_pcm};
use crate::service::routes::blocking;
use crate::service::state::AppState;
use crate::service::stream::{parse_header, PcmStream};
use crate::SonicaError;

#[utoipa::path(get, path = "/ws/stream", tag = "recognition",
    params(
        ("Upgrade" = String, Header, pattern = "^websocket$", description = "`websocket`"),
        ("Connection" = String, Header, pattern = "^Upgrade$", description = "`Upgrade`"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$", description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header, pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$", description = "16 random bytes, base64")),
    responses((status = 101, description = "WebSocket upgrade; see the module docs for the protocol"),
        (status = 400, description = "`bad_request`: not a WebSocket handshake", body = crate::service::error::ErrorBody)))]
pub async fn stream(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (resp, session, msgs) =
        actix_ws::handle(&req, body).map_err(|e| ApiError::BadRequest(format!("not a WebSocket handshake: {e}")))?;
    let limit = state.config.max_upload_bytes as usize;
    let msgs = msgs
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    let ip = client_ip(&req);
    actix_web::rt::spawn(run(state.into_inner(), session, msgs, ip));
    Ok(resp)
}

/// Largest binary frame of a PCM stream: about 2.7 s of 8-channel 48 kHz
/// float audio. Clients send a few hundred milliseconds at a time.
pub const MAX_PCM_FRAME: usize = 4 * 1024 * 1024;

/// Feeds a frame to the stream on the blocking pool (conversion and
/// resampling are CPU work), handing the stream back.
async fn feed(p: PcmStream, bytes: actix_web::web::Bytes) -> Result<PcmStream, ApiError> {
    let (p, r) = web::block(move || {
        let mut p = p;
        let r = p.push(&bytes);
        (p, r)
    })
    .await
    .map_err(|_| ApiError::Internal("a blocking task was cancelled".into()))?;
    r.map(|()| p).map_err(ApiError::BadRequest)
}

/// What has been told to the client, to send only changes.
#[derive(Default)]
struct Told {
    /// The last answer sent, repeated as the final one when no audio came
    /// after it.
    last_frame: Option<serde_json::Value>,
    last: Option<u32>,
    misses: u32,
}

async fn run(state: Arc<AppState>, mut session: Session, mut msgs: AggregatedMessageStream, ip: IpAddr) {
    let mut pcm: Option<PcmStream> = None;
    let mut told = Told::default();
    let idle = Duration::from_secs_f64(state.config.ws_idle_s);
    loop {
        let msg = match actix_web::rt::time::timeout(idle, msgs.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => {
                let secs = state.config.ws_idle_s;
                fail(
                    session,
                    ApiError::BadRequest(format!("no frame for {secs} s; the stream is closed as idle")),
                )
                .await;
                return;
            }
        };
        match msg {
            Err(e) => {
                fail(session, ApiError::BadRequest(format!("WebSocket protocol error: {e}"))).await;
                return;
            }
            Ok(AggregatedMessage::Text(t)) => {
                if pcm.is_some() {
                    if is_end(&t) {
                        break;
                    }
                    fail(
                        session,
                        ApiError::BadRequest("expected PCM binary frames or {\"event\": \"end\"}".into()),
                    )
                    .await;
                    return;
                }
                match parse_header(&t).and_then(PcmStream::new) {
                    Ok(p) => pcm = Some(p),
                    Err(m) => {
                        fail(session, ApiError::BadRequest(m)).await;
                        return;
                    }
                }
            }
            Ok(AggregatedMessage::Binary(bytes)) => match pcm.take() {
                None => {
                    whole_file(state, session, bytes).await;
                    return;
                }
                Some(p) => {
                    if bytes.len() > MAX_PCM_FRAME {
                        let m = format!("a PCM frame holds at most {MAX_PCM_FRAME} bytes; send smaller frames");
                        fail(session, ApiError::TooLargeFrame(m)).await;
                        return;
                    }
                    let mut p = match feed(p, bytes).await {
                        Ok(p) => p,
                        Err(e) => {
                            fail(session, e).await;
                            return;
                        }
                    };
                    if p.received_s() > state.config.max_stream_s {
                        fail(
                            session,
                            SonicaError::from(DecodeError::TooLong {
                                max_s: state.config.max_stream_s,
                            })
                            .into(),
                        )
                        .await;
                        return;
                    }
                    if p.due()
                        && attempt(&state, &mut p, &mut told, &mut session, false, ip)
                            .await
                            .is_err()
                    {
                        return;
                    }
                    pcm = Some(p);
                }
            },
            Ok(AggregatedMessage::Ping(b)) => {
                if session.pong(&b).await.is_err() {
                    return;
                }
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => break,
        }
    }
    if let Some(mut p) = pcm {
        if p.finish().is_ok()
            && (p.has_untried() || told.last_frame.is_none())
            && p.received_s() >= crate::pipeline::MIN_DURATION_S
        {
            let _ = attempt(&state, &mut p, &mut told, &mut session, true, ip).await;
        } else if let Some(mut f) = told.last_frame.take() {
            f["final"] = serde_json::Value::Bool(true);
            let _ = send(&mut session, &f).await;
        }
    }
    let _ = session.close(None).await;
}

fn is_end(t: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(t)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(|e| e == "end"))
        .unwrap_or(false)
}

/// Identifies the latest window and tells the client if the answer changed
/// (or always, for the final answer).
async fn attempt(
    state: &Arc<AppState>,
    p: &mut PcmStream,
    told: &mut Told,
    session: &mut Session,
    last: bool,
    ip: IpAddr,
) -> Result<(), ()> {
    let (window, start_s) = p.take_window();
    let received = p.received_s();
    // Each attempt is a recognition's work: it takes a unit of the
    // client's allowance, and is skipped (the stream goes on) without one.
    if state.guard.limit_client(ip).is_err() {
        tracing::debug!(%ip, "stream attempt skipped: rate limit");
        if last {
            if let Some(mut f) = told.last_frame.take() {
                f["final"] = serde_json::Value::Bool(true);
                return send(session, &f).await;
            }
        }
        return Ok(());
    }
    let Ok(_turn) = state.recognizers.acquire().await else {
        return Err(());
    };
    let st = state.clone();
    let result = blocking(move || recognize_pcm(&st, &window)).await;
    let matched = match result {
        Ok(m) => m,
        Err(e) if !last => {
            tracing::debug!(error = %e, "stream window not identifiable yet");
            return Ok(());
        }
        Err(_) => None,
    };
    let id = matched.as_ref().map(|m| m.id);
    let changed = match (id, told.last) {
        (Some(a), Some(b)) => a != b,
        (Some(_), None) => true,
        (None, Some(_)) => {
            told.misses += 1;
            told.misses >= 2
        }
        (None, None) => false,
    };
    if id.is_some() {
        told.misses = 0;
    }
    if !(changed || last) {
        return Ok(());
    }
    told.last = id;
    let msg = answer(matched.map(|m| to_stream_frame(m, start_s)), received, last);
    let sent = send(session, &msg).await;
    told.last_frame = Some(msg);
    sent
}

/// Re-anchors a window's match on the stream's start.
fn to_stream_frame(mut m: MatchView, window_start_s: f64) -> MatchView {
    m.offset_s = round3(m.offset_s - window_start_s);
    m
}

fn answer(m: Option<MatchView>, received_s: f64, last: bool) -> serde_json::Value {
    let now = m.as_ref().map(|m| round3(m.offset_s + received_s));
    serde_json::json!({
        "confidence": m.as_ref().map(|m| m.confidence),
        "offset_s": now,
        "match": m,
        "stream_s": round3(received_s),
        "final": last,
    })
}

async fn send(session: &mut Session, v: &serde_json::Value) -> Result<(), ()> {
    session.text(v.to_string()).await.map_err(|_| ())
}

async fn whole_file(state: Arc<AppState>, mut session: Session, bytes: actix_web::web::Bytes) {
    let Ok(_turn) = state.recognizers.acquire().await else {
        return;
    };
    let st = state.clone();
    let result = blocking(move || {
        let mut tmp = tempfile::Builder::new()
            .prefix(".stream-")
            .tempfile_in(&st.tmp_dir)
            .map_err(|e| ApiError::Internal(format!("cannot create a temporary file: {e}")))?;
        tmp.write_all(&bytes)
            .and_then(|_| tmp.flush())
            .map_err(|e| ApiError::Internal(format!("cannot write a temporary file: {e}")))?;
        recognize_file(&st, tmp.path())
    })
    .await;
    match result {
        Ok(m) => {
            let v = answer_file(m);
            let _ = send(&mut session, &v).await;
            let _ = session.close(None).await;
        }
        Err(e) => fail(session, e).await,
    }
}

fn answer_file(m: Option<MatchView>) -> serde_json::Value {
    serde_json::json!({
        "confidence": m.as_ref().map(|m| m.confidence),
        "offset_s": m.as_ref().map(|m| m.offset_s),
        "match": m,
        "final": true,
    })
}

/// Sends the error body as a text frame, then closes with a matching code.
async fn fail(mut session: Session, e: ApiError) {
    let _ = session.text(e.body().to_string()).await;
    let code = if e.code() == crate::ErrorCode::Internal {
        CloseCode::Error
    } else {
        CloseCode::Policy
    };
    let _ = session
        .close(Some(CloseReason {
            code,
            description: Some(e.code().as_str().to_string()),
        }))
        .await;
}
