//! Flavors, stack components and stacks: registering, validating configurations
//! against flavor schemas, composing stacks, sharing them with teams, and each
//! user's active stack. The server-wide default stack is made here at first start.

mod repo;

use std::collections::BTreeSet;

use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::config_schema;
use weir_api::identity::TeamRole;
use weir_api::names;
use weir_api::pagination::{Page, PageQuery};
use weir_api::secrets::SecretReference;
use weir_api::stacks::{
    Component, ComponentFilter, ComponentType, CopyStackRequest, CreateComponentRequest,
    CreateFlavorRequest, CreateStackRequest, Flavor, FlavorFilter, NEEDS_COMPONENT, Ownership,
    ShareRequest, Stack, StackComponentRef, StackFilter, UpdateComponentRequest,
    UpdateStackRequest,
};

use self::repo::{ComponentRow, FlavorRow, StackRow};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Action, Principal, Resource, authorize};
use crate::{DomainError, Result, is_unique_violation};

/// Name of the server-wide default stack and its two components.
pub const DEFAULT_STACK: &str = "default";
pub const DEFAULT_ORCHESTRATOR: &str = "default-orchestrator";
pub const DEFAULT_ARTIFACT_STORE: &str = "default-artifact-store";

fn component_type(s: &str) -> ComponentType {
    ComponentType::parse(s).expect("BUG: the type column is checked by the database")
}

fn role(s: Option<&str>) -> Option<TeamRole> {
    s.and_then(TeamRole::parse)
}

/// The access check of something owned and perhaps shared.
pub(crate) fn owned(owner: Option<Uuid>, my_role: Option<&str>) -> Resource {
    Resource::Owned {
        owner,
        role: role(my_role),
    }
}

/// Not visible and not existing look the same to the caller.
fn visible(actor: &Principal, resource: Resource) -> Result<()> {
    authorize(actor, Action::Read, resource).map_err(|_| DomainError::NotFound)
}

pub(crate) fn ownership(
    actor: &Principal,
    owner_name: Option<String>,
    team_name: Option<String>,
    resource: Resource,
) -> Ownership {
    Ownership {
        owner: owner_name,
        team: team_name,
        can_edit: authorize(actor, Action::Update, resource).is_ok(),
    }
}

fn flavor_from(row: FlavorRow) -> Flavor {
    Flavor {
        component_type: component_type(&row.component_type),
        name: row.name,
        description: row.description,
        builtin: row.builtin,
        config_schema: row.config_schema,
        created_at: row.created_at,
    }
}

fn component_from(actor: &Principal, row: ComponentRow) -> Component {
    let resource = owned(row.owner_id, row.my_role.as_deref());
    Component {
        id: row.id,
        name: row.name,
        component_type: component_type(&row.component_type),
        flavor: row.flavor,
        config: row.config,
        ownership: ownership(actor, row.owner_name, row.team_name, resource),
        used_by: row.used_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

// ---------------------------------------------------------------------------------
// Flavors

/// Writes the built-in flavors (and updates their schemas when Weir changed them).
pub async fn sync_builtin_flavors(pool: &PgPool) -> Result<()> {
    for flavor in weir_flavors::builtin_flavors() {
        repo::upsert_builtin_flavor(
            pool,
            flavor.component_type.as_str(),
            flavor.name,
            flavor.description,
            &flavor.config_schema,
        )
        .await?;
    }
    Ok(())
}

fn parse_type(field: &str, text: Option<&str>) -> Result<Option<ComponentType>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => ComponentType::parse(t).map(Some).ok_or_else(|| {
            DomainError::field(
                field,
                format!(
                    "unknown component type; one of: {}",
                    ComponentType::ALL.map(|t| t.as_str()).join(", ")
                ),
            )
        }),
    }
}

pub async fn list_flavors(
    pool: &PgPool,
    actor: &Principal,
    filter: &FlavorFilter,
    query: &PageQuery,
) -> Result<Page<Flavor>> {
    authorize(actor, Action::Read, Resource::System)?;
    let limit = query.limit()?;
    let after: Option<(String, String)> = query.cursor()?;
    let component_type = parse_type("type", filter.component_type.as_deref())?;
    let rows = repo::list_flavors(pool, component_type.map(|t| t.as_str()), after, limit).await?;
    let items: Vec<Flavor> = rows.into_iter().map(flavor_from).collect();
    Ok(Page::from_rows(items, limit, |f: &Flavor| {
        (f.component_type.as_str().to_string(), f.name.clone())
    }))
}

