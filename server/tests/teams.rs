//! Teams over REST against a real Postgres: the role matrix (anonymous, viewer, editor,
//! team admin, member of another team, server admin), invitations that work once and
//! expire, accepting with an existing or a new account, and the last-admin rule.

mod common;

use common::*;
use serde_json::json;
use sqlx::PgPool;

struct World {
    app: axum::Router,
    admin: String,
    team: String,
    lead: (String, String),
    editor: (String, String),
    viewer: (String, String),
    outsider: (String, String),
}

async fn world(pool: &PgPool) -> World {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, pool).await;
    let lead = person(&app, &admin, "lead").await;
    let editor = person(&app, &admin, "eddie").await;
    let viewer = person(&app, &admin, "vera").await;
    let outsider = person(&app, &admin, "otto").await;
    let team = call(
        &app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ml", "display_name": "ML team"})),
        Some(&lead.1),
    )
    .await;
    assert_eq!(team.status, 201, "{}", team.text);
    assert_eq!(
        team.json()["my_role"],
        "admin",
        "the creator is the team's admin"
    );
    let team = team.json()["id"].as_str().expect("id").to_string();
    for (who, role) in [("eddie", "editor"), ("vera", "viewer")] {
        let added = call(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/members"),
            Some(json!({"user": who, "role": role})),
            Some(&lead.1),
        )
        .await;
        assert_eq!(added.status, 201, "{}", added.text);
    }
    let other = call(
        &app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "other"})),
        Some(&outsider.1),
    )
    .await;
    assert_eq!(other.status, 201);
    World {
        app,
        admin,
        team,
        lead,
        editor,
        viewer,
        outsider,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_role_matrix_over_team_routes(pool: PgPool) {
    let w = world(&pool).await;
    let t = &w.team;
    let bob_id = w.viewer.0.clone();
    // (who, key) → expected status for: read team, list members, add member, change role,
    // create invitation, list invitations.
    let cases: Vec<(&str, Option<&str>, [u16; 6])> = vec![
        ("anonymous", None, [401, 401, 401, 401, 401, 401]),
        ("viewer", Some(&w.viewer.1), [200, 200, 403, 403, 403, 403]),
        ("editor", Some(&w.editor.1), [200, 200, 403, 403, 403, 403]),
        (
            "member of another team",
            Some(&w.outsider.1),
            [404, 404, 404, 404, 404, 404],
        ),
        (
            "team admin",
            Some(&w.lead.1),
            [200, 200, 409, 204, 201, 200],
        ),
        (
            "server admin",
            Some(&w.admin),
            [200, 200, 409, 204, 201, 200],
        ),
    ];
    for (who, key, expected) in cases {
        let got = [
            call(&w.app, "GET", &format!("/api/v1/teams/{t}"), None, key)
                .await
                .status,
            call(
                &w.app,
                "GET",
                &format!("/api/v1/teams/{t}/members"),
                None,
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "POST",
                &format!("/api/v1/teams/{t}/members"),
                Some(json!({"user": "vera", "role": "editor"})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "PUT",
                &format!("/api/v1/teams/{t}/members/{bob_id}"),
                Some(json!({"role": "viewer"})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "POST",
                &format!("/api/v1/teams/{t}/invitations"),
                Some(json!({"role": "viewer"})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "GET",
                &format!("/api/v1/teams/{t}/invitations"),
                None,
                key,
            )
            .await
            .status,
        ];
        assert_eq!(got, expected, "{who}");
    }
    // Lists: members see their teams, server admins see all.
    let mine = call(&w.app, "GET", "/api/v1/teams", None, Some(&w.viewer.1))
        .await
        .json();
    assert_eq!(mine["items"].as_array().expect("items").len(), 1);
    assert_eq!(mine["items"][0]["my_role"], "viewer");
    let all = call(&w.app, "GET", "/api/v1/teams", None, Some(&w.admin))
        .await
        .json();
    assert_eq!(all["items"].as_array().expect("items").len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invitation_works_once_for_an_existing_account(pool: PgPool) {
    let w = world(&pool).await;
    let created = call(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{}/invitations", w.team),
        Some(json!({"role": "editor"})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let link = created.json()["link"].as_str().expect("link").to_string();
    assert!(link.starts_with("http://127.0.0.1:8080/invite/"), "{link}");
    let token = link.rsplit('/').next().expect("token").to_string();

    let listed = call(
        &w.app,
        "GET",
        &format!("/api/v1/teams/{}/invitations", w.team),
        None,
        Some(&w.lead.1),
    )
    .await;
    assert!(!listed.text.contains(&token), "lists never show the link");
    assert_eq!(listed.json()["items"][0]["state"], "pending");

    let preview = call(
        &w.app,
        "POST",
        "/api/v1/invitations/preview",
        Some(json!({"token": token})),
        None,
    )
    .await;
    assert_eq!(preview.status, 200);
    assert_eq!(preview.json()["team_name"], "ml");
    assert_eq!(preview.json()["role"], "editor");

    let joined = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": token})),
        Some(&w.outsider.1),
    )
    .await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    assert_eq!(joined.json()["my_role"], "editor");
    assert_eq!(
        call(
            &w.app,
            "GET",
            &format!("/api/v1/teams/{}", w.team),
            None,
            Some(&w.outsider.1)
        )
        .await
        .status,
        200
    );

    let reused = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": token})),
        Some(&w.admin),
    )
    .await;
    assert_eq!(reused.status, 409, "a link works once: {}", reused.text);
    let made_up = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": "made-up"})),
        Some(&w.admin),
    )
    .await;
    assert_eq!(made_up.status, 403);
    let accepted = call(
        &w.app,
        "GET",
        &format!("/api/v1/teams/{}/invitations", w.team),
        None,
        Some(&w.lead.1),
    )
    .await
    .json();
    assert_eq!(accepted["items"][0]["state"], "accepted");
    assert_eq!(accepted["items"][0]["accepted_by"], "otto");
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_and_revoked_invitations_are_refused(pool: PgPool) {
    let w = world(&pool).await;
    let invite = |app: axum::Router, team: String, key: String| async move {
        let c = call(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/invitations"),
            Some(json!({"role": "viewer", "expires_in_days": 1})),
            Some(&key),
        )
        .await;
        assert_eq!(c.status, 201);
        let body = c.json();
        (
            body["invitation"]["id"].as_str().expect("id").to_string(),
            body["link"]
                .as_str()
                .expect("link")
                .rsplit('/')
                .next()
                .expect("t")
                .to_string(),
        )
    };
    let (expiring_id, expiring) = invite(w.app.clone(), w.team.clone(), w.lead.1.clone()).await;
    sqlx::query(
        "update invitation set expires_at = now() - interval '1 minute' where id = $1::uuid",
    )
    .bind(&expiring_id)
    .execute(&pool)
    .await
    .expect("age the invitation");
    let expired = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": expiring})),
        Some(&w.outsider.1),
    )
    .await;
    assert_eq!(expired.status, 409);
    assert!(expired.text.contains("expired"), "{}", expired.text);

    let (revoked_id, revoked) = invite(w.app.clone(), w.team.clone(), w.lead.1.clone()).await;
    let regenerated = call(
        &w.app,
        "POST",
        &format!("/api/v1/invitations/{revoked_id}/regenerate"),
        None,
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(regenerated.status, 201, "{}", regenerated.text);
    let refused = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": revoked})),
        Some(&w.outsider.1),
    )
    .await;
    assert_eq!(refused.status, 409);
    assert!(refused.text.contains("revoked"), "{}", refused.text);
    let fresh = regenerated.json()["link"]
        .as_str()
        .expect("link")
        .rsplit('/')
        .next()
        .expect("t")
        .to_string();
    let ok = call(
        &w.app,
        "POST",
        "/api/v1/invitations/accept",
        Some(json!({"token": fresh})),
        Some(&w.outsider.1),
    )
    .await;
    assert_eq!(ok.status, 200, "the regenerated link works: {}", ok.text);
    assert_eq!(ok.json()["my_role"], "viewer", "with the same role");

    let bad_days = call(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{}/invitations", w.team),
        Some(json!({"role": "viewer", "expires_in_days": 90})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(bad_days.status, 422);
    let bad_role = call(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{}/invitations", w.team),
        Some(json!({"role": "owner"})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(bad_role.status, 422);
    assert_eq!(bad_role.json()["error"]["fields"][0]["field"], "role");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_account_can_join_through_a_link(pool: PgPool) {
    let w = world(&pool).await;
    let created = call(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{}/invitations", w.team),
        Some(json!({"role": "viewer"})),
        Some(&w.lead.1),
    )
    .await;
    let token = created.json()["link"]
        .as_str()
        .expect("link")
        .rsplit('/')
        .next()
        .expect("t")
        .to_string();
    let weak = call(
        &w.app,
        "POST",
        "/api/v1/invitations/register",
        Some(json!({"token": token, "name": "newbie", "password": "short"})),
        None,
    )
    .await;
    assert_eq!(weak.status, 422);
    let taken = call(
        &w.app,
        "POST",
        "/api/v1/invitations/register",
        Some(json!({"token": token, "name": "LEAD", "password": "a long password"})),
        None,
    )
    .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    let joined = call(
        &w.app,
        "POST",
        "/api/v1/invitations/register",
        Some(json!({"token": token, "name": "newbie", "password": "a long password"})),
        None,
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.text);
    let cookie = session_cookie(&joined).expect("signed in");
    let teams = get_with(&w.app, "/api/v1/teams", &[("cookie", &cookie)])
        .await
        .json();
    assert_eq!(teams["items"][0]["name"], "ml");
    assert_eq!(teams["items"][0]["my_role"], "viewer");
    let again = call(
        &w.app,
        "POST",
        "/api/v1/invitations/register",
        Some(json!({"token": token, "name": "second", "password": "a long password"})),
        None,
    )
    .await;
    assert_eq!(again.status, 409, "used up");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_team_keeps_at_least_one_admin(pool: PgPool) {
    let w = world(&pool).await;
    let t = &w.team;
    let lead_id = &w.lead.0;
    let demote = call(
        &w.app,
        "PUT",
        &format!("/api/v1/teams/{t}/members/{lead_id}"),
        Some(json!({"role": "editor"})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(demote.status, 409, "{}", demote.text);
    let leave = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/teams/{t}/members/{lead_id}"),
        None,
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(leave.status, 409);
    let promote = call(
        &w.app,
        "PUT",
        &format!("/api/v1/teams/{t}/members/{}", w.editor.0),
        Some(json!({"role": "admin"})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(promote.status, 204);
    let leave = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/teams/{t}/members/{lead_id}"),
        None,
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(leave.status, 204, "with another admin, the lead may leave");
    // A viewer may leave on their own, but not remove others.
    let kick = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/teams/{t}/members/{}", w.editor.0),
        None,
        Some(&w.viewer.1),
    )
    .await;
    assert_eq!(kick.status, 403);
    let own = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/teams/{t}/members/{}", w.viewer.0),
        None,
        Some(&w.viewer.1),
    )
    .await;
    assert_eq!(own.status, 204);

    let roles: Vec<String> = sqlx::query_scalar("select action from audit_event where action in ('role_changed', 'member_removed', 'member_added', 'team_created') order by id")
        .fetch_all(&pool)
        .await
        .expect("audit");
    assert!(
        roles.contains(&"role_changed".to_string())
            && roles.contains(&"member_removed".to_string()),
        "{roles:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn team_names_are_unique_and_validated(pool: PgPool) {
    let w = world(&pool).await;
    let dup = call(
        &w.app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ML"})),
        Some(&w.editor.1),
    )
    .await;
    assert_eq!(dup.status, 409);
    let bad = call(
        &w.app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ml team"})),
        Some(&w.editor.1),
    )
    .await;
    assert_eq!(bad.status, 422);
    let unknown = call(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{}/members", w.team),
        Some(json!({"user": "ghost", "role": "viewer"})),
        Some(&w.lead.1),
    )
    .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json()["error"]["fields"][0]["field"], "user");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_role_matrix_over_user_and_key_routes(pool: PgPool) {
    let w = world(&pool).await;
    // A service account whose keys only administrators manage, and a spare key of Eddie's.
    let bot = call(
        &w.app,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "bot", "is_service_account": true})),
        Some(&w.admin),
    )
    .await;
    let bot_id = bot.json()["id"].as_str().expect("id").to_string();
    let spare = call(
        &w.app,
        "POST",
        "/api/v1/api-keys",
        Some(json!({"name": "spare"})),
        Some(&w.editor.1),
    )
    .await;
    assert_eq!(spare.status, 201);
    let eddie_key_id = spare.json()["key"]["id"].as_str().expect("key").to_string();
    let vera_id = w.viewer.0.clone();
    // (who, key) → list users, create user, deactivate Vera, list the bot's keys,
    // create a key for the bot, revoke Eddie's key, read the audit log.
    let cases: Vec<(&str, Option<&str>, [u16; 7])> = vec![
        ("anonymous", None, [401, 401, 401, 401, 401, 401, 401]),
        (
            "viewer",
            Some(&w.viewer.1),
            [403, 403, 403, 403, 403, 404, 403],
        ),
        (
            "editor",
            Some(&w.editor.1),
            [403, 403, 403, 403, 403, 200, 403],
        ),
        (
            "team admin",
            Some(&w.lead.1),
            [403, 403, 403, 403, 403, 404, 403],
        ),
        (
            "member of another team",
            Some(&w.outsider.1),
            [403, 403, 403, 403, 403, 404, 403],
        ),
        (
            "server admin",
            Some(&w.admin),
            [200, 201, 200, 200, 201, 200, 200],
        ),
    ];
    for (i, (who, key, expected)) in cases.into_iter().enumerate() {
        let got = [
            call(&w.app, "GET", "/api/v1/users", None, key).await.status,
            call(
                &w.app,
                "POST",
                "/api/v1/users",
                Some(json!({"name": format!("made{i}"), "password": "a long password"})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "POST",
                &format!("/api/v1/users/{vera_id}/deactivate"),
                Some(json!({})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "GET",
                &format!("/api/v1/api-keys?user_id={bot_id}"),
                None,
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "POST",
                "/api/v1/api-keys",
                Some(json!({"name": "bot key", "user_id": bot_id})),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "DELETE",
                &format!("/api/v1/api-keys/{eddie_key_id}"),
                None,
                key,
            )
            .await
            .status,
            call(&w.app, "GET", "/api/v1/audit-events", None, key)
                .await
                .status,
        ];
        assert_eq!(got, expected, "{who}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn accepting_and_revoking_at_once_leaves_one_outcome(pool: PgPool) {
    let w = world(&pool).await;
    for round in 0..8 {
        let created = call(
            &w.app,
            "POST",
            &format!("/api/v1/teams/{}/invitations", w.team),
            Some(json!({"role": "viewer"})),
            Some(&w.lead.1),
        )
        .await;
        let body = created.json();
        let id = body["invitation"]["id"].as_str().expect("id").to_string();
        let token = body["link"]
            .as_str()
            .expect("link")
            .rsplit('/')
            .next()
            .expect("t")
            .to_string();
        let newcomer = format!("racer{round}");
        let register_body =
            json!({"token": token, "name": newcomer, "password": "a long password"});
        let regenerate_uri = format!("/api/v1/invitations/{id}/regenerate");
        let (accepted, revoked) = tokio::join!(
            call(
                &w.app,
                "POST",
                "/api/v1/invitations/register",
                Some(register_body),
                None
            ),
            call(&w.app, "POST", &regenerate_uri, None, Some(&w.lead.1)),
        );
        assert_eq!(revoked.status, 201, "{}", revoked.text);
        assert!(matches!(accepted.status, 201 | 409), "{}", accepted.text);
    }
    let both: i64 = sqlx::query_scalar(
        "select count(*) from invitation where accepted_at is not null and revoked_at is not null",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(both, 0, "no invitation is both accepted and revoked");
    let orphans: i64 = sqlx::query_scalar(
        "select count(*) from invitation i where i.accepted_at is not null
           and not exists (select 1 from team_member m where m.team_id = i.team_id and m.user_id = i.accepted_by)",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(orphans, 0, "every accepted invitation made a member");
}
