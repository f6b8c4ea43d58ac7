//! The model registry: models (shared like pipelines), numbered versions, stages with
//! at most one version in production, aliases, the stage history, metadata, and the
//! links a run makes to the version of its pipeline's model.
//!
//! Rules: reading follows the model's visibility; editors create, change and alias
//! versions and move them between none, staging and archived; moving a version to or
//! from production is for the model's owner, its team's admins and server admins.

pub(crate) mod repo;

use serde_json::{Map, Value};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::models::{
    ArtifactKind, CreateModelVersionRequest, LinkedArtifact, LinkedRun, LogModelMetadataRequest,
    MAX_COMPARED_VERSIONS, MAX_VERSION_METADATA_KEYS, Model, ModelFilter, ModelStage, ModelVersion,
    ModelVersionComparison, ModelVersionDetail, ModelVersionFilter, PipelineModel, PromoteRequest,
    PromoteResponse, RegisterModelRequest, SetAliasRequest, StageChange, UpdateModelVersionRequest,
    VersionRef, check_alias, check_metadata, check_reason, check_tags, check_version_name,
};
use weir_api::pagination::{Page, PageQuery};
use weir_api::runs::ExecutionStatus;
use weir_api::stacks::ShareRequest;

use self::repo::{ModelRow, VersionRow};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Action, Principal, Resource, authorize};
use crate::stacks::{owned, ownership, share_target_for};
use crate::{DomainError, Result};

/// The most stage changes, runs and artifacts a version's page lists.
const MAX_HISTORY: i64 = 100;
const MAX_LINKED_RUNS: i64 = 100;
const MAX_LINKED_ARTIFACTS: i64 = 200;

fn resource(row: &ModelRow) -> Resource {
    owned(Some(row.owner_id), row.my_role.as_deref())
}