pub async fn get_flavor(
    pool: &PgPool,
    actor: &Principal,
    component_type: ComponentType,
    name: &str,
) -> Result<Flavor> {
    authorize(actor, Action::Read, Resource::System)?;
    repo::flavor(pool, component_type.as_str(), name)
        .await?
        .map(flavor_from)
        .ok_or(DomainError::NotFound)
}

/// Registers a custom flavor; its schema must use what the forms understand.
pub async fn create_flavor(
    pool: &PgPool,
    actor: &Principal,
    req: CreateFlavorRequest,
    client: Option<&str>,
) -> Result<Flavor> {
    authorize(actor, Action::Read, Resource::System)?;
    let mut problems = Vec::new();
    if let Err(e) = names::check_name("name", &req.name) {
        problems.push(e);
    }
    if req.description.chars().count() > 500 {
        problems.push(FieldError::new(
            "description",
            "must be at most 500 characters",
        ));
    }
    if let Err(mut e) = config_schema::parse(&req.config_schema) {
        problems.append(&mut e);
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let mut tx = pool.begin().await?;
    let row = repo::insert_flavor(
        &mut *tx,
        req.component_type.as_str(),
        &req.name,
        &req.description,
        &req.config_schema,
        actor.user_id,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "flavor_type_name_key") {
            DomainError::Conflict(format!(
                "a {} flavor named {} exists already",
                req.component_type.label().to_lowercase(),
                req.name
            ))
        } else {
            e.into()
        }
    })?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::FlavorCreated)
            .actor(actor.user_id, &actor.name)
            .target("flavor", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(flavor_from(row))
}

