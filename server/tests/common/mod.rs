//! Helpers shared by the server's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;
use weir_api::system::DatabaseMode;
use weir_domain::system::RuntimeFacts;
use weir_server::http::{AppState, app};

pub fn test_app(pool: PgPool) -> Router {
    let runtime = RuntimeFacts {
        started_at: chrono::Utc::now(),
        database_mode: DatabaseMode::External,
    };
    let site = std::env::temp_dir().join("weir-test-site-absent");
    app(AppState::new(
        pool,
        runtime,
        &site,
        SocketAddr::from(([127, 0, 0, 1], 0)),
    ))
}

pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res: Response<Body> = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).expect("request")).await
}
