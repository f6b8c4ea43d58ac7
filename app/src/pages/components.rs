//! Stack components: the list grouped by type, registering one (type → flavor → a form
//! drawn from the flavor's schema), one component's page, and editing it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::config_schema;
use weir_api::stacks::{Component, ComponentType, Flavor};

use super::config_form::{FormState, config_fields, paths};
use super::shared::{DeleteForm, LoadError, OwnershipText, TeamSelect};
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::auth::{Flash, take_flash};
use crate::format;
use crate::secrets::{get_secret_list, references};
use crate::stacks::{
    config_pairs, get_component, get_component_list, get_component_with_flavor, get_flavor,
    get_flavor_list,
};
use crate::teams::my_teams;

fn used_by(stacks: Vec<String>) -> impl IntoView {
    if stacks.is_empty() {
        return view! { <span class="muted">"No stack"</span> }.into_any();
    }
    view! {
        <ul class="chips">
            {stacks.into_iter().map(|s| view! {
                <li class="chip"><a href=format!("/stacks/{s}")>{s.clone()}</a></li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn ComponentRow(component: Component) -> impl IntoView {
    view! {
        <tr>
            <td><a href=format!("/components/{}", component.name)><strong>{component.name.clone()}</strong></a></td>
            <td class="mono">{component.flavor.clone()}</td>
            <td><OwnershipText ownership=component.ownership.clone() /></td>
            <td>{used_by(component.used_by.clone())}</td>
            <td>{format::datetime(&component.updated_at)}</td>
        </tr>
    }
}

/// `/components?type=…`: every component the user may see, a section per type.
#[component]
pub fn Components() -> impl IntoView {
    let query = use_query_map();
    let wanted = move || {
        query
            .read()
            .get("type")
            .and_then(|t| ComponentType::parse(&t))
    };
    let components = Resource::new(
        move || (wanted(), query.read().get("cursor")),
        |(t, cursor)| get_component_list(t.map(|t| t.as_str().to_string()), cursor),
    );
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Components" />
        <PageHeader title="Components" subtitle="Orchestrators, artifact stores, registries and more; stacks combine them.">
            <a class="button" href="/components/new">"Register component"</a>
        </PageHeader>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let wanted = wanted();
                let page = match components.await {
                    Ok(page) => page,
                    Err(error) => return view! { <LoadError error /> }.into_any(),
                };
                let types: Vec<ComponentType> = match wanted {
                    Some(t) => vec![t],
                    None => ComponentType::ALL.to_vec(),
                };
                let sections = types.into_iter().filter_map(|t| {
                    let of_type: Vec<Component> = page.items.iter().filter(|c| c.component_type == t).cloned().collect();
                    if of_type.is_empty() && wanted.is_none() {
                        return None;
                    }
                    let heading = format!("section-{}", t.as_str());
                    Some(view! {
                        <section class="type-section" aria-labelledby=heading.clone()>
                            <h2 id=heading.clone()>{t.label()}{t.is_required().then(|| view! { <span class="badge">"every stack needs one"</span> })}</h2>
                            {if of_type.is_empty() {
                                view! {
                                    <section class="empty-state" aria-label=format!("No {}", t.label())>
                                        <p>{format!("No {} yet.", t.label().to_lowercase())}</p>
                                        <p><a class="button" href=format!("/components/new?type={}", t.as_str())>{format!("Register {}", t.label().to_lowercase())}</a></p>
                                    </section>
                                }.into_any()
                            } else {
                                view! {
                                    <table class="table" aria-label=t.label()>
                                        <thead><tr><th>"Name"</th><th>"Flavor"</th><th>"Shared"</th><th>"Used by"</th><th>"Updated"</th></tr></thead>
                                        <tbody>{of_type.into_iter().map(|component| view! { <ComponentRow component /> }).collect_view()}</tbody>
                                    </table>
                                }.into_any()
                            }}
                        </section>
                    })
                }).collect_view();
                let type_query = wanted
                    .map(|t| format!("&type={}", t.as_str()))
                    .unwrap_or_default();
                view! {
                    <Notice flash />
                    <form method="get" action="/components" class="inline-form filter">
                        <label for="component-type">"Type"</label>
                        <select name="type" id="component-type">
                            <option value="">"All types"</option>
                            {ComponentType::ALL.into_iter().map(|t| view! {
                                <option value=t.as_str() selected=wanted == Some(t)>{t.label()}</option>
                            }).collect_view()}
                        </select>
                        <button type="submit" class="button secondary">"Filter"</button>
                    </form>
                    {sections}
                    {next_link("/components", &type_query, page.next_cursor)}
                }.into_any()
            })}
        </Suspense>
    }
}

/// The steps of registering a component, as a trail of links.
fn steps(current: usize, t: Option<ComponentType>, flavor: Option<String>) -> impl IntoView {
    let labels = [
        (
            "Type",
            "/components/new".to_string(),
            t.map(|t| t.label().to_string()),
        ),
        (
            "Flavor",
            t.map(|t| format!("/components/new?type={}", t.as_str()))
                .unwrap_or_default(),
            flavor,
        ),
        ("Configuration", String::new(), None),
    ];
    view! {
        <ol class="steps" aria-label="Steps">
            {labels.into_iter().enumerate().map(|(i, (label, href, chosen))| {
                let text = match chosen {
                    Some(c) => format!("{}. {label}: {c}", i + 1),
                    None => format!("{}. {label}", i + 1),
                };
                let here = i == current;
                if i < current {
                    view! { <li><a href=href>{text}</a></li> }.into_any()
                } else {
                    view! { <li aria-current=here.then_some("step")>{text}</li> }.into_any()
                }
            }).collect_view()}
        </ol>
    }
}

/// Problems of the last submission that no field of the form shows.
fn other_problems(flash: &Flash, fields: &[config_schema::FieldSpec]) -> impl IntoView {
    let mut shown = vec!["name".to_string()];
    paths(fields, "config.", &mut shown);
    let others: Vec<String> = flash
        .fields
        .iter()
        .filter(|e| {
            !shown
                .iter()
                .any(|p| &e.field == p || e.field.starts_with(&format!("{p}[")))
        })
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    (!others.is_empty()).then(|| {
        view! {
            <ul class="alert" role="alert">
                {others.into_iter().map(|o| view! { <li>{o}</li> }).collect_view()}
            </ul>
        }
    })
}

/// The name field and the generated configuration fields of a component form.
#[component]
fn ComponentForm(
    action: &'static str,
    hidden: Vec<(&'static str, String)>,
    name: String,
    flavor: Flavor,
    state: FormState,
    flash: Flash,
    submit: &'static str,
) -> impl IntoView {
    let fields = match config_schema::parse(&flavor.config_schema) {
        Ok(fields) => fields,
        Err(problems) => {
            let text = problems
                .into_iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ");
            return view! {
                <p class="alert" role="alert">{format!("This flavor's schema cannot be shown as a form: {text}")}</p>
            }
            .into_any();
        }
    };
    let name_error = flash.field("name");
    let invalid = name_error.is_some();
    let inputs = config_fields(&fields, "config.", &state);
    view! {
        {other_problems(&flash, &fields)}
        <form method="post" action=action class="form config-form">
            {hidden.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
            <div class="field">
                <label for="field-name">"Name" <span class="required">" required"</span></label>
                <input id="field-name" name="name" value=name autocomplete="off" aria-required="true"
                    aria-invalid=invalid.then_some("true") aria-describedby=invalid.then_some("field-name-error") />
                <p class="hint">"Unique on this server: letters, digits, '-' and '_'. Stacks refer to it by name."</p>
                {name_error.map(|m| view! { <p class="field-error" id="field-name-error">{m}</p> })}
            </div>
            {if fields.is_empty() {
                view! { <p class="muted">"This flavor has nothing to configure."</p> }.into_any()
            } else {
                view! { <h3 class="subhead">"Configuration"</h3> {inputs} }.into_any()
            }}
            <button type="submit" class="button">{submit}</button>
        </form>
    }
    .into_any()
}

/// `/components/new`: choose a type, then a flavor, then fill in the flavor's form.
#[component]
pub fn NewComponent() -> impl IntoView {
    let query = use_query_map();
    let chosen = move || {
        let q = query.read();
        (
            q.get("type").and_then(|t| ComponentType::parse(&t)),
            q.get("flavor").filter(|f| !f.is_empty()),
        )
    };
    view! {
        <Title text="Register component" />
        <PageHeader title="Register component" subtitle="A component is one configured piece of infrastructure, e.g. an S3 bucket or a Kubernetes cluster." />
        {move || match chosen() {
            (None, _) => view! { <ChooseType /> }.into_any(),
            (Some(t), None) => view! { <ChooseFlavor component_type=t /> }.into_any(),
            (Some(t), Some(flavor)) => view! { <NewComponentForm component_type=t flavor /> }.into_any(),
        }}
    }
}

#[component]
fn ChooseType() -> impl IntoView {
    view! {
        {steps(0, None, None)}
        <ul class="choices" aria-label="Component types">
            {ComponentType::ALL.into_iter().map(|t| view! {
                <li>
                    <a class="choice" href=format!("/components/new?type={}", t.as_str())>
                        <strong>{t.label()}</strong>
                        <span class="muted">{if t.is_required() { "Every stack needs one." } else { "Optional in a stack." }}</span>
                    </a>
                </li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn ChooseFlavor(component_type: ComponentType) -> impl IntoView {
    let flavors = Resource::new(
        move || component_type,
        |t| get_flavor_list(t.as_str().to_string()),
    );
    view! {
        {steps(1, Some(component_type), None)}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match flavors.await {
                    Err(error) => view! { <LoadError error /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <section class="empty-state" aria-label="No flavors">
                            <h2>{format!("No flavors of {} yet", component_type.label().to_lowercase())}</h2>
                            <p>"A flavor says how to provide a component type and what to configure. Register a custom flavor with "<code>"weir flavor register"</code>" or the REST API."</p>
                        </section>
                    }.into_any(),
                    Ok(page) => view! {
                        <ul class="choices" aria-label="Flavors">
                            {page.items.into_iter().map(|flavor| view! {
                                <li>
                                    <a class="choice" href=format!("/components/new?type={}&flavor={}", component_type.as_str(), flavor.name)>
                                        <strong>{flavor.name.clone()}{(!flavor.builtin).then(|| view! { <span class="badge">"custom"</span> })}</strong>
                                        <span class="muted">{flavor.description.clone()}</span>
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewComponentForm(component_type: ComponentType, flavor: String) -> impl IntoView {
    let key = (component_type, flavor.clone());
    let flavor_data = Resource::new(
        move || key.clone(),
        |(t, f)| get_flavor(t.as_str().to_string(), f),
    );
    let secrets = Resource::new(|| (), |_| get_secret_list(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        {steps(2, Some(component_type), Some(flavor))}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let secrets = secrets.await.map(|p| p.items).unwrap_or_default();
                let flavor = match flavor_data.await {
                    Ok(flavor) => flavor,
                    Err(error) => return view! { <LoadError error missing="No such flavor" /> }.into_any(),
                };
                let state = FormState {
                    values: flash.values.clone(),
                    errors: flash.fields.clone(),
                    references: references(&secrets),
                };
                let hidden = vec![
                    ("component_type", component_type.as_str().to_string()),
                    ("flavor", flavor.name.clone()),
                ];
                view! {
                    <Notice flash=flash.clone() />
                    <section class="card form-card" aria-labelledby="config-title">
                        <h2 id="config-title">{format!("{} · {}", component_type.label(), flavor.name)}</h2>
                        <p class="muted">{flavor.description.clone()}</p>
                        <ComponentForm action="/forms/components/create" hidden name=flash.name.clone()
                            flavor state flash submit="Register component" />
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

fn name_param() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("name").unwrap_or_default()
}

/// `/components/:name`: its configuration, the stacks using it, sharing and deleting.
#[component]
pub fn ComponentPage() -> impl IntoView {
    let name = name_param();
    let component = Resource::new(name, get_component);
    let teams = Resource::new(|| (), |_| my_teams(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text=move || format!("Component {}", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let teams = teams.await.map(|p| p.items).unwrap_or_default();
                let c = match component.await {
                    Ok(c) => c,
                    Err(error) => return view! {
                        <PageHeader title=name() subtitle="Component" />
                        <LoadError error missing="No such component" />
                    }.into_any(),
                };
                let can_edit = c.ownership.can_edit;
                let pairs = config_pairs(&c.config);
                let in_use = !c.used_by.is_empty();
                let current_team = c.ownership.team.clone();
                let edit_href = format!("/components/{}/edit", c.name);
                view! {
                    <PageHeader title=c.name.clone() subtitle=format!("{} · {} flavor", c.component_type.label(), c.flavor)>
                        {can_edit.then(|| view! {
                            <a class="button secondary" href=edit_href>"Edit"</a>
                        })}
                    </PageHeader>
                    <Notice flash=flash.clone() />
                    <div class="grid">
                        <section class="card" aria-labelledby="about-title">
                            <h2 id="about-title">"About"</h2>
                            <dl class="facts">
                                <dt>"Type"</dt><dd><a href=format!("/components?type={}", c.component_type.as_str())>{c.component_type.label()}</a></dd>
                                <dt>"Flavor"</dt><dd class="mono">{c.flavor.clone()}</dd>
                                <dt>"Shared"</dt><dd><OwnershipText ownership=c.ownership.clone() /></dd>
                                <dt>"Used by"</dt><dd>{used_by(c.used_by.clone())}</dd>
                                <dt>"Created"</dt><dd>{format::datetime(&c.created_at)}</dd>
                                <dt>"Updated"</dt><dd>{format::datetime(&c.updated_at)}</dd>
                            </dl>
                        </section>
                        <section class="card" aria-labelledby="config-title">
                            <h2 id="config-title">"Configuration"</h2>
                            {if pairs.is_empty() {
                                view! { <p class="muted">"Nothing set: every field has its default."</p> }.into_any()
                            } else {
                                view! {
                                    <dl class="facts">
                                        {pairs.into_iter().map(|(k, v)| view! {
                                            <dt class="mono">{k}</dt><dd class="mono">{v}</dd>
                                        }).collect_view()}
                                    </dl>
                                }.into_any()
                            }}
                            <p class="hint">"Sensitive fields hold {{secret.key}} references; the values stay in the vault."</p>
                        </section>
                    </div>
                    {can_edit.then(|| view! {
                        <section class="card narrow" aria-labelledby="share-title">
                            <h2 id="share-title">"Sharing"</h2>
                            <p class="muted">"Team members may then use it in their stacks."</p>
                            <form method="post" action="/forms/components/share" class="form">
                                <input type="hidden" name="name" value=c.name.clone() />
                                <div class="field">
                                    <label for="share-team">"Share with"</label>
                                    <TeamSelect id="share-team" teams selected=current_team />
                                </div>
                                <button type="submit" class="button">"Save sharing"</button>
                            </form>
                        </section>
                        <DeleteForm action="/forms/components/delete" name=c.name.clone() what="component"
                            consequence=if in_use {
                                "Stacks still use it: remove it from them first.".to_string()
                            } else {
                                "No stack uses it.".to_string()
                            } />
                    })}
                }.into_any()
            })}
        </Suspense>
    }
}

/// `/components/:name/edit`: the flavor's form, filled with the configuration.
#[component]
pub fn EditComponent() -> impl IntoView {
    let name = name_param();
    let component = Resource::new(name, get_component_with_flavor);
    let secrets = Resource::new(|| (), |_| get_secret_list(None));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text=move || format!("Edit {}", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let secrets = secrets.await.map(|p| p.items).unwrap_or_default();
                let (c, flavor) = match component.await {
                    Ok(found) => found,
                    Err(error) => return view! {
                        <PageHeader title=name() subtitle="Component" />
                        <LoadError error missing="No such component" />
                    }.into_any(),
                };
                let refused = !flash.message.is_empty() && !flash.success;
                let values = if refused {
                    flash.values.clone()
                } else {
                    config_pairs(&c.config).into_iter().map(|(k, v)| (format!("config.{k}"), v)).collect()
                };
                let shown_name = if refused && !flash.name.is_empty() { flash.name.clone() } else { c.name.clone() };
                let state = FormState { values, errors: flash.fields.clone(), references: references(&secrets) };
                let cancel = format!("/components/{}", c.name);
                view! {
                    <PageHeader title=format!("Edit {}", c.name) subtitle=format!("{} · {} flavor", c.component_type.label(), c.flavor)>
                        <a class="button secondary" href=cancel>"Cancel"</a>
                    </PageHeader>
                    <Notice flash=flash.clone() />
                    <section class="card form-card" aria-labelledby="edit-title">
                        <h2 id="edit-title">"Component"</h2>
                        <p class="muted">"The whole configuration is checked again; stacks using it see the change at their next run."</p>
                        <ComponentForm action="/forms/components/update" hidden=vec![("original", c.name.clone())]
                            name=shown_name flavor state flash submit="Save changes" />
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}
