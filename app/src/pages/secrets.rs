//! The secrets vault: the list, creating a secret, one secret (edit, share, delete)
//! and revealing its values behind a confirmation. Plain forms: they work without
//! JavaScript. Values go to the server in form posts and come back only on the page
//! the reveal form answers with.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::secrets::Secret;

use super::auth::Field;
use super::shared::{DeleteForm, LoadError, OwnershipText, TeamSelect};
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::auth::{Flash, take_flash};
use crate::format;
use crate::secrets::{RevealedValues, get_secret, get_secret_list};
use crate::teams::my_teams;

/// Rows of key and value on the create form; empty rows are ignored.
pub const NEW_ROWS: usize = 5;
/// Rows for new keys on the edit form.
pub const ADDED_ROWS: usize = 3;

fn key_chips(keys: Vec<String>) -> impl IntoView {
    view! {
        <ul class="chips" aria-label="Keys">
            {keys.into_iter().map(|k| view! { <li class="chip mono">{k}</li> }).collect_view()}
        </ul>
    }
}

#[component]
fn SecretRow(secret: Secret) -> impl IntoView {
    let href = format!("/secrets/{}", secret.name);
    view! {
        <tr>
            <td><a href=href><strong>{secret.name.clone()}</strong></a></td>
            <td>{key_chips(secret.keys)}</td>
            <td><OwnershipText ownership=secret.ownership /></td>
            <td>{format::datetime(&secret.updated_at)}</td>
        </tr>
    }
}

/// `/secrets`: every secret the user may use, with its keys (never its values).
#[component]
pub fn Secrets() -> impl IntoView {
    let query = use_query_map();
    let secrets = Resource::new(move || query.read().get("cursor"), get_secret_list);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Secrets" />
        <PageHeader title="Secrets" subtitle="Credentials kept encrypted in the vault. Components refer to them as {{secret.key}}.">
            <a class="button" href="/secrets/new">"New secret"</a>
        </PageHeader>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                view! {
                    <Notice flash />
                    {match secrets.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <section class="empty-state" aria-label="No secrets">
                                <h2>"No secrets yet"</h2>
                                <p>"Create a secret with its keys and values, e.g. "
                                    <code>"access_key_id"</code>" and "<code>"secret_access_key"</code>
                                    ". Component forms then offer "<code>"{{name.key}}"</code>" references to it."</p>
                                <p><a class="button" href="/secrets/new">"New secret"</a></p>
                            </section>
                        }.into_any(),
                        Ok(page) => view! {
                            <table class="table" aria-label="Secrets">
                                <thead><tr><th>"Secret"</th><th>"Keys"</th><th>"Shared"</th><th>"Updated"</th></tr></thead>
                                <tbody>{page.items.into_iter().map(|secret| view! { <SecretRow secret /> }).collect_view()}</tbody>
                            </table>
                            {next_link("/secrets", "", page.next_cursor)}
                        }.into_any(),
                        Err(error) => view! { <LoadError error /> }.into_any(),
                    }}
                }
            })}
        </Suspense>
    }
}

/// One row of key and value. The value is never filled in again after a refusal.
#[component]
fn KeyValueRow(
    index: usize,
    prefix: &'static str,
    key: String,
    error: Option<String>,
) -> impl IntoView {
    let key_id = format!("{prefix}key-{index}");
    let value_id = format!("{prefix}value-{index}");
    let error_id = format!("{prefix}row-{index}-error");
    let invalid = error.is_some();
    let label = if prefix.is_empty() { "" } else { "New " };
    view! {
        <div class="kv-row">
            <label class="sr-only" for=key_id.clone()>{format!("{label}Key {index}")}</label>
            <input id=key_id name=format!("{prefix}key_{index}") value=key autocomplete="off"
                class="mono" placeholder="key" aria-invalid=invalid.then_some("true")
                aria-describedby=invalid.then(|| error_id.clone()) />
            <label class="sr-only" for=value_id.clone()>{format!("{label}Value {index}")}</label>
            <input id=value_id name=format!("{prefix}value_{index}") type="password"
                autocomplete="new-password" placeholder="value" aria-invalid=invalid.then_some("true") />
            {error.map(|message| view! { <p class="field-error" id=error_id>{message}</p> })}
        </div>
    }
}

fn row_error(flash: &Flash, key: &str) -> Option<String> {
    (!key.trim().is_empty())
        .then(|| flash.field(&format!("values.{}", key.trim())))
        .flatten()
}