fn model_from(actor: &Principal, row: ModelRow) -> Model {
    let resource = resource(&row);
    Model {
        id: row.id,
        name: row.name,
        description: row.description,
        license: row.license,
        tags: row.tags,
        use_cases: row.use_cases,
        limitations: row.limitations,
        ownership: ownership(actor, row.owner_name, row.team_name, resource),
        version_count: row.version_count,
        latest_version: row.latest_number.map(|number| VersionRef {
            number,
            name: row.latest_name,
        }),
        production_version: row.production_number.map(|number| VersionRef {
            number,
            name: row.production_name,
        }),
        can_promote: authorize(actor, Action::Promote, resource).is_ok(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn stage(s: &str) -> ModelStage {
    ModelStage::parse(s).unwrap_or(ModelStage::None)
}

fn run_status(s: &str) -> ExecutionStatus {
    crate::runs::status(s)
}

fn version_from(row: VersionRow) -> ModelVersion {
    let run = match (row.run_id, row.run_name, row.run_pipeline, row.run_status) {
        (Some(id), Some(name), Some(pipeline), Some(status)) => Some(LinkedRun {
            id,
            name,
            pipeline,
            status: run_status(&status),
            created_at: row.run_created_at.unwrap_or(row.created_at),
        }),
        _ => None,
    };
    ModelVersion {
        id: row.id,
        model: row.model,
        number: row.number,
        name: row.name,
        description: row.description,
        tags: row.tags,
        stage: stage(&row.stage),
        aliases: row.aliases,
        metadata: match row.metadata {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        created_by: row.created_by,
        run,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A model the actor may see (404 otherwise).
async fn visible_model(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    name: &str,
) -> Result<ModelRow> {
    let row = repo::model(db, actor.user_id, None, name)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Read, resource(&row)).map_err(|_| DomainError::NotFound)?;
    Ok(row)
}

/// The id of a version named by number, `latest`, name, alias, or a stage (`production`,
/// `staging`: the newest version in it).
async fn resolve_version(
    db: &mut sqlx::PgConnection,
    model: Uuid,
    reference: &str,
) -> Result<Option<Uuid>> {
    let reference = reference.trim();
    let reference = reference.strip_prefix('#').unwrap_or(reference);
    if let Ok(number) = reference.parse::<i32>() {
        return Ok(repo::version_id_by_number(&mut *db, model, number).await?);
    }
    if reference.eq_ignore_ascii_case("latest") {
        return Ok(repo::newest_version_id(&mut *db, model, None).await?);
    }
    if let Some(stage) = ModelStage::parse(reference) {
        return Ok(repo::newest_version_id(&mut *db, model, Some(stage.as_str())).await?);
    }
    Ok(repo::version_id_by_name_or_alias(&mut *db, model, reference).await?)
}

async fn version_row(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    model: Uuid,
    id: Uuid,
) -> Result<VersionRow> {
    repo::versions(
        &mut *db,
        actor.user_id,
        actor.is_admin,
        model,
        Some(&[id]),
        None,
        None,
        1,
    )
    .await?
    .into_iter()
    .next()
    .ok_or(DomainError::NotFound)
}

/// A version of a visible model, by reference (404 when either is unknown).
async fn visible_version(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    model: &str,
    version: &str,
) -> Result<(ModelRow, Uuid)> {
    let model = visible_model(&mut *db, actor, model).await?;
    let id = resolve_version(db, model.id, version)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((model, id))
}

fn metadata_parts(metadata: &Map<String, Value>) -> (Vec<String>, Vec<Value>) {
    (
        metadata.keys().cloned().collect(),
        metadata.values().cloned().collect(),
    )
}

/// Registers a model (private, or shared with `team`).
pub async fn register(
    pool: &PgPool,
    actor: &Principal,
    req: RegisterModelRequest,
    client: Option<&str>,
) -> Result<Model> {
    authorize(actor, Action::Read, Resource::System)?;
    let tags = req.validate().map_err(DomainError::Validation)?;
    let mut tx = pool.begin().await?;
    let team = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    let id = repo::insert_model(
        &mut *tx,
        repo::NewModel {
            name: &req.name,
            description: &req.description,
            license: &req.license,
            tags: &tags,
            use_cases: &req.use_cases,
            limitations: &req.limitations,
            owner: actor.user_id,
            team: team.as_ref().map(|t| t.0),
        },
    )
    .await?
    .ok_or_else(|| DomainError::ConflictWith {
        message: format!(
            "the model name {} is taken; model names are unique on this server",
            req.name
        ),
        fields: vec![FieldError::new("name", "is taken")],
    })?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelRegistered)
            .actor(actor.user_id, &actor.name)
            .target("model", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let row = repo::model(&mut *tx, actor.user_id, Some(id), "")
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(model_from(actor, row))
}

pub async fn list(
    pool: &PgPool,
    actor: &Principal,
    filter: &ModelFilter,
    query: &PageQuery,
) -> Result<Page<Model>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows = repo::list(
        pool,
        actor.user_id,
        actor.is_admin,
        filter
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        after.as_deref(),
        limit,
    )
    .await?;
    let items = rows.into_iter().map(|r| model_from(actor, r)).collect();
    Ok(Page::from_rows(items, limit, |m: &Model| {
        m.name.to_lowercase()
    }))
}

pub async fn get(pool: &PgPool, actor: &Principal, name: &str) -> Result<Model> {
    let row = visible_model(pool, actor, name).await?;
    Ok(model_from(actor, row))
}

/// Shares a model with a team or makes it private again.
pub async fn share(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: ShareRequest,
    client: Option<&str>,
) -> Result<Model> {
    let mut tx = pool.begin().await?;
    let row = visible_model(&mut *tx, actor, name).await?;
    authorize(actor, Action::Share, resource(&row))?;
    let team = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    repo::set_team(&mut *tx, row.id, team.as_ref().map(|t| t.0)).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::Shared)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"team": team.as_ref().map(|t| &t.1)})),
    )
    .await?;
    let updated = repo::model(&mut *tx, actor.user_id, Some(row.id), "")
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(model_from(actor, updated))
}

