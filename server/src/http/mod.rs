//! The HTTP application: REST API, dashboard pages and static assets behind one stack
//! of middleware (request ids, security headers, body limits, graceful shutdown).

pub mod auth;
pub mod error;
pub mod events;
pub mod extract;
mod forms;
mod request_id;
mod security;
pub mod state;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use state::AppState;

/// Largest request body any endpoint accepts (artifact uploads go to the artifact store,
/// not through JSON bodies).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The dashboard's routes, found once per process. Finding them renders the app with
/// resource loading suppressed through a process-wide flag (leptos_server's
/// `SuppressResourceLoad`): a resource first polled by another request during that
/// window never resolves and its page hangs (leptos-rs/leptos#4773). Building several
/// apps in one process, as the tests do, must therefore not find them again.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: LazyLock<Vec<AxumRouteListing>> =
        LazyLock::new(|| generate_route_list(weir_app::App));
    ROUTES.clone()
}

/// Builds the whole application for `state`. Tests call it with `oneshot`; `serve`
/// binds it to a socket.
pub fn app(state: AppState) -> Router {
    let page_context = {
        let state = state.clone();
        move || {
            provide_context(state.db.clone());
            provide_context(state.runtime.clone());
            provide_context(state.keyring.clone());
            provide_context(weir_app::runs::SsrGraphs::default());
        }
    };
    let shell = {
        let options = state.leptos.clone();
        move || weir_app::shell(options.clone())
    };
    // Pages and the dashboard's server functions travel gzipped to browsers that accept
    // it: a page with a graph of thousands of steps is megabytes of repetitive SVG (1.7 MB
    // become 145 KB). The front end's wasm is not compressed on every request (it would
    // cost more than it saves on loopback and in tests); the REST API (downloads, event
    // streams) is left as it is.
    use tower_http::compression::Predicate as _;
    let compress = tower_http::compression::predicate::DefaultPredicate::new()
        .and(tower_http::compression::predicate::NotForContentType::const_new("application/wasm"));
    let pages = Router::<AppState>::new()
        .leptos_routes_with_context(&state, page_routes(), page_context.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, weir_app::shell))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(compress),
        );

    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(auth::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));

    crate::api::router()
        .merge(forms::router())
        .merge(pages.layer(middleware::from_fn_with_state(
            state.clone(),
            forms::require_sign_in_for_pages,
        )))
        .layer(sessions)
        .layer(middleware::from_fn(auth::same_origin_for_changes))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn(request_id::trace_request))
        .with_state(state)
}
