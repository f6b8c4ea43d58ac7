//! Artifacts and their versions, with lineage: the step run that produced a version
//! and the step runs that read it. Visible to whoever may see the pipeline.

use sqlx::PgPool;
use uuid::Uuid;
use weir_api::pagination::{Page, PageQuery};
use weir_api::runs::{Artifact, ArtifactFilter, ArtifactVersion, ArtifactVersionDetail, StepRef};

use super::repo::{self, ArtifactRow};
use super::version_from;
use crate::identity::{Action, Principal, authorize};
use crate::stacks::owned;
use crate::{DomainError, Result, pipelines};

fn artifact_from(row: ArtifactRow) -> Artifact {
    Artifact {
        id: row.id,
        name: row.name,
        pipeline: row.pipeline,
        latest_version: row.latest_version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub async fn list(
    pool: &PgPool,
    actor: &Principal,
    filter: &ArtifactFilter,
    query: &PageQuery,
) -> Result<Page<Artifact>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let pipeline = match filter
        .pipeline
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(name) => match pipelines::visible_pipeline(pool, actor, name).await {
            Ok(row) => Some(row.id),
            Err(DomainError::NotFound) => {
                return Ok(Page::from_rows(vec![], limit, |a: &Artifact| {
                    a.name.clone()
                }));
            }
            Err(e) => return Err(e),
        },
    };
    let rows = repo::list_artifacts(
        pool,
        actor.user_id,
        actor.is_admin,
        pipeline,
        filter.name.as_deref().filter(|n| !n.is_empty()),
        after.as_deref(),
        limit,
    )
    .await?;
    let items = rows.into_iter().map(artifact_from).collect();
    Ok(Page::from_rows(items, limit, |a: &Artifact| a.name.clone()))
}

/// The versions of an artifact, newest first.
pub async fn versions(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    query: &PageQuery,
) -> Result<Page<ArtifactVersion>> {
    let limit = query.limit()?;
    let before: Option<i32> = query.cursor()?;
    let row = repo::artifact(pool, actor.user_id, name)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(
        actor,
        Action::Read,
        owned(Some(row.owner_id), row.my_role.as_deref()),
    )
    .map_err(|_| DomainError::NotFound)?;
    let rows = repo::versions(pool, row.id, before, limit).await?;
    let items = rows.into_iter().map(version_from).collect();
    Ok(Page::from_rows(items, limit, |v: &ArtifactVersion| {
        v.version
    }))
}

/// One version with its producer, its consumers and the metadata its step logged.
pub async fn version(pool: &PgPool, actor: &Principal, id: Uuid) -> Result<ArtifactVersionDetail> {
    let (row, owner, role) = repo::version(pool, actor.user_id, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Read, owned(Some(owner), role.as_deref()))
        .map_err(|_| DomainError::NotFound)?;
    let producer = row.producer_step_run_id;
    let consumers = repo::consumers(pool, id)
        .await?
        .into_iter()
        .map(|(run_id, run, step, step_run_id)| StepRef {
            run_id,
            run,
            step,
            step_run_id,
        })
        .collect();
    let step_metadata = match producer {
        Some(step) => repo::version_metadata(pool, step)
            .await?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    let metadata = repo::artifact_version_metadata(pool, id)
        .await?
        .into_iter()
        .collect();
    Ok(ArtifactVersionDetail {
        version: version_from(row),
        consumers,
        metadata,
        step_metadata,
    })
}