/// Deletes a model with its versions; refused while a version is in production (it
/// is in use: archive it first). Runs and artifacts stay.
pub async fn delete(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = visible_model(&mut *tx, actor, name).await?;
    // Deleting takes every version's history with it: the rights of sharing, not of
    // editing (the owner, the team's admins, server admins).
    authorize(actor, Action::Share, resource(&row)).map_err(|_| {
        DomainError::Forbidden(
            "deleting a model is for its owner, its team's admins and server admins".into(),
        )
    })?;
    repo::lock_model(&mut *tx, row.id).await?;
    if let Some(production) = repo::production_version(&mut *tx, row.id).await? {
        return Err(DomainError::Conflict(format!(
            "version #{} of {} is in production; archive it before deleting the model",
            production.number, row.name
        )));
    }
    repo::delete_model(&mut *tx, row.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelDeleted)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn version_name_taken(name: &str) -> DomainError {
    DomainError::ConflictWith {
        message: format!("this model has a version named {name} already"),
        fields: vec![FieldError::new("name", "is taken")],
    }
}

/// Creates the next version of a model by hand (runs make theirs when they start).
pub async fn create_version(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    req: CreateModelVersionRequest,
    client: Option<&str>,
) -> Result<ModelVersion> {
    let mut problems = Vec::new();
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name
        && let Err(e) = check_version_name("name", name)
    {
        problems.push(e);
    }
    if let Err(e) = weir_api::names::check_display_name("description", &req.description) {
        problems.push(e);
    }
    let tags = check_tags("tags", &req.tags, &mut problems);
    check_metadata("metadata", &req.metadata, &mut problems);
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let mut tx = pool.begin().await?;
    let row = visible_model(&mut *tx, actor, model).await?;
    authorize(actor, Action::Update, resource(&row))?;
    repo::lock_model(&mut *tx, row.id).await?;
    if let Some(name) = name
        && repo::version_id_by_name_or_alias(&mut *tx, row.id, name)
            .await?
            .is_some()
    {
        return Err(version_name_taken(name));
    }
    let id = repo::insert_version(
        &mut tx,
        row.id,
        name,
        &req.description,
        &tags,
        actor.user_id,
    )
    .await?;
    if !req.metadata.is_empty() {
        let (keys, values) = metadata_parts(&req.metadata);
        repo::upsert_metadata(&mut tx, id, &keys, &values, None).await?;
    }
    let version = version_from(version_row(&mut tx, actor, row.id, id).await?);
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelVersionCreated)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"version": version.number})),
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

pub async fn list_versions(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    filter: &ModelVersionFilter,
    query: &PageQuery,
) -> Result<Page<ModelVersion>> {
    let limit = query.limit()?;
    let before: Option<i32> = query.cursor()?;
    let row = visible_model(pool, actor, model).await?;
    let rows = repo::versions(
        pool,
        actor.user_id,
        actor.is_admin,
        row.id,
        None,
        filter.stage.map(ModelStage::as_str),
        before,
        limit,
    )
    .await?;
    let items = rows.into_iter().map(version_from).collect();
    Ok(Page::from_rows(items, limit, |v: &ModelVersion| v.number))
}

/// A version with its stage history and the runs and artifacts linked to it.
pub async fn get_version(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    version: &str,
) -> Result<ModelVersionDetail> {
    let mut conn = pool.acquire().await?;
    let (model, id) = visible_version(&mut conn, actor, model, version).await?;
    let version = version_from(version_row(&mut conn, actor, model.id, id).await?);
    let stage_history = repo::stage_history(&mut *conn, id, MAX_HISTORY)
        .await?
        .into_iter()
        .map(|e| StageChange {
            from: stage(&e.from_stage),
            to: stage(&e.to_stage),
            by: e.actor_name,
            reason: e.reason,
            at: e.created_at,
        })
        .collect();
    let runs = repo::linked_runs(
        &mut *conn,
        actor.user_id,
        actor.is_admin,
        id,
        MAX_LINKED_RUNS,
    )
    .await?
    .into_iter()
    .map(|r| LinkedRun {
        id: r.id,
        name: r.name,
        pipeline: r.pipeline,
        status: run_status(&r.status),
        created_at: r.created_at,
    })
    .collect();
    let artifacts = repo::linked_artifacts(
        &mut *conn,
        actor.user_id,
        actor.is_admin,
        id,
        MAX_LINKED_ARTIFACTS,
    )
    .await?
    .into_iter()
    .map(|a| LinkedArtifact {
        kind: ArtifactKind::parse(&a.kind).unwrap_or_default(),
        artifact: a.artifact,
        version: a.version,
        artifact_version_id: a.artifact_version_id,
        data_type: a.data_type,
        size: a.size,
        run: a.run,
        created_at: a.created_at,
    })
    .collect();
    Ok(ModelVersionDetail {
        version,
        stage_history,
        runs,
        artifacts,
    })
}

