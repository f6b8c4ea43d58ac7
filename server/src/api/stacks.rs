//! `/api/v1/flavors`, `/api/v1/components`, `/api/v1/stacks` and
//! `/api/v1/active-stack`: registering components against flavor schemas, composing
//! stacks, sharing them with teams, and choosing the stack one's runs go to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use weir_api::pagination::{Page, PageQuery};
use weir_api::stacks::{
    Component, ComponentFilter, ComponentType, CopyStackRequest, CreateComponentRequest,
    CreateFlavorRequest, CreateStackRequest, Flavor, FlavorFilter, SetActiveStackRequest,
    ShareRequest, Stack, StackFilter, UpdateComponentRequest, UpdateStackRequest,
};
use weir_domain::stacks;

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{AppJson, AppQuery};

type E = weir_api::ErrorResponse;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flavors, create_flavor))
        .routes(routes!(get_flavor, delete_flavor))
        .routes(routes!(list_components, create_component))
        .routes(routes!(get_component, update_component, delete_component))
        .routes(routes!(share_component))
        .routes(routes!(list_stacks, create_stack))
        .routes(routes!(get_stack, update_stack, delete_stack))
        .routes(routes!(copy_stack))
        .routes(routes!(share_stack))
        .routes(routes!(get_active_stack, set_active_stack))
}

fn component_type(text: &str) -> ApiResult<ComponentType> {
    ComponentType::parse(text).ok_or_else(|| ApiError::field("type", "unknown component type"))
}

/// Flavors, by component type and name.
#[utoipa::path(get, path = "/flavors", tag = "stacks", params(FlavorFilter, PageQuery),
    responses((status = 200, body = Page<Flavor>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_flavors(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<FlavorFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Flavor>>> {
    Ok(AppJson(
        stacks::list_flavors(&state.db, &p, &filter, &q).await?,
    ))
}

/// Registers a custom flavor: a component type, a name and a configuration schema.
#[utoipa::path(post, path = "/flavors", tag = "stacks", request_body = CreateFlavorRequest,
    responses((status = 201, body = Flavor), (status = 401, body = E), (status = 409, body = E),
              (status = 422, description = "The schema uses what forms cannot show", body = E)))]
pub async fn create_flavor(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateFlavorRequest>,
) -> ApiResult<(StatusCode, AppJson<Flavor>)> {
    let flavor = stacks::create_flavor(&state.db, &p, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(flavor)))
}