/// Removes a custom flavor no component uses (its creator or an administrator).
pub async fn delete_flavor(
    pool: &PgPool,
    actor: &Principal,
    component_type: ComponentType,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = repo::flavor(&mut *tx, component_type.as_str(), name)
        .await?
        .ok_or(DomainError::NotFound)?;
    if row.builtin {
        return Err(DomainError::Conflict(
            "built-in flavors cannot be removed".into(),
        ));
    }
    authorize(actor, Action::Delete, owned(row.created_by, None))?;
    let used = repo::flavor_in_use(&mut *tx, row.id).await?;
    if used > 0 {
        return Err(DomainError::Conflict(format!(
            "{used} component(s) use this flavor; delete them first"
        )));
    }
    repo::delete_flavor(&mut *tx, row.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::FlavorDeleted)
            .actor(actor.user_id, &actor.name)
            .target("flavor", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Components

/// Checks `config` against the flavor's schema and every secret reference against
/// the vault: the secret exists, the caller may read it, and it has the key.
/// `problems` already found (a bad name) are reported together with these.
async fn check_config(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    flavor: &FlavorRow,
    config: &serde_json::Value,
    mut problems: Vec<FieldError>,
) -> Result<()> {
    let fields = config_schema::parse(&flavor.config_schema).map_err(DomainError::Validation)?;
    let checked = config_schema::check(&fields, config, "config");
    problems.extend(checked.problems);
    for (path, reference) in checked.references {
        match crate::secrets::reference_target(&mut *db, actor, &reference).await? {
            Ok(()) => {}
            Err(message) => problems.push(FieldError::new(path, message)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(problems))
    }
}

pub async fn list_components(
    pool: &PgPool,
    actor: &Principal,
    filter: &ComponentFilter,
    query: &PageQuery,
) -> Result<Page<Component>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let component_type = parse_type("type", filter.component_type.as_deref())?;
    let rows = repo::list_components(
        pool,
        repo::ComponentQuery {
            viewer: actor.user_id,
            all: actor.is_admin,
            component_type: component_type.map(|t| t.as_str()),
            flavor: filter.flavor.as_deref().filter(|f| !f.is_empty()),
            name_contains: filter.name.as_deref().filter(|f| !f.is_empty()),
            after: after.as_deref(),
            limit,
        },
    )
    .await?;
    let items: Vec<Component> = rows
        .into_iter()
        .map(|row| component_from(actor, row))
        .collect();
    Ok(Page::from_rows(items, limit, |c: &Component| {
        c.name.to_lowercase()
    }))
}

async fn component_row(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    name: &str,
) -> Result<ComponentRow> {
    let row = repo::component(db, actor.user_id, name, actor.is_admin)
        .await?
        .ok_or(DomainError::NotFound)?;
    visible(actor, owned(row.owner_id, row.my_role.as_deref()))?;
    Ok(row)
}

pub async fn get_component(pool: &PgPool, actor: &Principal, name: &str) -> Result<Component> {
    Ok(component_from(
        actor,
        component_row(pool, actor, name).await?,
    ))
}

fn name_taken(e: sqlx::Error, index: &str, what: &str, name: &str) -> DomainError {
    if is_unique_violation(&e, index) {
        DomainError::Validation(vec![FieldError::new(
            "name",
            format!("a {what} named {name} exists already (names are unique across the server)"),
        )])
    } else {
        e.into()
    }
}

pub async fn create_component(
    pool: &PgPool,
    actor: &Principal,
    req: CreateComponentRequest,
    client: Option<&str>,
) -> Result<Component> {
    authorize(actor, Action::Read, Resource::System)?;
    let name_problem = names::check_name("name", &req.name).err();
    let mut tx = pool.begin().await?;
    let flavor = repo::flavor(&mut *tx, req.component_type.as_str(), &req.flavor)
        .await?
        .ok_or_else(|| {
            DomainError::field(
                "flavor",
                format!(
                    "no {} flavor named {}; `weir flavor list` shows them",
                    req.component_type.label().to_lowercase(),
                    req.flavor
                ),
            )
        })?;
    check_config(
        &mut tx,
        actor,
        &flavor,
        &req.config,
        name_problem.into_iter().collect(),
    )
    .await?;
    let id = repo::insert_component(
        &mut *tx,
        &req.name,
        req.component_type.as_str(),
        flavor.id,
        &req.config,
        Some(actor.user_id),
    )
    .await
    .map_err(|e| name_taken(e, "stack_component_name_key", "component", &req.name))?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ComponentCreated)
            .actor(actor.user_id, &actor.name)
            .target("component", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let row = component_row(&mut *tx, actor, &req.name).await?;
    tx.commit().await?;
    Ok(component_from(actor, row))
}

pub async fn update_component(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: UpdateComponentRequest,
    client: Option<&str>,
) -> Result<Component> {
    let mut tx = pool.begin().await?;
    let row = component_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Update,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    let new_name = req.name.unwrap_or_else(|| row.name.clone());
    let name_problem = names::check_name("name", &new_name).err();
    let config = req.config.unwrap_or_else(|| row.config.clone());
    let flavor = repo::flavor(&mut *tx, &row.component_type, &row.flavor)
        .await?
        .ok_or(DomainError::NotFound)?;
    check_config(
        &mut tx,
        actor,
        &flavor,
        &config,
        name_problem.into_iter().collect(),
    )
    .await?;
    repo::update_component(&mut *tx, row.id, &new_name, &config)
        .await
        .map_err(|e| name_taken(e, "stack_component_name_key", "component", &new_name))?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ComponentUpdated)
            .actor(actor.user_id, &actor.name)
            .target("component", row.id, &new_name)
            .from_addr(client),
    )
    .await?;
    let row = component_row(&mut *tx, actor, &new_name).await?;
    tx.commit().await?;
    Ok(component_from(actor, row))
}