/// Changes a version's name, description or tags, and adds metadata.
pub async fn update_version(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    version: &str,
    req: UpdateModelVersionRequest,
) -> Result<ModelVersion> {
    let mut problems = Vec::new();
    let name = req.name.as_deref().map(str::trim);
    if let Some(name) = name.filter(|n| !n.is_empty())
        && let Err(e) = check_version_name("name", name)
    {
        problems.push(e);
    }
    if let Some(description) = &req.description
        && let Err(e) = weir_api::names::check_display_name("description", description)
    {
        problems.push(e);
    }
    let tags = req
        .tags
        .as_ref()
        .map(|t| check_tags("tags", t, &mut problems));
    check_metadata("metadata", &req.metadata, &mut problems);
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let mut tx = pool.begin().await?;
    let (row, id) = visible_version(&mut tx, actor, model, version).await?;
    authorize(actor, Action::Update, resource(&row))?;
    repo::lock_model(&mut *tx, row.id).await?;
    if stage(&repo::version_stage(&mut *tx, id).await?.stage) == ModelStage::Production {
        authorize(actor, Action::Promote, resource(&row)).map_err(|_| {
            DomainError::Forbidden(
                "this version is in production: only the model's owner, its team's admins and \
                 server admins change it"
                    .into(),
            )
        })?;
    }
    if !req.metadata.is_empty() {
        let (keys, _) = metadata_parts(&req.metadata);
        if repo::metadata_key_count_with(&mut *tx, id, &keys).await? > MAX_VERSION_METADATA_KEYS {
            return Err(DomainError::field(
                "metadata",
                format!("a version holds at most {MAX_VERSION_METADATA_KEYS} metadata keys"),
            ));
        }
    }
    if let Some(name) = name.filter(|n| !n.is_empty())
        && let Some(other) = repo::version_id_by_name_or_alias(&mut *tx, row.id, name).await?
        && other != id
    {
        return Err(version_name_taken(name));
    }
    repo::update_version(
        &mut *tx,
        id,
        name.map(|n| Some(n).filter(|n| !n.is_empty())),
        req.description.as_deref(),
        tags.as_deref(),
    )
    .await?;
    if !req.metadata.is_empty() {
        let (keys, values) = metadata_parts(&req.metadata);
        repo::upsert_metadata(&mut tx, id, &keys, &values, None).await?;
    }
    let updated = version_from(version_row(&mut tx, actor, row.id, id).await?);
    tx.commit().await?;
    Ok(updated)
}

/// Adds or replaces metadata of a version.
pub async fn log_metadata(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    version: &str,
    req: LogModelMetadataRequest,
) -> Result<ModelVersion> {
    update_version(
        pool,
        actor,
        model,
        version,
        UpdateModelVersionRequest {
            metadata: req.metadata,
            ..Default::default()
        },
    )
    .await
}

/// Moves a version to a stage. Promoting to production archives the version that was
/// there, in the same transaction; the model row is locked first, so two promotions at
/// the same moment happen one after the other and exactly one version ends in
/// production. Every change is kept in the versions' stage history.
pub async fn promote(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    version: &str,
    req: PromoteRequest,
    client: Option<&str>,
) -> Result<PromoteResponse> {
    let reason = req.reason.trim();
    check_reason(reason)?;
    let mut tx = pool.begin().await?;
    let (row, id) = visible_version(&mut tx, actor, model, version).await?;
    let resource = resource(&row);
    authorize(actor, Action::Update, resource)?;
    repo::lock_model(&mut *tx, row.id).await?;
    let current = repo::version_stage(&mut *tx, id).await?;
    let from = stage(&current.stage);
    if from == req.stage {
        let version = version_from(version_row(&mut tx, actor, row.id, id).await?);
        tx.commit().await?;
        return Ok(PromoteResponse {
            version,
            archived: None,
        });
    }
    if from == ModelStage::Production || req.stage == ModelStage::Production {
        authorize(actor, Action::Promote, resource).map_err(|_| {
            DomainError::Forbidden(
                "moving a version to or from production is for the model's owner, its team's \
                 admins and server admins"
                    .into(),
            )
        })?;
    }
    let mut archived = None;
    if req.stage == ModelStage::Production
        && let Some(previous) = repo::production_version(&mut *tx, row.id).await?
    {
        repo::change_stage(
            &mut tx,
            previous.id,
            ModelStage::Production.as_str(),
            ModelStage::Archived.as_str(),
            actor.user_id,
            &actor.name,
            &format!("replaced by #{}", current.number),
        )
        .await?;
        archived = Some(VersionRef {
            number: previous.number,
            name: previous.name,
        });
    }
    repo::change_stage(
        &mut tx,
        id,
        from.as_str(),
        req.stage.as_str(),
        actor.user_id,
        &actor.name,
        reason,
    )
    .await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelStageChanged)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({
                "version": current.number,
                "from": from.as_str(),
                "to": req.stage.as_str(),
                "archived": archived.as_ref().map(|v| v.number),
            })),
    )
    .await?;
    let version = version_from(version_row(&mut tx, actor, row.id, id).await?);
    tx.commit().await?;
    Ok(PromoteResponse { version, archived })
}