/// `/secrets/new`: name, team, and up to five keys with their values.
#[component]
pub fn NewSecret() -> impl IntoView {
    let teams = Resource::new(|| (), |_| my_teams(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="New secret" />
        <PageHeader title="New secret" subtitle="Values are encrypted at once and never shown in lists." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let teams = teams.await.map(|p| p.items).unwrap_or_default();
                let team = flash.value("team").filter(|t| !t.is_empty()).map(str::to_string);
                view! {
                    <Notice flash=flash.clone() />
                    <section class="card form-card" aria-labelledby="new-secret-title">
                        <h2 id="new-secret-title">"Secret"</h2>
                        <form method="post" action="/forms/secrets/create" class="form">
                            <Field label="Name" name="name" required=true value=flash.name.clone()
                                hint="Letters, digits, '-' and '_'. References use it: {{name.key}}." flash=flash.clone() />
                            <div class="field">
                                <label for="field-team">"Share with"</label>
                                <TeamSelect id="field-team" teams selected=team />
                                {flash.field("team").map(|m| view! { <p class="field-error">{m}</p> })}
                            </div>
                            <fieldset class="kv">
                                <legend>"Keys and values"</legend>
                                <p class="hint">"Empty rows are ignored. After a refusal, type the values again: they are not kept."</p>
                                <div class="kv-head" aria-hidden="true"><span>"Key"</span><span>"Value"</span></div>
                                {(1..=NEW_ROWS).map(|i| {
                                    let key = flash.value(&format!("key_{i}")).unwrap_or_default().to_string();
                                    let error = row_error(&flash, &key);
                                    view! { <KeyValueRow index=i prefix="" key error /> }
                                }).collect_view()}
                                {flash.field("values").map(|m| view! { <p class="field-error">{m}</p> })}
                            </fieldset>
                            <button type="submit" class="button">"Create secret"</button>
                        </form>
                    </section>
                }
            })}
        </Suspense>
    }
}

fn name_param() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("name").unwrap_or_default()
}