pub async fn delete_component(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = component_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Delete,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    if !row.used_by.is_empty() {
        return Err(DomainError::Conflict(format!(
            "stacks use this component: {}; remove it from them first",
            row.used_by.join(", ")
        )));
    }
    repo::delete_component(&mut *tx, row.id)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                DomainError::Conflict("a stack started using this component; try again".into())
            }
            _ => e.into(),
        })?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ComponentDeleted)
            .actor(actor.user_id, &actor.name)
            .target("component", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The team a share request names, checked: it exists and the caller may put things
/// there (editor or admin of it, or a server administrator). `None`: make private.
pub(crate) async fn share_target_for(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    team: Option<&str>,
) -> Result<Option<(Uuid, String)>> {
    let Some(team) = team.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let (id, my_role) = repo::team_and_role(db, actor.user_id, team)
        .await?
        .ok_or_else(|| DomainError::field("team", format!("no team named {team}")))?;
    let may = actor.is_admin
        || matches!(
            role(my_role.as_deref()),
            Some(TeamRole::Editor | TeamRole::Admin)
        );
    if !may {
        return Err(DomainError::Forbidden(
            "only the team's editors and admins can share with it".into(),
        ));
    }
    Ok(Some((id, team.to_string())))
}

/// Secrets referenced anywhere in a configuration.
fn references_in(config: &serde_json::Value, out: &mut BTreeSet<String>) {
    match config {
        serde_json::Value::String(s) => {
            if let Some(r) = SecretReference::parse(s) {
                out.insert(r.secret);
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| references_in(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| references_in(v, out)),
        _ => {}
    }
}

/// Shares a component (and, with `include_dependencies`, the secrets it references).
pub async fn share_component(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: ShareRequest,
    client: Option<&str>,
) -> Result<Component> {
    let mut tx = pool.begin().await?;
    let row = component_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Share,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    let target = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    if let Some((team_id, team_name)) = &target {
        let mut secrets = BTreeSet::new();
        references_in(&row.config, &mut secrets);
        let needs =
            crate::secrets::unshared(&mut tx, actor, &secrets, *team_id, req.include_dependencies)
                .await?;
        if !needs.is_empty() {
            return Err(needs_sharing(team_name, needs));
        }
    }
    repo::set_component_team(&mut *tx, row.id, target.as_ref().map(|t| t.0)).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::Shared)
            .actor(actor.user_id, &actor.name)
            .target("component", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"team": target.as_ref().map(|t| &t.1)})),
    )
    .await?;
    let row = repo::component(&mut *tx, actor.user_id, &row.name, actor.is_admin)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(component_from(actor, row))
}

fn needs_sharing(team: &str, needs: Vec<FieldError>) -> DomainError {
    DomainError::ConflictWith {
        message: format!(
            "these are not shared with {team} yet; share them too (include_dependencies) or first"
        ),
        fields: needs,
    }
}

// ---------------------------------------------------------------------------------
// Stacks

async fn stacks_from(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    rows: Vec<StackRow>,
    active: Option<Uuid>,
) -> Result<Vec<Stack>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let slots = repo::slots(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut components: Vec<StackComponentRef> = slots
                .iter()
                .filter(|s| s.stack_id == row.id)
                .map(|s| StackComponentRef {
                    component_type: component_type(&s.component_type),
                    name: s.name.clone(),
                    flavor: s.flavor.clone(),
                })
                .collect();
            components.sort_by_key(|c| c.component_type);
            let resource = owned(row.owner_id, row.my_role.as_deref());
            Stack {
                id: row.id,
                name: row.name,
                description: row.description,
                is_default: row.is_default,
                is_active: Some(row.id) == active,
                components,
                ownership: ownership(actor, row.owner_name, row.team_name, resource),
                created_at: row.created_at,
                updated_at: row.updated_at,
            }
        })
        .collect())
}

/// The stack a user's runs go to: the chosen one while they may still use it,
/// otherwise the default stack.
async fn active_id(db: &mut sqlx::PgConnection, actor: &Principal) -> Result<Option<Uuid>> {
    if let Some(id) = repo::active_stack_id(&mut *db, actor.user_id).await?
        && let Some(row) = repo::stack_by_id(&mut *db, actor.user_id, id).await?
        && authorize(
            actor,
            Action::Use,
            owned(row.owner_id, row.my_role.as_deref()),
        )
        .is_ok()
    {
        return Ok(Some(id));
    }
    Ok(repo::default_stack_id(&mut *db).await?)
}

pub async fn list_stacks(
    pool: &PgPool,
    actor: &Principal,
    filter: &StackFilter,
    query: &PageQuery,
) -> Result<Page<Stack>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let mut conn = pool.acquire().await?;
    let active = active_id(&mut conn, actor).await?;
    let rows = repo::list_stacks(
        &mut *conn,
        actor.user_id,
        actor.is_admin,
        filter.name.as_deref().filter(|n| !n.is_empty()),
        after.as_deref(),
        limit,
    )
    .await?;
    let items = stacks_from(&mut *conn, actor, rows, active).await?;
    Ok(Page::from_rows(items, limit, |s: &Stack| {
        s.name.to_lowercase()
    }))
}

