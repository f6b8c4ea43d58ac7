//! The REST API: one router per feature, merged here, with the OpenAPI document
//! generated from the handlers' annotations.

pub mod identity;
pub mod models;
pub mod pipelines;
pub mod runs;
pub mod secrets;
pub mod stacks;
pub mod system;
pub mod teams;

use axum::Router;
use axum::routing::any;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;
use crate::http::error::{api_method_not_allowed, api_not_found};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Weir",
        description = "REST API of Weir, an MLOps control plane: pipelines, runs, artifacts, \
                       models and stacks. Lists use keyset pagination (`limit`, `cursor` → \
                       `next_cursor`); every error has the shape `{\"error\": {code, message, \
                       fields?, request_id?}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "system", description = "Liveness, readiness, version and schema of the server."),
        (name = "identity", description = "First-start setup, sign-in, users and API keys."),
        (name = "teams", description = "Teams, members and roles, invitation links."),
        (name = "stacks", description = "Flavors, stack components, stacks, sharing and the active stack."),
        (name = "secrets", description = "The secrets vault: values are never listed; reveal is audited."),
        (name = "pipelines", description = "Pipeline specs and their immutable snapshots."),
        (name = "runs", description = "Runs, their steps, logs and metadata; stopping a run."),
        (name = "run protocol", description = "What a run's driver and step runtimes call with the run token."),
        (name = "artifacts", description = "Artifacts, versions and lineage."),
        (name = "models", description = "The model registry: models, versions, stages, aliases, promotion and comparison."),
    ),
    modifiers(&SecuritySchemes),
    security(("api_key" = []), ("session" = [])),
    components(schemas(weir_api::ErrorResponse, weir_api::ErrorBody, weir_api::ErrorCode, weir_api::FieldError)),
)]
struct ApiDoc;

/// Routes anyone may call without credentials; every other /api/v1 route answers 401.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/setup"),
    ("post", "/api/v1/sessions"),
    ("post", "/api/v1/invitations/preview"),
    ("post", "/api/v1/invitations/register"),
];

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer weir_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "run_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A run's token from `POST /api/v1/runs`: `Authorization: Bearer wrt_…`; \
                         valid for that run's protocol endpoints until the run ends",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "weir_session",
                "The dashboard's session cookie; changes must come from the dashboard's own pages",
            ))),
        );
        // Public routes need no credentials.
        for (method, path) in PUBLIC_ROUTES {
            if let Some(item) = doc.paths.paths.get_mut(*path) {
                let op = match *method {
                    "get" => item.get.as_mut(),
                    "post" => item.post.as_mut(),
                    _ => None,
                };
                if let Some(op) = op {
                    op.security = Some(vec![
                        utoipa::openapi::security::SecurityRequirement::default(),
                    ]);
                }
            }
        }
    }
}

/// Every documented route, with its OpenAPI description.
fn documented() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(system::v1_router())
        .merge(identity::router())
        .merge(teams::router())
        .merge(stacks::router())
        .merge(secrets::router())
        .merge(pipelines::router())
        .merge(runs::router())
        .merge(models::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::root_router())
        .nest("/api/v1", v1)
}

/// The OpenAPI 3.1 document of this build.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented().split_for_parts().1;
    doc.info.version = weir_api::VERSION.to_string();
    doc
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut text = openapi()
        .to_pretty_json()
        .expect("BUG: the OpenAPI document serializes");
    text.push('\n');
    text
}

/// The REST routes, plus JSON answers for unknown paths and methods under /api/v1.
pub fn router() -> Router<AppState> {
    let (routes, _) = documented().split_for_parts();
    routes
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(system::openapi_document),
        )
        .route("/api/v1", any(api_not_found))
        .route("/api/v1/", any(api_not_found))
        .route("/api/v1/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(api_method_not_allowed)
}
