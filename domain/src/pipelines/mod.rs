//! Pipelines and their snapshots: registering a spec (validated, keyed by content hash
//! so the same spec gives the same snapshot), listing, sharing and deleting.

pub(crate) mod repo;

use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::pagination::{Page, PageQuery};
use weir_api::pipelines::{
    Entrypoint, Pipeline, PipelineFilter, PipelineSpec, RegisterPipelineRequest,
    RegisterPipelineResponse, Snapshot,
};
use weir_api::stacks::ShareRequest;

use self::repo::{PipelineRow, SnapshotRow};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Action, Principal, Resource, authorize};
use crate::stacks::{owned, ownership, share_target_for};
use crate::{DomainError, Result};

pub(crate) fn resource(row: &PipelineRow) -> Resource {
    owned(Some(row.owner_id), row.my_role.as_deref())
}

fn pipeline_from(actor: &Principal, row: PipelineRow) -> Pipeline {
    let resource = resource(&row);
    Pipeline {
        id: row.id,
        name: row.name,
        description: row.description,
        ownership: ownership(actor, row.owner_name, row.team_name, resource),
        latest_version: row.latest_version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn snapshot_from(row: SnapshotRow) -> Result<Snapshot> {
    Ok(Snapshot {
        id: row.id,
        pipeline: row.pipeline,
        version: row.version,
        content_hash: row.content_hash,
        spec: serde_json::from_value(row.spec)
            .map_err(|e| anyhow::anyhow!("stored spec of snapshot {} unreadable: {e}", row.id))?,
        parameter_schema: row.parameter_schema,
        entrypoint: serde_json::from_value(row.entrypoint).map_err(|e| {
            anyhow::anyhow!("stored entrypoint of snapshot {} unreadable: {e}", row.id)
        })?,
        created_by: row.created_by,
        created_at: row.created_at,
    })
}

/// A pipeline the actor may see (404 otherwise).
pub(crate) async fn visible_pipeline(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    name: &str,
) -> Result<PipelineRow> {
    let row = repo::pipeline(db, actor.user_id, name)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Read, resource(&row)).map_err(|_| DomainError::NotFound)?;
    Ok(row)
}

fn check_entrypoint(entrypoint: &Entrypoint) -> Result<()> {
    let mut problems = Vec::new();
    let absolute = |p: &str| p.starts_with('/');
    if entrypoint.working_dir.is_none() && entrypoint.binary.is_none() && entrypoint.image.is_none()
    {
        problems.push(FieldError::new(
            "entrypoint",
            "give a working_dir, a binary or an image: how the steps are launched",
        ));
    }
    for (field, value) in [
        ("entrypoint.working_dir", &entrypoint.working_dir),
        ("entrypoint.binary", &entrypoint.binary),
    ] {
        if let Some(path) = value
            && (!absolute(path) || path.len() > 4096 || path.contains('\0'))
        {
            problems.push(FieldError::new(field, "must be an absolute path"));
        }
    }
    if let Some(image) = &entrypoint.image
        && (image.trim().is_empty() || image.len() > 1024 || image.chars().any(char::is_control))
    {
        problems.push(FieldError::new(
            "entrypoint.image",
            "must be an image reference",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(problems))
    }
}

fn prefixed(problems: Vec<FieldError>, prefix: &str) -> DomainError {
    DomainError::Validation(
        problems
            .into_iter()
            .map(|e| FieldError::new(format!("{prefix}.{}", e.field), e.message))
            .collect(),
    )
}

/// Registers a spec: creates the pipeline on first use (shared with `team` if given),
/// then returns the snapshot with this content hash, creating it if new.
pub async fn register(
    pool: &PgPool,
    actor: &Principal,
    req: RegisterPipelineRequest,
    client: Option<&str>,
) -> Result<RegisterPipelineResponse> {
    authorize(actor, Action::Read, Resource::System)?;
    req.spec.validate().map_err(|p| prefixed(p, "spec"))?;
    check_entrypoint(&req.entrypoint)?;
    let spec: &PipelineSpec = &req.spec;
    let hash = spec.content_hash(&req.entrypoint);
    let mut tx = pool.begin().await?;
    let existing = repo::pipeline(&mut *tx, actor.user_id, &spec.name).await?;
    let pipeline_id = match existing {
        Some(row) => {
            authorize(actor, Action::Read, resource(&row)).map_err(|_| {
                DomainError::Conflict(format!(
                    "the pipeline name {} is taken; pipeline names are unique on this server",
                    spec.name
                ))
            })?;
            authorize(actor, Action::Update, resource(&row))?;
            row.id
        }
        None => {
            let team = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
            match repo::insert_pipeline(
                &mut *tx,
                &spec.name,
                &spec.description,
                actor.user_id,
                team.map(|t| t.0),
            )
            .await?
            {
                Some(id) => id,
                None => {
                    // Created at the same moment by someone else: go through the
                    // checks on the existing one.
                    let row = repo::pipeline(&mut *tx, actor.user_id, &spec.name)
                        .await?
                        .ok_or(DomainError::NotFound)?;
                    authorize(actor, Action::Update, resource(&row))?;
                    row.id
                }
            }
        }
    };
    repo::lock_pipeline(&mut *tx, pipeline_id).await?;
    let (snapshot, created) = match repo::snapshot_by_hash(&mut *tx, pipeline_id, &hash).await? {
        Some(row) => (row, false),
        None => {
            let spec_json = serde_json::to_value(spec)
                .map_err(|e| anyhow::anyhow!("spec not serialisable: {e}"))?;
            let entrypoint = serde_json::to_value(&req.entrypoint)
                .map_err(|e| anyhow::anyhow!("entrypoint not serialisable: {e}"))?;
            let id = repo::insert_snapshot(
                &mut tx,
                pipeline_id,
                &hash,
                &spec_json,
                &spec.parameter_schema(),
                &entrypoint,
                actor.user_id,
            )
            .await?;
            let row = repo::snapshot(&mut *tx, id)
                .await?
                .ok_or(DomainError::NotFound)?;
            audit::record(
                &mut *tx,
                AuditEvent::new(AuditAction::PipelineRegistered)
                    .actor(actor.user_id, &actor.name)
                    .target("pipeline", pipeline_id, &spec.name)
                    .from_addr(client)
                    .detail(serde_json::json!({"version": row.version, "content_hash": hash})),
            )
            .await?;
            (row, true)
        }
    };
    let pipeline = repo::pipeline_by_id(&mut *tx, actor.user_id, pipeline_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(RegisterPipelineResponse {
        pipeline: pipeline_from(actor, pipeline),
        snapshot: snapshot_from(snapshot)?,
        created,
    })
}

pub async fn list(
    pool: &PgPool,
    actor: &Principal,
    filter: &PipelineFilter,
    query: &PageQuery,
) -> Result<Page<Pipeline>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows = repo::list(
        pool,
        actor.user_id,
        actor.is_admin,
        filter.name.as_deref().filter(|n| !n.is_empty()),
        after.as_deref(),
        limit,
    )
    .await?;
    let items = rows.into_iter().map(|r| pipeline_from(actor, r)).collect();
    Ok(Page::from_rows(items, limit, |p: &Pipeline| {
        p.name.to_lowercase()
    }))
}

pub async fn get(pool: &PgPool, actor: &Principal, name: &str) -> Result<Pipeline> {
    let row = visible_pipeline(pool, actor, name).await?;
    Ok(pipeline_from(actor, row))
}

pub async fn snapshots(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    query: &PageQuery,
) -> Result<Page<Snapshot>> {
    let limit = query.limit()?;
    let before: Option<i32> = query.cursor()?;
    let row = visible_pipeline(pool, actor, name).await?;
    let rows = repo::snapshots(pool, row.id, before, limit).await?;
    let items = rows
        .into_iter()
        .map(snapshot_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |s: &Snapshot| s.version))
}

pub async fn snapshot(pool: &PgPool, actor: &Principal, id: Uuid) -> Result<Snapshot> {
    let row = repo::snapshot(pool, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let pipeline = repo::pipeline_by_id(pool, actor.user_id, row.pipeline_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Read, resource(&pipeline)).map_err(|_| DomainError::NotFound)?;
    snapshot_from(row)
}

/// Shares a pipeline with a team (its runs from then on belong to that team) or makes
/// it private again. Runs keep the team they were created with.
pub async fn share(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: ShareRequest,
    client: Option<&str>,
) -> Result<Pipeline> {
    let mut tx = pool.begin().await?;
    let row = visible_pipeline(&mut *tx, actor, name).await?;
    authorize(actor, Action::Share, resource(&row))?;
    let team = share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    repo::set_team(&mut *tx, row.id, team.as_ref().map(|t| t.0)).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::Shared)
            .actor(actor.user_id, &actor.name)
            .target("pipeline", row.id, &row.name)
            .from_addr(client)
            .detail(serde_json::json!({"team": team.as_ref().map(|t| &t.1)})),
    )
    .await?;
    let updated = repo::pipeline_by_id(&mut *tx, actor.user_id, row.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(pipeline_from(actor, updated))
}

/// Deletes a pipeline and its snapshots; refused while runs of it exist (history is
/// never lost by accident).
pub async fn delete(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = visible_pipeline(&mut *tx, actor, name).await?;
    authorize(actor, Action::Delete, resource(&row))?;
    repo::lock_pipeline(&mut *tx, row.id).await?;
    if repo::has_runs(&mut *tx, row.id).await? {
        return Err(DomainError::Conflict(format!(
            "the pipeline {} has runs; it cannot be deleted while they exist",
            row.name
        )));
    }
    repo::delete(&mut *tx, row.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::PipelineDeleted)
            .actor(actor.user_id, &actor.name)
            .target("pipeline", row.id, &row.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