/// Points an alias at a version, taking it from the version it named before.
pub async fn set_alias(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    alias: &str,
    req: SetAliasRequest,
    client: Option<&str>,
) -> Result<ModelVersion> {
    let alias = alias.trim();
    check_alias("alias", alias)?;
    let mut tx = pool.begin().await?;
    let row = visible_model(&mut *tx, actor, model).await?;
    authorize(actor, Action::Update, resource(&row))?;
    repo::lock_model(&mut *tx, row.id).await?;
    let id = resolve_version(&mut tx, row.id, &req.version)
        .await?
        .ok_or_else(|| {
            DomainError::field(
                "version",
                format!("{} has no version {}", row.name, req.version.trim()),
            )
        })?;
    let named = repo::version_stage(&mut *tx, id).await?;
    if named
        .name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case(alias))
    {
        // Pointing a version's own name at it changes nothing and would only shadow it.
        return Err(DomainError::field(
            "alias",
            "is the name of that version already",
        ));
    }
    // Names are looked up before aliases: an alias equal to another version's name
    // would never be reached.
    if let Some(other) = repo::version_id_by_name_or_alias(&mut *tx, row.id, alias).await?
        && other != id
    {
        let other = repo::version_stage(&mut *tx, other).await?;
        if other.name.is_some_and(|n| n.eq_ignore_ascii_case(alias)) {
            return Err(DomainError::field(
                "alias",
                format!("{alias} is the name of version #{}", other.number),
            ));
        }
    }
    repo::set_alias(&mut *tx, row.id, alias, id, actor.user_id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelAliasSet)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"alias": alias, "version": named.number})),
    )
    .await?;
    let version = version_from(version_row(&mut tx, actor, row.id, id).await?);
    tx.commit().await?;
    Ok(version)
}

pub async fn remove_alias(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    alias: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = visible_model(&mut *tx, actor, model).await?;
    authorize(actor, Action::Update, resource(&row))?;
    if !repo::delete_alias(&mut *tx, row.id, &alias.trim().to_lowercase()).await? {
        return Err(DomainError::NotFound);
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ModelAliasRemoved)
            .actor(actor.user_id, &actor.name)
            .target("model", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"alias": alias})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// 2 to 10 versions of one model side by side, oldest first, with their metadata keys.
pub async fn compare(
    pool: &PgPool,
    actor: &Principal,
    model: &str,
    versions: &[String],
) -> Result<ModelVersionComparison> {
    let mut conn = pool.acquire().await?;
    let row = visible_model(&mut *conn, actor, model).await?;
    let mut references: Vec<&str> = Vec::new();
    for reference in versions.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !references.contains(&reference) {
            references.push(reference);
        }
    }
    if references.len() > MAX_COMPARED_VERSIONS {
        return Err(DomainError::field(
            "version",
            format!("at most {MAX_COMPARED_VERSIONS} versions at a time"),
        ));
    }
    let mut ids: Vec<Uuid> = Vec::new();
    for reference in references {
        let id = resolve_version(&mut conn, row.id, reference)
            .await?
            .ok_or_else(|| {
                DomainError::field(
                    "version",
                    format!("{} has no version {reference}", row.name),
                )
            })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() < 2 {
        return Err(DomainError::field(
            "version",
            "choose two different versions or more",
        ));
    }
    if ids.len() > MAX_COMPARED_VERSIONS {
        return Err(DomainError::field(
            "version",
            format!("at most {MAX_COMPARED_VERSIONS} versions at a time"),
        ));
    }
    let mut versions: Vec<ModelVersion> = repo::versions(
        &mut *conn,
        actor.user_id,
        actor.is_admin,
        row.id,
        Some(&ids),
        None,
        None,
        MAX_COMPARED_VERSIONS as u32,
    )
    .await?
    .into_iter()
    .map(version_from)
    .collect();
    versions.sort_by_key(|v| v.number);
    let keys = ModelVersionComparison::keys_of(&versions);
    Ok(ModelVersionComparison {
        model: row.name,
        versions,
        keys,
    })
}

