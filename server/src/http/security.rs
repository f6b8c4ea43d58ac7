//! Security headers on every response (DESIGN §4), with a per-request nonce that the
//! dashboard's few inline scripts (Leptos hydration) carry and nothing else can.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use weir_app::CspNonce;

pub async fn headers(mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = STANDARD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let is_api = req.uri().path().starts_with("/api/");

    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    set(h, header::CONTENT_SECURITY_POLICY, &csp);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on
    // form posts, which the cross-site check could not tell from a forged request.
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if is_api && !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    response
}

fn set(headers: &mut axum::http::HeaderMap, name: HeaderName, value: &str) {
    headers.insert(
        name,
        HeaderValue::from_str(value).expect("BUG: header values are ASCII"),
    );
}
