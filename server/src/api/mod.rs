//! The REST API: one router per feature, merged here, with the OpenAPI document
//! generated from the handlers' annotations.

pub mod system;

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
    ),
    components(schemas(weir_api::ErrorResponse, weir_api::ErrorBody, weir_api::ErrorCode, weir_api::FieldError)),
)]
struct ApiDoc;

/// Every documented route, with its OpenAPI description.
fn documented() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new().merge(system::v1_router());
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