/// A new run of a pipeline that declares a model: finds or creates the model (owned by
/// the run's author, shared with the pipeline's team), then makes a new version or
/// finds (or creates) the named one, and links the run to it. Runs in the run's
/// creating transaction.
pub(crate) async fn link_new_run(
    tx: &mut sqlx::PgConnection,
    actor: &Principal,
    spec_model: &PipelineModel,
    run: Uuid,
    team: Option<Uuid>,
) -> Result<()> {
    let refused = || {
        DomainError::field(
            "model",
            format!(
                "the pipeline's model {} exists and you may not add versions to it",
                spec_model.name
            ),
        )
    };
    let mut row = repo::model(&mut *tx, actor.user_id, None, &spec_model.name).await?;
    if row.is_none() {
        repo::insert_model(
            &mut *tx,
            repo::NewModel {
                name: &spec_model.name,
                description: "",
                license: "",
                tags: &[],
                use_cases: "",
                limitations: "",
                owner: actor.user_id,
                team,
            },
        )
        .await?;
        // Created now or at the same moment by another run: read it either way.
        row = repo::model(&mut *tx, actor.user_id, None, &spec_model.name).await?;
    }
    let row = row.ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Update, resource(&row)).map_err(|_| refused())?;
    repo::lock_model(&mut *tx, row.id).await?;
    let version = match spec_model.reused_version() {
        // By name only: an alias moves, and must not redirect runs to another version.
        Some(name) => match repo::version_id_by_name(&mut *tx, row.id, name).await? {
            Some(id) => {
                let current = repo::version_stage(&mut *tx, id).await?;
                if stage(&current.stage) == ModelStage::Production
                    && authorize(actor, Action::Promote, resource(&row)).is_err()
                {
                    return Err(DomainError::field(
                        "model",
                        format!(
                            "version {name} of {} is in production: only the model's owner, \
                             its team's admins and server admins may run into it",
                            row.name
                        ),
                    ));
                }
                id
            }
            None => repo::insert_version(tx, row.id, Some(name), "", &[], actor.user_id).await?,
        },
        None => repo::insert_version(tx, row.id, None, "", &[], actor.user_id).await?,
    };
    repo::link_run(&mut *tx, version, run).await?;
    Ok(())
}

/// The model version a run made or reused, as (model, version), when the actor may
/// see the model.
pub async fn version_of_run(
    pool: &PgPool,
    actor: &Principal,
    run: Uuid,
) -> Result<Option<(String, VersionRef)>> {
    let Some((version, model)) = repo::version_of_run(pool, run).await? else {
        return Ok(None);
    };
    let Some(row) = repo::model(pool, actor.user_id, Some(model), "").await? else {
        return Ok(None);
    };
    if authorize(actor, Action::Read, resource(&row)).is_err() {
        return Ok(None);
    }
    let stage = repo::version_stage(pool, version).await?;
    Ok(Some((
        row.name,
        VersionRef {
            number: stage.number,
            name: stage.name,
        },
    )))
}

/// Links a run's output to the run's model version (if the run has one).
pub(crate) async fn link_run_output(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    artifact_version: Uuid,
    kind: ArtifactKind,
) -> Result<()> {
    repo::link_run_artifact(db, run, artifact_version, kind.as_str()).await?;
    Ok(())
}

/// Metadata a step of the run logged on the run's model version. Answers why nothing
/// was stored when the version holds too many keys already (the step's result still
/// counts).
pub(crate) async fn log_run_metadata(
    tx: &mut sqlx::PgConnection,
    run: Uuid,
    step_run: Uuid,
    metadata: &Map<String, Value>,
) -> Result<Option<String>> {
    let Some((version, _model)) = repo::version_of_run(&mut *tx, run).await? else {
        // The run started before its pipeline declared a model: nothing to link to.
        return Ok(None);
    };
    let (keys, values) = metadata_parts(metadata);
    if repo::metadata_key_count_with(&mut *tx, version, &keys).await? > MAX_VERSION_METADATA_KEYS {
        return Ok(Some(format!(
            "a version holds at most {MAX_VERSION_METADATA_KEYS} metadata keys"
        )));
    }
    repo::upsert_metadata(tx, version, &keys, &values, Some((run, step_run))).await?;
    Ok(None)
}

/// A cache hit of step run `source`: what it logged on its model version is logged
/// again on this run's version, as if the step had run.
pub(crate) async fn copy_cached_metadata(
    tx: &mut sqlx::PgConnection,
    run: Uuid,
    step_run: Uuid,
    source: Uuid,
) -> Result<()> {
    let logged: Map<String, Value> = repo::metadata_logged_by(&mut *tx, source)
        .await?
        .into_iter()
        .collect();
    if logged.is_empty() {
        return Ok(());
    }
    log_run_metadata(tx, run, step_run, &logged).await?;
    Ok(())
}