/// One flavor with its configuration schema.
#[utoipa::path(get, path = "/flavors/{type}/{name}", tag = "stacks",
    params(("type" = ComponentType, Path), ("name" = String, Path)),
    responses((status = 200, body = Flavor), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_flavor(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((t, name)): Path<(String, String)>,
) -> ApiResult<AppJson<Flavor>> {
    let t = component_type(&t)?;
    Ok(AppJson(stacks::get_flavor(&state.db, &p, t, &name).await?))
}

/// Removes a custom flavor that no component uses (its creator or an administrator).
#[utoipa::path(delete, path = "/flavors/{type}/{name}", tag = "stacks",
    params(("type" = ComponentType, Path), ("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E)))]
pub async fn delete_flavor(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path((t, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let t = component_type(&t)?;
    stacks::delete_flavor(&state.db, &p, t, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Components the caller may see, by name; filter by type, flavor and name.
#[utoipa::path(get, path = "/components", tag = "stacks", params(ComponentFilter, PageQuery),
    responses((status = 200, body = Page<Component>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_components(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<ComponentFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Component>>> {
    Ok(AppJson(
        stacks::list_components(&state.db, &p, &filter, &q).await?,
    ))
}

/// Registers a component; its configuration is checked against the flavor's schema,
/// and sensitive fields take only `{{secret.key}}` references.
#[utoipa::path(post, path = "/components", tag = "stacks", request_body = CreateComponentRequest,
    responses((status = 201, body = Component), (status = 401, body = E),
              (status = 422, description = "A field of the configuration is invalid; `fields` names it", body = E)))]
pub async fn create_component(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateComponentRequest>,
) -> ApiResult<(StatusCode, AppJson<Component>)> {
    let component = stacks::create_component(&state.db, &p, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(component)))
}

/// One component.
#[utoipa::path(get, path = "/components/{name}", tag = "stacks", params(("name" = String, Path)),
    responses((status = 200, body = Component), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_component(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<AppJson<Component>> {
    Ok(AppJson(stacks::get_component(&state.db, &p, &name).await?))
}

/// Renames a component or replaces its configuration (checked again).
#[utoipa::path(patch, path = "/components/{name}", tag = "stacks", params(("name" = String, Path)),
    request_body = UpdateComponentRequest,
    responses((status = 200, body = Component), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn update_component(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<UpdateComponentRequest>,
) -> ApiResult<AppJson<Component>> {
    Ok(AppJson(
        stacks::update_component(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// Deletes a component no stack uses.
#[utoipa::path(delete, path = "/components/{name}", tag = "stacks", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, description = "A stack uses it", body = E)))]
pub async fn delete_component(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    stacks::delete_component(&state.db, &p, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shares a component with a team (`team: null` makes it private).
#[utoipa::path(post, path = "/components/{name}/share", tag = "stacks", params(("name" = String, Path)),
    request_body = ShareRequest,
    responses((status = 200, body = Component), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E),
              (status = 409, description = "Secrets it references are not shared; `fields` lists them", body = E),
              (status = 422, body = E)))]
pub async fn share_component(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> ApiResult<AppJson<Component>> {
    Ok(AppJson(
        stacks::share_component(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// Stacks the caller may see, by name.
#[utoipa::path(get, path = "/stacks", tag = "stacks", params(StackFilter, PageQuery),
    responses((status = 200, body = Page<Stack>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_stacks(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<StackFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Stack>>> {
    Ok(AppJson(
        stacks::list_stacks(&state.db, &p, &filter, &q).await?,
    ))
}

/// Registers a stack: one component per type; orchestrator and artifact store required.
#[utoipa::path(post, path = "/stacks", tag = "stacks", request_body = CreateStackRequest,
    responses((status = 201, body = Stack), (status = 401, body = E), (status = 422, body = E)))]
pub async fn create_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateStackRequest>,
) -> ApiResult<(StatusCode, AppJson<Stack>)> {
    let stack = stacks::create_stack(&state.db, &p, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(stack)))
}

/// One stack with each component and its flavor.
#[utoipa::path(get, path = "/stacks/{name}", tag = "stacks", params(("name" = String, Path)),
    responses((status = 200, body = Stack), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<AppJson<Stack>> {
    Ok(AppJson(stacks::get_stack(&state.db, &p, &name).await?))
}

/// Renames a stack, changes its description, or sets and empties component slots.
#[utoipa::path(patch, path = "/stacks/{name}", tag = "stacks", params(("name" = String, Path)),
    request_body = UpdateStackRequest,
    responses((status = 200, body = Stack), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn update_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<UpdateStackRequest>,
) -> ApiResult<AppJson<Stack>> {
    Ok(AppJson(
        stacks::update_stack(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// Deletes a stack (not the default one).
#[utoipa::path(delete, path = "/stacks/{name}", tag = "stacks", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E)))]
pub async fn delete_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    stacks::delete_stack(&state.db, &p, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A private copy of a stack, with the same components.
#[utoipa::path(post, path = "/stacks/{name}/copy", tag = "stacks", params(("name" = String, Path)),
    request_body = CopyStackRequest,
    responses((status = 201, body = Stack), (status = 401, body = E), (status = 404, body = E),
              (status = 422, body = E)))]
pub async fn copy_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<CopyStackRequest>,
) -> ApiResult<(StatusCode, AppJson<Stack>)> {
    let stack = stacks::copy_stack(&state.db, &p, &name, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(stack)))
}

/// Shares a stack with a team. Its private components and secrets are listed in a 409
/// unless `include_dependencies` shares them in the same step.
#[utoipa::path(post, path = "/stacks/{name}/share", tag = "stacks", params(("name" = String, Path)),
    request_body = ShareRequest,
    responses((status = 200, body = Stack), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E),
              (status = 409, description = "`fields` names each `component:<name>` and `secret:<name>` to share too", body = E),
              (status = 422, body = E)))]
pub async fn share_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> ApiResult<AppJson<Stack>> {
    Ok(AppJson(
        stacks::share_stack(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// The caller's active stack (the default stack until they choose one).
#[utoipa::path(get, path = "/active-stack", tag = "stacks",
    responses((status = 200, body = Stack), (status = 401, body = E)))]
pub async fn get_active_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<AppJson<Stack>> {
    Ok(AppJson(stacks::active_stack(&state.db, &p).await?))
}

/// Chooses the caller's active stack (one they may run on).
#[utoipa::path(put, path = "/active-stack", tag = "stacks", request_body = SetActiveStackRequest,
    responses((status = 200, body = Stack), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E)))]
pub async fn set_active_stack(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppJson(req): AppJson<SetActiveStackRequest>,
) -> ApiResult<AppJson<Stack>> {
    Ok(AppJson(
        stacks::set_active_stack(&state.db, &p, &req.stack).await?,
    ))
}
