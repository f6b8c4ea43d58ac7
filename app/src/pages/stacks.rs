//! Stacks: the list with each user's active stack, composing a stack from components,
//! one stack's page with sharing (and what must be shared with it) and deleting.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::stacks::{
    Component, ComponentType, NEEDS_COMPONENT, NEEDS_SECRET, Stack, StackComponentRef,
};

use super::auth::Field;
use super::shared::{DeleteForm, LoadError, OwnershipText, TeamSelect};
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::auth::{Flash, take_flash};
use crate::format;
use crate::stacks::{get_component_list, get_stack, get_stack_list};
use crate::teams::my_teams;

fn stack_badges(is_default: bool, is_active: bool) -> impl IntoView {
    view! {
        {is_default.then(|| view! { <span class="badge">"Default"</span> })}
        {is_active.then(|| view! { <span class="badge badge-ok">"Active"</span> })}
    }
}

fn component_chips(components: Vec<StackComponentRef>) -> impl IntoView {
    view! {
        <ul class="chips" aria-label="Components">
            {components.into_iter().map(|c| view! {
                <li class="chip">
                    <span class="muted">{format!("{}: ", c.component_type.label())}</span>
                    <a href=format!("/components/{}", c.name)>{c.name.clone()}</a>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// The button that makes a stack the user's active stack.
fn activate_form(name: String) -> impl IntoView {
    view! {
        <form method="post" action="/forms/stacks/activate" class="inline-form">
            <input type="hidden" name="name" value=name.clone() />
            <button type="submit" class="button secondary" aria-label=format!("Activate {name}")>"Activate"</button>
        </form>
    }
}

#[component]
fn StackRow(stack: Stack) -> impl IntoView {
    let badges = stack_badges(stack.is_default, stack.is_active);
    let active = stack.is_active;
    let name = stack.name.clone();
    view! {
        <tr>
            <td>
                <a href=format!("/stacks/{}", stack.name)><strong>{stack.name.clone()}</strong></a>
                " " {badges}
                {(!stack.description.is_empty()).then(|| view! { <div class="muted">{stack.description.clone()}</div> })}
            </td>
            <td>{component_chips(stack.components)}</td>
            <td><OwnershipText ownership=stack.ownership /></td>
            <td>{(!active).then(|| activate_form(name))}</td>
        </tr>
    }
}

/// `/stacks`: the stacks the user may use; one of them is their active stack.
#[component]
pub fn Stacks() -> impl IntoView {
    let query = use_query_map();
    let stacks = Resource::new(move || query.read().get("cursor"), get_stack_list);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Stacks" />
        <PageHeader title="Stacks" subtitle="Combinations of components that pipelines run on. Your runs use your active stack.">
            <a class="button" href="/stacks/new">"New stack"</a>
        </PageHeader>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                view! {
                    <Notice flash />
                    {match stacks.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <section class="empty-state" aria-label="No stacks">
                                <h2>"No stacks yet"</h2>
                                <p>"Register an orchestrator and an artifact store under "<a href="/components">"Components"</a>", then compose a stack from them."</p>
                                <p><a class="button" href="/stacks/new">"New stack"</a></p>
                            </section>
                        }.into_any(),
                        Ok(page) => view! {
                            <table class="table" aria-label="Stacks">
                                <thead><tr><th>"Stack"</th><th>"Components"</th><th>"Shared"</th><th></th></tr></thead>
                                <tbody>{page.items.into_iter().map(|stack| view! { <StackRow stack /> }).collect_view()}</tbody>
                            </table>
                            {next_link("/stacks", "", page.next_cursor)}
                        }.into_any(),
                        Err(error) => view! { <LoadError error /> }.into_any(),
                    }}
                }
            })}
        </Suspense>
    }
}