async fn stack_row(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    name: &str,
) -> Result<StackRow> {
    let row = repo::stack(db, actor.user_id, name)
        .await?
        .ok_or(DomainError::NotFound)?;
    visible(actor, owned(row.owner_id, row.my_role.as_deref()))?;
    Ok(row)
}

async fn one_stack(db: &mut sqlx::PgConnection, actor: &Principal, name: &str) -> Result<Stack> {
    let row = stack_row(&mut *db, actor, name).await?;
    let active = active_id(&mut *db, actor).await?;
    Ok(stacks_from(&mut *db, actor, vec![row], active)
        .await?
        .pop()
        .expect("BUG: one row in, one stack out"))
}

pub async fn get_stack(pool: &PgPool, actor: &Principal, name: &str) -> Result<Stack> {
    let mut conn = pool.acquire().await?;
    one_stack(&mut conn, actor, name).await
}

/// Resolves `type → component name` slots: each type known, each component visible
/// and usable by the caller, and of that type.
async fn resolve_slots(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    wanted: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(ComponentType, Uuid)>> {
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    for (slot, name) in wanted {
        let field = format!("components.{slot}");
        let Some(t) = ComponentType::parse(&slot) else {
            problems.push(FieldError::new(field, "unknown component type"));
            continue;
        };
        let field = format!("components.{}", t.as_str());
        let row = repo::component(&mut *db, actor.user_id, &name, actor.is_admin).await?;
        match row {
            Some(row)
                if authorize(
                    actor,
                    Action::Use,
                    owned(row.owner_id, row.my_role.as_deref()),
                )
                .is_ok() =>
            {
                if row.component_type != t.as_str() {
                    problems.push(FieldError::new(
                        field,
                        format!(
                            "{name} is a {}, not a {}",
                            component_type(&row.component_type).label().to_lowercase(),
                            t.label().to_lowercase()
                        ),
                    ));
                } else {
                    resolved.push((t, row.id));
                }
            }
            _ => problems.push(FieldError::new(
                field,
                format!(
                    "no {} named {name} that you may use",
                    t.label().to_lowercase()
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(DomainError::Validation(problems))
    }
}

fn check_description(description: &str) -> Result<()> {
    if description.chars().count() > 500 {
        return Err(DomainError::field(
            "description",
            "must be at most 500 characters",
        ));
    }
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(DomainError::field(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub async fn create_stack(
    pool: &PgPool,
    actor: &Principal,
    req: CreateStackRequest,
    client: Option<&str>,
) -> Result<Stack> {
    authorize(actor, Action::Read, Resource::System)?;
    names::check_name("name", &req.name)?;
    check_description(&req.description)?;
    let mut tx = pool.begin().await?;
    let slots = resolve_slots(&mut tx, actor, req.components.clone()).await?;
    let mut missing = Vec::new();
    for required in ComponentType::ALL.into_iter().filter(|t| t.is_required()) {
        if !slots.iter().any(|(t, _)| *t == required) {
            missing.push(FieldError::new(
                format!("components.{}", required.as_str()),
                format!("a stack needs an {}", required.label().to_lowercase()),
            ));
        }
    }
    if !missing.is_empty() {
        return Err(DomainError::Validation(missing));
    }
    let id = repo::insert_stack(
        &mut *tx,
        &req.name,
        &req.description,
        Some(actor.user_id),
        false,
    )
    .await
    .map_err(|e| name_taken(e, "stack_name_key", "stack", &req.name))?;
    for (t, component) in slots {
        repo::set_slot(&mut *tx, id, t.as_str(), component).await?;
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::StackCreated)
            .actor(actor.user_id, &actor.name)
            .target("stack", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let stack = one_stack(&mut tx, actor, &req.name).await?;
    tx.commit().await?;
    Ok(stack)
}

pub async fn update_stack(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: UpdateStackRequest,
    client: Option<&str>,
) -> Result<Stack> {
    let mut tx = pool.begin().await?;
    let row = stack_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Update,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    let new_name = req.name.clone().unwrap_or_else(|| row.name.clone());
    names::check_name("name", &new_name)?;
    let description = req.description.clone().unwrap_or(row.description.clone());
    check_description(&description)?;
    let (set, clear): (Vec<_>, Vec<_>) = req.components.into_iter().partition(|(_, v)| v.is_some());
    let mut problems = Vec::new();
    let mut cleared = Vec::new();
    for (slot, _) in clear {
        match ComponentType::parse(&slot) {
            Some(t) if t.is_required() => problems.push(FieldError::new(
                format!("components.{}", t.as_str()),
                format!("a stack needs an {}", t.label().to_lowercase()),
            )),
            Some(t) => cleared.push(t),
            None => problems.push(FieldError::new(
                format!("components.{slot}"),
                "unknown component type",
            )),
        }
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let slots = resolve_slots(
        &mut tx,
        actor,
        set.into_iter().map(|(k, v)| (k, v.unwrap_or_default())),
    )
    .await?;
    repo::update_stack(&mut *tx, row.id, &new_name, &description)
        .await
        .map_err(|e| name_taken(e, "stack_name_key", "stack", &new_name))?;
    for (t, component) in slots {
        repo::set_slot(&mut *tx, row.id, t.as_str(), component).await?;
    }
    for t in cleared {
        repo::clear_slot(&mut *tx, row.id, t.as_str()).await?;
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::StackUpdated)
            .actor(actor.user_id, &actor.name)
            .target("stack", row.id, &new_name)
            .from_addr(client),
    )
    .await?;
    let stack = one_stack(&mut tx, actor, &new_name).await?;
    tx.commit().await?;
    Ok(stack)
}

/// A private copy of a stack the caller can see, with the same components.
pub async fn copy_stack(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: CopyStackRequest,
    client: Option<&str>,
) -> Result<Stack> {
    let source = {
        let mut conn = pool.acquire().await?;
        one_stack(&mut conn, actor, name).await?
    };
    create_stack(
        pool,
        actor,
        CreateStackRequest {
            name: req.name,
            description: source.description,
            components: source
                .components
                .into_iter()
                .map(|c| (c.component_type.as_str().to_string(), c.name))
                .collect(),
        },
        client,
    )
    .await
}

pub async fn delete_stack(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = stack_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Delete,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    if row.is_default {
        return Err(DomainError::Conflict(
            "the default stack cannot be deleted".into(),
        ));
    }
    repo::delete_stack(&mut *tx, row.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::StackDeleted)
            .actor(actor.user_id, &actor.name)
            .target("stack", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Shares a stack with a team. Its components and the secrets they reference must be
/// shared with that team too: unless `include_dependencies` is set (then they are
/// shared in the same transaction), the answer is a conflict listing them.
pub async fn share_stack(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: ShareRequest,
    client: Option<&str>,
) -> Result<Stack> {
    let mut tx = pool.begin().await?;
    let row = stack_row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Share,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    if row.is_default {
        return Err(DomainError::Conflict(
            "the default stack is shared with everyone already".into(),
        ));
    }
    let target = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    if let Some((team_id, team_name)) = &target {
        let slots = repo::slots(&mut *tx, &[row.id]).await?;
        let mut needs = Vec::new();
        let mut secrets = BTreeSet::new();
        for slot in slots {
            let component = repo::component(&mut *tx, actor.user_id, &slot.name, actor.is_admin)
                .await?
                .ok_or(DomainError::NotFound)?;
            references_in(&component.config, &mut secrets);
            if component.owner_id.is_none() || component.team_id == Some(*team_id) {
                continue;
            }
            let resource = owned(component.owner_id, component.my_role.as_deref());
            if req.include_dependencies && authorize(actor, Action::Share, resource).is_ok() {
                repo::set_component_team(&mut *tx, component.id, Some(*team_id)).await?;
            } else {
                needs.push(FieldError::new(
                    format!("{NEEDS_COMPONENT}{}", component.name),
                    if req.include_dependencies {
                        "you may not share this component; ask its owner"
                    } else {
                        "private component"
                    },
                ));
            }
        }
        needs.extend(
            crate::secrets::unshared(&mut tx, actor, &secrets, *team_id, req.include_dependencies)
                .await?,
        );
        if !needs.is_empty() {
            return Err(needs_sharing(team_name, needs));
        }
    }
    repo::set_stack_team(&mut *tx, row.id, target.as_ref().map(|t| t.0)).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::Shared)
            .actor(actor.user_id, &actor.name)
            .target("stack", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"team": target.as_ref().map(|t| &t.1), "with_dependencies": req.include_dependencies})),
    )
    .await?;
    // Read back without the visibility check: a team admin who makes a stack private
    // no longer sees it, but is told what they did.
    let after = repo::stack_by_id(&mut *tx, actor.user_id, row.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let active = active_id(&mut tx, actor).await?;
    let stack = stacks_from(&mut *tx, actor, vec![after], active)
        .await?
        .pop()
        .expect("BUG: one row in, one stack out");
    tx.commit().await?;
    Ok(stack)
}

pub async fn active_stack(pool: &PgPool, actor: &Principal) -> Result<Stack> {
    let mut conn = pool.acquire().await?;
    let id = active_id(&mut conn, actor)
        .await?
        .ok_or(DomainError::NotFound)?;
    let row = repo::stack_by_id(&mut *conn, actor.user_id, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(stacks_from(&mut *conn, actor, vec![row], Some(id))
        .await?
        .pop()
        .expect("BUG: one row in, one stack out"))
}

/// A stack the actor may run on, by name: (id, name). 404 when invisible, 403 when
/// only readable.
pub(crate) async fn usable_stack(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    name: &str,
) -> Result<(Uuid, String)> {
    let row = stack_row(&mut *db, actor, name).await?;
    authorize(
        actor,
        Action::Use,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    Ok((row.id, row.name))
}

/// The actor's active stack (the default one when they chose none): (id, name).
pub(crate) async fn active_stack_for(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
) -> Result<(Uuid, String)> {
    let id = active_id(&mut *db, actor)
        .await?
        .ok_or_else(|| DomainError::field("stack", "there is no default stack; name one"))?;
    let row = repo::stack_by_id(&mut *db, actor.user_id, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((row.id, row.name))
}

/// Makes a stack the caller may use their active stack.
pub async fn set_active_stack(pool: &PgPool, actor: &Principal, name: &str) -> Result<Stack> {
    let mut conn = pool.acquire().await?;
    let row = stack_row(&mut *conn, actor, name).await?;
    authorize(
        actor,
        Action::Use,
        owned(row.owner_id, row.my_role.as_deref()),
    )?;
    repo::set_active_stack(&mut *conn, actor.user_id, row.id).await?;
    one_stack(&mut conn, actor, &row.name).await
}

/// Creates the default stack (a local orchestrator and a local artifact store under
/// `artifacts_path`) unless it exists. Safe to call from replicas starting together.
pub async fn ensure_default_stack(pool: &PgPool, artifacts_path: &str) -> Result<()> {
    sync_builtin_flavors(pool).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(7467120003)")
        .execute(&mut *tx)
        .await?;
    if repo::default_stack_id(&mut *tx).await?.is_some() {
        return Ok(());
    }
    let orchestrator = repo::flavor(&mut *tx, "orchestrator", "local")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the local orchestrator flavor is missing"))?;
    let store = repo::flavor(&mut *tx, "artifact_store", "local")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the local artifact store flavor is missing"))?;
    let orchestrator = repo::insert_component(
        &mut *tx,
        DEFAULT_ORCHESTRATOR,
        "orchestrator",
        orchestrator.id,
        &serde_json::json!({}),
        None,
    )
    .await?;
    let store = repo::insert_component(
        &mut *tx,
        DEFAULT_ARTIFACT_STORE,
        "artifact_store",
        store.id,
        &serde_json::json!({ "path": artifacts_path }),
        None,
    )
    .await?;
    let stack = repo::insert_stack(
        &mut *tx,
        DEFAULT_STACK,
        "Runs steps on the server's machine and keeps artifacts in its data directory.",
        None,
        true,
    )
    .await?;
    repo::set_slot(&mut *tx, stack, "orchestrator", orchestrator).await?;
    repo::set_slot(&mut *tx, stack, "artifact_store", store).await?;
    tx.commit().await?;
    Ok(())
}
