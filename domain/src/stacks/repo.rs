//! SQL of flavors, components and stacks. Visibility: the caller's own, the server's,
//! and what is shared with a team the caller belongs to (administrators see all).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub(crate) struct FlavorRow {
    pub id: Uuid,
    pub component_type: String,
    pub name: String,
    pub description: String,
    pub config_schema: Value,
    pub builtin: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn upsert_builtin_flavor(
    db: impl sqlx::PgExecutor<'_>,
    component_type: &str,
    name: &str,
    description: &str,
    schema: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into flavor (id, component_type, name, description, config_schema, builtin)
         values ($1, $2, $3, $4, $5::text::json, true)
         on conflict on constraint flavor_type_name_key do update
            set description = excluded.description, config_schema = excluded.config_schema,
                builtin = true, updated_at = now()
          where flavor.description <> excluded.description
             or flavor.config_schema::text <> excluded.config_schema::text",
        Uuid::new_v4(),
        component_type,
        name,
        description,
        // As text: a JSON parameter travels as jsonb and loses the fields' order.
        schema.to_string()
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn insert_flavor(
    db: impl sqlx::PgExecutor<'_>,
    component_type: &str,
    name: &str,
    description: &str,
    schema: &Value,
    created_by: Uuid,
) -> sqlx::Result<FlavorRow> {
    sqlx::query_as!(
        FlavorRow,
        r#"insert into flavor (id, component_type, name, description, config_schema, created_by)
           values ($1, $2, $3, $4, $5::text::json, $6)
           returning id, component_type, name, description, config_schema, builtin, created_by,
                     created_at as "created_at: DateTime<Utc>""#,
        Uuid::new_v4(),
        component_type,
        name,
        description,
        schema.to_string(),
        created_by
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn flavor(
    db: impl sqlx::PgExecutor<'_>,
    component_type: &str,
    name: &str,
) -> sqlx::Result<Option<FlavorRow>> {
    sqlx::query_as!(
        FlavorRow,
        r#"select id, component_type, name, description, config_schema, builtin, created_by,
                  created_at as "created_at: DateTime<Utc>"
             from flavor where component_type = $1 and name = $2"#,
        component_type,
        name
    )
    .fetch_optional(db)
    .await
}

/// Flavors after `(type, name)`, ordered by type then name.
pub(crate) async fn list_flavors(
    db: impl sqlx::PgExecutor<'_>,
    component_type: Option<&str>,
    after: Option<(String, String)>,
    limit: u32,
) -> sqlx::Result<Vec<FlavorRow>> {
    let (after_type, after_name) = after.unzip();
    sqlx::query_as!(
        FlavorRow,
        r#"select id, component_type, name, description, config_schema, builtin, created_by,
                  created_at as "created_at: DateTime<Utc>"
             from flavor
            where ($1::text is null or component_type = $1)
              and ($2::text is null or (component_type, name) > ($2, $3::text))
            order by component_type, name
            limit $4"#,
        component_type,
        after_type,
        after_name,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn delete_flavor(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from flavor where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn flavor_in_use(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from stack_component where flavor_id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

pub(crate) struct ComponentRow {
    pub id: Uuid,
    pub name: String,
    pub component_type: String,
    pub flavor: String,
    pub config: Value,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub team_id: Option<Uuid>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub used_by: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) struct ComponentQuery<'a> {
    pub viewer: Uuid,
    pub all: bool,
    pub component_type: Option<&'a str>,
    pub flavor: Option<&'a str>,
    pub name_contains: Option<&'a str>,
    pub after: Option<&'a str>,
    pub limit: u32,
}

pub(crate) async fn list_components(
    db: impl sqlx::PgExecutor<'_>,
    q: ComponentQuery<'_>,
) -> sqlx::Result<Vec<ComponentRow>> {
    sqlx::query_as!(
        ComponentRow,
        r#"select c.id, c.name, c.component_type, f.name as flavor, c.config,
                  c.owner_id, u.name as "owner_name?", c.team_id, t.name as "team_name?",
                  m.role as "my_role?",
                  array(select s.name from stack_slot ss join stack s on s.id = ss.stack_id
                         where ss.component_id = c.id
                           and ($2 or s.owner_id is null or s.owner_id = $1
                                or s.team_id in (select team_id from team_member where user_id = $1))
                         order by lower(s.name) limit 50) as "used_by!",
                  c.created_at as "created_at: DateTime<Utc>", c.updated_at as "updated_at: DateTime<Utc>"
             from stack_component c
             join flavor f on f.id = c.flavor_id
             left join app_user u on u.id = c.owner_id
             left join team t on t.id = c.team_id
             left join team_member m on m.team_id = c.team_id and m.user_id = $1
            where ($2 or c.owner_id is null or c.owner_id = $1 or m.user_id is not null)
              and ($3::text is null or c.component_type = $3)
              and ($4::text is null or f.name = $4)
              and ($5::text is null or strpos(lower(c.name), lower($5)) > 0)
              and ($6::text is null or lower(c.name) > $6)
            order by lower(c.name)
            limit $7"#,
        q.viewer,
        q.all,
        q.component_type,
        q.flavor,
        q.name_contains,
        q.after,
        i64::from(q.limit) + 1
    )
    .fetch_all(db)
    .await
}

/// One component by name (case-insensitive), whoever may see it; `used_by` names the
/// stacks `viewer` may see (all of them when `all`).
pub(crate) async fn component(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
    all: bool,
) -> sqlx::Result<Option<ComponentRow>> {
    sqlx::query_as!(
        ComponentRow,
        r#"select c.id, c.name, c.component_type, f.name as flavor, c.config,
                  c.owner_id, u.name as "owner_name?", c.team_id, t.name as "team_name?",
                  m.role as "my_role?",
                  array(select s.name from stack_slot ss join stack s on s.id = ss.stack_id
                         where ss.component_id = c.id
                           and ($3 or s.owner_id is null or s.owner_id = $1
                                or s.team_id in (select team_id from team_member where user_id = $1))
                         order by lower(s.name) limit 50) as "used_by!",
                  c.created_at as "created_at: DateTime<Utc>", c.updated_at as "updated_at: DateTime<Utc>"
             from stack_component c
             join flavor f on f.id = c.flavor_id
             left join app_user u on u.id = c.owner_id
             left join team t on t.id = c.team_id
             left join team_member m on m.team_id = c.team_id and m.user_id = $1
            where lower(c.name) = lower($2)"#,
        viewer,
        name,
        all
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn insert_component(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
    component_type: &str,
    flavor_id: Uuid,
    config: &Value,
    owner: Option<Uuid>,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "insert into stack_component (id, name, component_type, flavor_id, config, owner_id)
         values ($1, $2, $3, $4, $5, $6) returning id",
        Uuid::new_v4(),
        name,
        component_type,
        flavor_id,
        config,
        owner
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn update_component(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: &str,
    config: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update stack_component set name = $2, config = $3, updated_at = now() where id = $1",
        id,
        name,
        config
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn set_component_team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    team: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update stack_component set team_id = $2, updated_at = now() where id = $1",
        id,
        team
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn delete_component(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from stack_component where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) struct StackRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) async fn list_stacks(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    all: bool,
    name_contains: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<StackRow>> {
    sqlx::query_as!(
        StackRow,
        r#"select s.id, s.name, s.description, s.is_default, s.owner_id, u.name as "owner_name?",
                  t.name as "team_name?", m.role as "my_role?",
                  s.created_at as "created_at: DateTime<Utc>", s.updated_at as "updated_at: DateTime<Utc>"
             from stack s
             left join app_user u on u.id = s.owner_id
             left join team t on t.id = s.team_id
             left join team_member m on m.team_id = s.team_id and m.user_id = $1
            where ($2 or s.owner_id is null or s.owner_id = $1 or m.user_id is not null)
              and ($3::text is null or strpos(lower(s.name), lower($3)) > 0)
              and ($4::text is null or lower(s.name) > $4)
            order by lower(s.name)
            limit $5"#,
        viewer,
        all,
        name_contains,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn stack(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
) -> sqlx::Result<Option<StackRow>> {
    sqlx::query_as!(
        StackRow,
        r#"select s.id, s.name, s.description, s.is_default, s.owner_id, u.name as "owner_name?",
                  t.name as "team_name?", m.role as "my_role?",
                  s.created_at as "created_at: DateTime<Utc>", s.updated_at as "updated_at: DateTime<Utc>"
             from stack s
             left join app_user u on u.id = s.owner_id
             left join team t on t.id = s.team_id
             left join team_member m on m.team_id = s.team_id and m.user_id = $1
            where lower(s.name) = lower($2)"#,
        viewer,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn stack_by_id(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<StackRow>> {
    sqlx::query_as!(
        StackRow,
        r#"select s.id, s.name, s.description, s.is_default, s.owner_id, u.name as "owner_name?",
                  t.name as "team_name?", m.role as "my_role?",
                  s.created_at as "created_at: DateTime<Utc>", s.updated_at as "updated_at: DateTime<Utc>"
             from stack s
             left join app_user u on u.id = s.owner_id
             left join team t on t.id = s.team_id
             left join team_member m on m.team_id = s.team_id and m.user_id = $1
            where s.id = $2"#,
        viewer,
        id
    )
    .fetch_optional(db)
    .await
}

pub(crate) struct SlotRow {
    pub stack_id: Uuid,
    pub component_type: String,
    pub name: String,
    pub flavor: String,
}

pub(crate) async fn slots(
    db: impl sqlx::PgExecutor<'_>,
    stacks: &[Uuid],
) -> sqlx::Result<Vec<SlotRow>> {
    sqlx::query_as!(
        SlotRow,
        r#"select ss.stack_id, ss.component_type, c.name, f.name as flavor
             from stack_slot ss
             join stack_component c on c.id = ss.component_id
             join flavor f on f.id = c.flavor_id
            where ss.stack_id = any($1)"#,
        stacks
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn insert_stack(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
    description: &str,
    owner: Option<Uuid>,
    is_default: bool,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "insert into stack (id, name, description, owner_id, is_default)
         values ($1, $2, $3, $4, $5) returning id",
        Uuid::new_v4(),
        name,
        description,
        owner,
        is_default
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn set_slot(
    db: impl sqlx::PgExecutor<'_>,
    stack: Uuid,
    component_type: &str,
    component: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into stack_slot (stack_id, component_type, component_id) values ($1, $2, $3)
         on conflict on constraint stack_slot_pkey do update set component_id = excluded.component_id",
        stack,
        component_type,
        component
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn clear_slot(
    db: impl sqlx::PgExecutor<'_>,
    stack: Uuid,
    component_type: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from stack_slot where stack_id = $1 and component_type = $2",
        stack,
        component_type
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn update_stack(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: &str,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update stack set name = $2, description = $3, updated_at = now() where id = $1",
        id,
        name,
        description
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn set_stack_team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    team: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update stack set team_id = $2, updated_at = now() where id = $1",
        id,
        team
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn delete_stack(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from stack where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn default_stack_id(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!("select id from stack where is_default")
        .fetch_optional(db)
        .await
}

pub(crate) async fn active_stack_id(
    db: impl sqlx::PgExecutor<'_>,
    user: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    Ok(
        sqlx::query_scalar!("select active_stack_id from app_user where id = $1", user)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

pub(crate) async fn set_active_stack(
    db: impl sqlx::PgExecutor<'_>,
    user: Uuid,
    stack: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update app_user set active_stack_id = $2 where id = $1",
        user,
        stack
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The team with this name and the caller's role in it.
pub(crate) async fn team_and_role(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
) -> sqlx::Result<Option<(Uuid, Option<String>)>> {
    Ok(sqlx::query!(
        r#"select t.id, m.role as "role?" from team t
             left join team_member m on m.team_id = t.id and m.user_id = $1
            where lower(t.name) = lower($2)"#,
        viewer,
        name
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.id, r.role)))
}