/// One `<select>` of the composer: the components of one type.
/// `current` is the component the stack holds now (when editing one).
fn slot_select(
    t: ComponentType,
    components: &[Component],
    flash: &Flash,
    current: Option<&str>,
) -> impl IntoView + use<> {
    let field = format!("components.{}", t.as_str());
    let id = format!("slot-{}", t.as_str());
    let error = flash.field(&field);
    let chosen = flash
        .value(&field)
        .or(current)
        .unwrap_or_default()
        .to_string();
    let options: Vec<(String, String)> = components
        .iter()
        .filter(|c| c.component_type == t)
        .map(|c| (c.name.clone(), format!("{} ({})", c.name, c.flavor)))
        .collect();
    let none = options.is_empty();
    let invalid = error.is_some();
    view! {
        <div class="field">
            <label for=id.clone()>
                {t.label()}
                {t.is_required().then(|| view! { <span class="required">" required"</span> })}
            </label>
            <select id=id name=field aria-invalid=invalid.then_some("true") aria-required=t.is_required().then_some("true")>
                <option value="">{if t.is_required() { "— choose —" } else { "— none —" }}</option>
                {options.into_iter().map(|(value, label)| {
                    let selected = value == chosen;
                    view! { <option value=value selected=selected>{label}</option> }
                }).collect_view()}
            </select>
            {none.then(|| view! {
                <p class="hint">"None registered. "<a href=format!("/components/new?type={}", t.as_str())>{format!("Register {}", t.label().to_lowercase())}</a></p>
            })}
            {error.map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
    }
}

/// The composer for an existing stack: its description and one picker per type,
/// preset to what it holds; an empty optional picker takes the slot out.
#[component]
fn EditStack(stack: Stack, components: Vec<Component>, flash: Flash) -> impl IntoView {
    let types = ComponentType::ALL
        .into_iter()
        .filter(|t| t.is_required())
        .chain(ComponentType::ALL.into_iter().filter(|t| !t.is_required()));
    let selects = types
        .map(|t| {
            let current = stack
                .components
                .iter()
                .find(|c| c.component_type == t)
                .map(|c| c.name.clone());
            slot_select(t, &components, &flash, current.as_deref())
        })
        .collect_view();
    let description = flash
        .value("description")
        .map(str::to_string)
        .unwrap_or_else(|| stack.description.clone());
    view! {
        <section class="card form-card" aria-labelledby="edit-stack-title">
            <h2 id="edit-stack-title">"Change components"</h2>
            <form method="post" action="/forms/stacks/update" class="form">
                <input type="hidden" name="stack" value=stack.name.clone() />
                <Field label="Description" name="description" value=description flash=flash.clone() />
                <div class="slot-grid">{selects}</div>
                <button type="submit" class="button">"Save components"</button>
            </form>
        </section>
    }
}

/// `/stacks/new`: a name, a description and one component per type.
#[component]
pub fn NewStack() -> impl IntoView {
    let components = Resource::new(|| (), |_| get_component_list(None, None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="New stack" />
        <PageHeader title="New stack" subtitle="Pick one component per type; a stack needs an orchestrator and an artifact store." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let components = match components.await {
                    Ok(page) => page.items,
                    Err(error) => return view! { <LoadError error /> }.into_any(),
                };
                let (required, optional): (Vec<_>, Vec<_>) = ComponentType::ALL.into_iter().partition(|t| t.is_required());
                view! {
                    <Notice flash=flash.clone() />
                    <section class="card form-card" aria-labelledby="compose-title">
                        <h2 id="compose-title">"Compose a stack"</h2>
                        <form method="post" action="/forms/stacks/create" class="form">
                            <Field label="Name" name="name" required=true value=flash.name.clone()
                                hint="Letters, digits, '-' and '_'; e.g. prod-aws." flash=flash.clone() />
                            <Field label="Description" name="description"
                                value=flash.value("description").unwrap_or_default().to_string() flash=flash.clone() />
                            <h3 class="subhead">"Components"</h3>
                            <div class="slot-grid">
                                {required.into_iter().chain(optional).map(|t| slot_select(t, &components, &flash, None)).collect_view()}
                            </div>
                            <button type="submit" class="button">"Create stack"</button>
                        </form>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

/// What sharing a stack needs shared first, from the refusal's fields.
fn dependencies(flash: &Flash) -> Vec<(String, String, String)> {
    flash
        .fields
        .iter()
        .filter_map(|f| {
            if let Some(name) = f.field.strip_prefix(NEEDS_COMPONENT) {
                Some(("Component", name.to_string(), f.message.clone()))
            } else {
                f.field
                    .strip_prefix(NEEDS_SECRET)
                    .map(|name| ("Secret", name.to_string(), f.message.clone()))
            }
        })
        .map(|(kind, name, message)| (kind.to_string(), name, message))
        .collect()
}

#[component]
fn ShareStack(stack: Stack, teams: Vec<weir_api::identity::Team>, flash: Flash) -> impl IntoView {
    let needs = dependencies(&flash);
    let asked_team = flash.value("team").unwrap_or_default().to_string();
    let current = stack.ownership.team.clone();
    view! {
        <section class="card" aria-labelledby="share-title">
            <h2 id="share-title">"Sharing"</h2>
            {if needs.is_empty() {
                view! {
                    <p class="muted">"Team members may then run pipelines on it; its components and the secrets they use are shared too."</p>
                    <form method="post" action="/forms/stacks/share" class="form">
                        <input type="hidden" name="name" value=stack.name.clone() />
                        <div class="field">
                            <label for="share-team">"Share with"</label>
                            <TeamSelect id="share-team" teams selected=current />
                        </div>
                        <button type="submit" class="button">"Save sharing"</button>
                    </form>
                }.into_any()
            } else {
                view! {
                    <p>{format!("To share {} with {}, these must be shared with it too:", stack.name, asked_team)}</p>
                    <ul class="needs" aria-label="Also to share">
                        {needs.into_iter().map(|(kind, name, message)| {
                            let href = if kind == "Component" { format!("/components/{name}") } else { format!("/secrets/{name}") };
                            view! { <li>{format!("{kind} ")}<a href=href>{name}</a><span class="muted">{format!(" — {message}")}</span></li> }
                        }).collect_view()}
                    </ul>
                    <form method="post" action="/forms/stacks/share" class="form">
                        <input type="hidden" name="name" value=stack.name.clone() />
                        <input type="hidden" name="team" value=asked_team.clone() />
                        <input type="hidden" name="include_dependencies" value="true" />
                        <button type="submit" class="button">"Share these too"</button>
                    </form>
                    <p><a href=format!("/stacks/{}", stack.name)>"Cancel"</a></p>
                }.into_any()
            }}
        </section>
    }
}

/// `/stacks/:name`: its components, who may use it, sharing and deleting.
#[component]
pub fn StackPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let stack = Resource::new(name, get_stack);
    let components = Resource::new(|| (), |_| get_component_list(None, None));
    let teams = Resource::new(|| (), |_| my_teams(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text=move || format!("Stack {}", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let teams = teams.await.map(|p| p.items).unwrap_or_default();
                let components = components.await.map(|p| p.items).unwrap_or_default();
                let stack = match stack.await {
                    Ok(stack) => stack,
                    Err(error) => return view! {
                        <PageHeader title=name() subtitle="Stack" />
                        <LoadError error missing="No such stack" />
                    }.into_any(),
                };
                let subtitle = if stack.description.is_empty() { "Stack".to_string() } else { stack.description.clone() };
                let manage = stack.ownership.can_edit && !stack.is_default;
                let active = stack.is_active;
                let badges = stack_badges(stack.is_default, stack.is_active);
                let activate_name = stack.name.clone();
                view! {
                    <PageHeader title=stack.name.clone() subtitle>
                        {badges}
                        {(!active).then(|| activate_form(activate_name))}
                    </PageHeader>
                    <Notice flash=flash.clone() />
                    <table class="table" aria-label="Stack components">
                        <thead><tr><th>"Type"</th><th>"Component"</th><th>"Flavor"</th></tr></thead>
                        <tbody>
                            {stack.components.iter().map(|c| view! {
                                <tr>
                                    <td>{c.component_type.label()}</td>
                                    <td><a href=format!("/components/{}", c.name)>{c.name.clone()}</a></td>
                                    <td class="mono">{c.flavor.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <div class="grid">
                        <section class="card" aria-labelledby="about-title">
                            <h2 id="about-title">"About"</h2>
                            <dl class="facts">
                                <dt>"Shared"</dt><dd><OwnershipText ownership=stack.ownership.clone() /></dd>
                                <dt>"Created"</dt><dd>{format::datetime(&stack.created_at)}</dd>
                                <dt>"Updated"</dt><dd>{format::datetime(&stack.updated_at)}</dd>
                            </dl>
                            {stack.is_default.then(|| view! {
                                <p class="hint">"The default stack is usable by everyone; only server administrators change it."</p>
                            })}
                        </section>
                        {manage.then(|| view! { <ShareStack stack=stack.clone() teams flash=flash.clone() /> })}
                    </div>
                    {stack.ownership.can_edit.then(|| view! {
                        <EditStack stack=stack.clone() components flash=flash.clone() />
                    })}
                    {manage.then(|| view! {
                        <DeleteForm action="/forms/stacks/delete" name=stack.name.clone() what="stack"
                            consequence="Its components stay registered. Users with it active go back to the default stack." />
                    })}
                }.into_any()
            })}
        </Suspense>
    }
}
