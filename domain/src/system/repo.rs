//! SQL for the `server_instance` table.

use uuid::Uuid;

use super::Installation;

pub(super) async fn insert_installation_if_absent(
    db: impl sqlx::PgExecutor<'_>,
    instance_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into server_instance (instance_id) values ($1)
         on conflict on constraint server_instance_pkey do nothing",
        instance_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn installation(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<Installation> {
    sqlx::query_as!(
        Installation,
        r#"select instance_id, created_at as "installed_at: chrono::DateTime<chrono::Utc>" from server_instance"#
    )
    .fetch_one(db)
    .await
}