#[component]
fn EditSecret(secret: Secret, flash: Flash) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="edit-title">
            <h2 id="edit-title">"Change values"</h2>
            <p class="muted">"Type a new value to replace one; leave it empty to keep it."</p>
            <form method="post" action="/forms/secrets/update" class="form">
                <input type="hidden" name="secret" value=secret.name.clone() />
                <table class="table compact" aria-label="Keys to change">
                    <thead><tr><th>"Key"</th><th>"New value"</th><th>"Remove"</th></tr></thead>
                    <tbody>
                        {secret.keys.iter().map(|key| {
                            let error = flash.field(&format!("values.{key}"));
                            view! {
                                <tr>
                                    <td class="mono">{key.clone()}</td>
                                    <td>
                                        <input type="password" name=format!("set:{key}") autocomplete="new-password"
                                            aria-label=format!("New value for {key}") />
                                        {error.map(|m| view! { <p class="field-error">{m}</p> })}
                                    </td>
                                    <td>
                                        <input type="checkbox" name="remove" value=key.clone()
                                            aria-label=format!("Remove {key}") />
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <fieldset class="kv">
                    <legend>"Add keys"</legend>
                    {(1..=ADDED_ROWS).map(|i| {
                        let key = flash.value(&format!("new_key_{i}")).unwrap_or_default().to_string();
                        let error = row_error(&flash, &key);
                        view! { <KeyValueRow index=i prefix="new_" key error /> }
                    }).collect_view()}
                    {flash.field("values").map(|m| view! { <p class="field-error">{m}</p> })}
                </fieldset>
                <Field label="Rename to" name="name" value=flash.name.clone()
                    hint="Leave empty to keep the name. Components that refer to the old name stop working." flash=flash.clone() />
                <button type="submit" class="button">"Save changes"</button>
            </form>
        </section>
    }
}

/// `/secrets/:name`: keys, references, editing, sharing, deleting, and the way to
/// reveal the values.
#[component]
pub fn SecretPage() -> impl IntoView {
    let name = name_param();
    let secret = Resource::new(name, get_secret);
    let teams = Resource::new(|| (), |_| my_teams(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text=move || format!("Secret {}", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let teams = teams.await.map(|p| p.items).unwrap_or_default();
                let secret = match secret.await {
                    Ok(secret) => secret,
                    Err(error) => return view! {
                        <PageHeader title=name() subtitle="Secret" />
                        <LoadError error missing="No such secret" />
                    }.into_any(),
                };
                let can_edit = secret.ownership.can_edit;
                let count = match secret.keys.len() {
                    1 => "1 key".to_string(),
                    n => format!("{n} keys"),
                };
                let references: Vec<String> = crate::secrets::references(std::slice::from_ref(&secret));
                let current_team = secret.ownership.team.clone();
                let delete = secret.name.clone();
                let reveal_href = format!("/secrets/{}/reveal", secret.name);
                view! {
                    <PageHeader title=secret.name.clone() subtitle=format!("Secret · {count}")>
                        <a class="button secondary" href=reveal_href>"Reveal values"</a>
                    </PageHeader>
                    <Notice flash=flash.clone() />
                    <div class="grid">
                        <section class="card" aria-labelledby="about-title">
                            <h2 id="about-title">"About"</h2>
                            <dl class="facts">
                                <dt>"Keys"</dt><dd>{key_chips(secret.keys.clone())}</dd>
                                <dt>"Shared"</dt><dd><OwnershipText ownership=secret.ownership.clone() /></dd>
                                <dt>"Created"</dt><dd>{format::datetime(&secret.created_at)}</dd>
                                <dt>"Updated"</dt><dd>{format::datetime(&secret.updated_at)}</dd>
                            </dl>
                            <h3 class="subhead">"References"</h3>
                            <p class="muted">"Put these in a component's sensitive fields:"</p>
                            <ul class="chips">
                                {references.into_iter().map(|r| view! { <li class="chip mono">{r}</li> }).collect_view()}
                            </ul>
                        </section>
                        {can_edit.then(|| view! {
                            <section class="card" aria-labelledby="share-title">
                                <h2 id="share-title">"Sharing"</h2>
                                <p class="muted">"Members of the team may use this secret in their components; editors may change it."</p>
                                <form method="post" action="/forms/secrets/share" class="form">
                                    <input type="hidden" name="name" value=secret.name.clone() />
                                    <div class="field">
                                        <label for="share-team">"Share with"</label>
                                        <TeamSelect id="share-team" teams selected=current_team />
                                    </div>
                                    <button type="submit" class="button">"Save sharing"</button>
                                </form>
                            </section>
                        })}
                    </div>
                    {can_edit.then(|| view! {
                        <EditSecret secret=secret.clone() flash=flash.clone() />
                        <DeleteForm action="/forms/secrets/delete" name=delete what="secret"
                            consequence="Its values are destroyed. Components that refer to it can no longer be used." />
                    })}
                }.into_any()
            })}
        </Suspense>
    }
}

/// `/secrets/:name/reveal`: a confirmation whose form posts to the server, which
/// answers with this same page showing the values (see the reveal handler in the
/// server's forms). The values are in that one response only.
#[component]
pub fn RevealSecret() -> impl IntoView {
    let name = name_param();
    // Present only in the response to the reveal form, which is rendered without
    // hydration scripts; a plain visit to this page asks for the confirmation.
    let revealed = use_context::<RevealedValues>();
    view! {
        <Title text=move || format!("Reveal {}", name()) />
        {match revealed {
            Some(RevealedValues(revealed)) => view! {
                <PageHeader title=format!("Values of {}", revealed.name) subtitle="Shown once: they are not stored, and leaving this page hides them.">
                    <a class="button secondary" href=format!("/secrets/{}", revealed.name)>"Done"</a>
                </PageHeader>
                <table class="table" aria-label="Revealed values">
                    <thead><tr><th>"Key"</th><th>"Value"</th></tr></thead>
                    <tbody>
                        {revealed.values.into_iter().map(|(key, value)| view! {
                            <tr>
                                <td class="mono">{key.clone()}</td>
                                <td><input class="reveal-value mono" type="text" readonly value=value aria-label=format!("Value of {key}") /></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
            None => {
                let secret = Resource::new(name, get_secret);
                view! {
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match secret.await {
                            Err(error) => view! {
                                <PageHeader title=name() subtitle="Secret" />
                                <LoadError error missing="No such secret" />
                            }.into_any(),
                            Ok(secret) => view! {
                                <PageHeader title=format!("Reveal {}", secret.name) subtitle="Show the values of this secret." />
                                <section class="card narrow" aria-labelledby="reveal-title">
                                    <h2 id="reveal-title">"Reveal the values?"</h2>
                                    <p>"The values of "<strong>{secret.name.clone()}</strong>" ("{secret.keys.join(", ")}") appear on the next page, once. Revealing is recorded in the audit log with your name."</p>
                                    <form method="post" action="/forms/secrets/reveal" class="form">
                                        <input type="hidden" name="name" value=secret.name.clone() />
                                        <button type="submit" class="button">"Yes, reveal the values"</button>
                                    </form>
                                    <p><a href=format!("/secrets/{}", secret.name)>"Cancel"</a></p>
                                </section>
                            }.into_any(),
                        }
                    })}
                </Suspense>
                }.into_any()
            }
        }}
    }
}
