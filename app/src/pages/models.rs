//! The model registry: the models list (newest and production version of each), a
//! model's page (its versions with stage, metrics, author and run), a version's page
//! (metadata, artifacts, runs, stage history, stage changes behind a confirmation),
//! and versions side by side with a chart of one metric.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::models::{
    ArtifactKind, Model, ModelStage, ModelVersion, ModelVersionComparison, StageChange, VersionRef,
};

use super::runs::{StatusBadge, encode, value_text};
use super::shared::{LoadError, OwnershipText, bar_chart};
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::AppError;
use crate::auth::take_flash;
use crate::format;
use crate::models::{
    ModelPage as ModelData, VersionPage, get_model_comparison, get_model_list, get_model_page,
    get_version_page,
};

/// How many numeric metrics a versions table shows per version.
const METRICS_SHOWN: usize = 3;

#[component]
pub fn StageBadge(stage: ModelStage) -> impl IntoView {
    let class = match stage {
        ModelStage::Production => "badge badge-ok",
        ModelStage::Staging => "badge badge-pending",
        ModelStage::Archived => "badge badge-skipped",
        ModelStage::None => "badge",
    };
    let label = match stage {
        ModelStage::Production => "Production",
        ModelStage::Staging => "Staging",
        ModelStage::Archived => "Archived",
        ModelStage::None => "No stage",
    };
    view! { <span class=class>{label}</span> }
}

fn model_href(model: &str) -> String {
    format!("/models/{}", encode(model))
}

fn version_href(model: &str, number: i32) -> String {
    format!("/models/{}/versions/{number}", encode(model))
}

fn version_text(v: &VersionRef) -> String {
    match &v.name {
        Some(name) => format!("#{} · {name}", v.number),
        None => format!("#{}", v.number),
    }
}

/// The numeric metadata of a version, by key, the first few.
fn metrics(version: &ModelVersion, keys: &[String]) -> Vec<(String, String)> {
    keys.iter()
        .take(METRICS_SHOWN)
        .map(|k| {
            (
                k.clone(),
                version
                    .metadata
                    .get(k)
                    .map(value_text)
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect()
}

/// The keys holding a number in any of `versions`, sorted.
fn numeric_keys(versions: &[ModelVersion]) -> Vec<String> {
    let mut keys: Vec<String> = versions
        .iter()
        .flat_map(|v| {
            v.metadata
                .iter()
                .filter(|(_, value)| value.is_number())
                .map(|(k, _)| k.clone())
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn no_models() -> impl IntoView {
    view! {
        <section class="empty-state" aria-label="No models">
            <h2>"No models yet"</h2>
            <p>
                "A pipeline that declares "<code>"model: iris-classifier"</code>
                " makes a new version of that model with every run. Register one by hand with "
                <code>"weir model register NAME"</code>"."
            </p>
            <p class="muted">
                "The example "<code>"examples/yaml/pipeline.yaml"</code>
                " declares one: register it and run it, and its classifier appears here with its accuracy."
            </p>
        </section>
    }
}

#[component]
fn ModelRow(model: Model) -> impl IntoView {
    let href = model_href(&model.name);
    let latest = match &model.latest_version {
        Some(v) => {
            view! { <a href=version_href(&model.name, v.number)>{version_text(v)}</a> }.into_any()
        }
        None => view! { <span class="muted">"No versions"</span> }.into_any(),
    };
    let production = match &model.production_version {
        Some(v) => view! {
            <a href=version_href(&model.name, v.number) aria-label=format!("Production version of {}", model.name)>
                <StageBadge stage=ModelStage::Production />" "{version_text(v)}
            </a>
        }
        .into_any(),
        None => view! { <span class="muted">"None"</span> }.into_any(),
    };
    view! {
        <tr>
            <td>
                <a href=href><strong>{model.name.clone()}</strong></a>
                {(!model.description.is_empty()).then(|| view! { <div class="muted">{model.description.clone()}</div> })}
            </td>
            <td>{latest}</td>
            <td>{production}</td>
            <td class="num">{format::count(model.version_count as usize)}</td>
            <td><OwnershipText ownership=model.ownership.clone() /></td>
            <td class="nowrap">{format::datetime(&model.updated_at)}</td>
        </tr>
    }
}

/// `/models`: the models the user may see, by name.
#[component]
pub fn Models() -> impl IntoView {
    let query = use_query_map();
    let models = Resource::new(move || query.read().get("cursor"), get_model_list);
    view! {
        <Title text="Models" />
        <PageHeader title="Models" subtitle="The model registry: models, their versions and what is in production." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match models.await {
                    Ok(page) if page.items.is_empty() => no_models().into_any(),
                    Ok(page) => view! {
                        <div class="table-scroll">
                            <table class="table" aria-label="Models">
                                <thead><tr>
                                    <th>"Model"</th><th>"Latest version"</th><th>"Production"</th>
                                    <th class="num">"Versions"</th><th>"Owner"</th><th>"Updated"</th>
                                </tr></thead>
                                <tbody>{page.items.into_iter().map(|model| view! { <ModelRow model /> }).collect_view()}</tbody>
                            </table>
                        </div>
                        {next_link("/models", "", page.next_cursor)}
                    }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn name_param() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("name").unwrap_or_default()
}

fn version_param() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("version").unwrap_or_default()
}

#[component]
fn ModelFacts(model: Model) -> impl IntoView {
    let facts: Vec<(&'static str, String)> = [
        ("License", model.license.clone()),
        ("Use cases", model.use_cases.clone()),
        ("Limitations", model.limitations.clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    view! {
        <section class="card summary" aria-label="About this model">
            <dl class="facts">
                <dt>"Owner"</dt><dd><OwnershipText ownership=model.ownership.clone() /></dd>
                <dt>"Production"</dt>
                <dd>{match &model.production_version {
                    Some(v) => view! { <a href=version_href(&model.name, v.number)>{version_text(v)}</a> }.into_any(),
                    None => view! { <span class="muted">"No version in production"</span> }.into_any(),
                }}</dd>
                {facts.into_iter().map(|(label, value)| view! { <dt>{label}</dt><dd class="prose">{value}</dd> }).collect_view()}
                {(!model.tags.is_empty()).then(|| view! {
                    <dt>"Tags"</dt>
                    <dd>{model.tags.iter().map(|t| view! { <span class="badge tag">{t.clone()}</span>" " }).collect_view()}</dd>
                })}
            </dl>
        </section>
    }
}

#[component]
fn VersionsTable(model: String, versions: Vec<ModelVersion>) -> impl IntoView {
    let keys = numeric_keys(&versions);
    let shown: Vec<String> = keys.iter().take(METRICS_SHOWN).cloned().collect();
    let compare_action = format!("{}/compare", model_href(&model));
    let rows = versions
        .into_iter()
        .map(|v| {
            let href = version_href(&model, v.number);
            let label = version_text(&v.reference());
            let values = metrics(&v, &shown);
            let checkbox_label = format!("Compare version {}", v.number);
            view! {
                <tr>
                    <td><input type="checkbox" name="version" value=v.number.to_string() aria-label=checkbox_label form="compare-versions" /></td>
                    <td><a href=href><strong>{label}</strong></a>
                        {(!v.aliases.is_empty()).then(|| view! { <div>{v.aliases.iter().map(|a| view! { <span class="badge badge-team">{a.clone()}</span>" " }).collect_view()}</div> })}
                    </td>
                    <td><StageBadge stage=v.stage /></td>
                    {values.into_iter().map(|(_, value)| view! { <td class="num mono">{value}</td> }).collect_view()}
                    <td>{v.created_by.clone().unwrap_or_else(|| "—".into())}</td>
                    <td>{match &v.run {
                        Some(run) => view! { <a href=format!("/runs/{}", run.id)>{run.name.clone()}</a>" "<StatusBadge status=run.status /> }.into_any(),
                        None => view! { <span class="muted">"Created by hand"</span> }.into_any(),
                    }}</td>
                    <td class="nowrap">{format::datetime(&v.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <form id="compare-versions" method="get" action=compare_action class="inline-form filter-bar" aria-label="Compare versions">
            <button type="submit" class="button secondary">"Compare selected"</button>
            <span class="hint">"Tick two versions or more."</span>
        </form>
        <div class="table-scroll">
            <table class="table" aria-label="Versions">
                <thead><tr>
                    <th><span class="visually-hidden">"Select"</span></th>
                    <th>"Version"</th><th>"Stage"</th>
                    {shown.iter().map(|k| view! { <th class="num mono">{k.clone()}</th> }).collect_view()}
                    <th>"Author"</th><th>"Run"</th><th>"Created"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// `/models/:name`: a model and its versions, newest first.
#[component]
pub fn ModelPage() -> impl IntoView {
    let name = name_param();
    let query = use_query_map();
    let data = Resource::new(
        move || (name(), query.read().get("cursor")),
        |(name, cursor)| get_model_page(name, cursor),
    );
    view! {
        <Title text=move || name() />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! {
                        <PageHeader title=name() subtitle="Model" />
                        <LoadError error missing="No such model" />
                    }.into_any(),
                    Ok(ModelData { model, versions }) => {
                        let subtitle = if model.description.is_empty() { "Model".to_string() } else { model.description.clone() };
                        let base = model_href(&model.name);
                        view! {
                            <PageHeader title=model.name.clone() subtitle=subtitle>
                                <a class="button secondary" href="/models">"All models"</a>
                            </PageHeader>
                            <ModelFacts model=model.clone() />
                            <section class="section" aria-labelledby="versions-title">
                                <h2 id="versions-title">{format!("Versions ({})", format::count(model.version_count as usize))}</h2>
                                {if versions.items.is_empty() {
                                    view! {
                                        <section class="empty-state" aria-label="No versions">
                                            <p>"No versions yet. Run a pipeline that declares "<code>{format!("model: {}", model.name)}</code>
                                            ", or create one with "<code>{format!("weir model version create {}", model.name)}</code>"."</p>
                                        </section>
                                    }.into_any()
                                } else {
                                    view! {
                                        <VersionsTable model=model.name.clone() versions=versions.items />
                                        {next_link(&base, "", versions.next_cursor)}
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn kind_badge(kind: ArtifactKind) -> impl IntoView {
    let class = match kind {
        ArtifactKind::Model => "badge badge-ok",
        ArtifactKind::Deployment => "badge badge-running",
        ArtifactKind::Data => "badge",
    };
    view! { <span class=class>{kind.as_str()}</span> }
}

/// The stage changes this user may make from `current`, as (target, label).
fn stage_moves(current: ModelStage, may_promote: bool) -> Vec<(ModelStage, &'static str)> {
    let all = [
        (ModelStage::Production, "Promote to production"),
        (ModelStage::Staging, "Move to staging"),
        (ModelStage::Archived, "Archive"),
        (ModelStage::None, "Clear the stage"),
    ];
    all.into_iter()
        .filter(|(stage, _)| *stage != current)
        .filter(|(stage, _)| {
            may_promote || (*stage != ModelStage::Production && current != ModelStage::Production)
        })
        .collect()
}

fn history_rows(history: Vec<StageChange>) -> impl IntoView {
    history
        .into_iter()
        .map(|c| {
            view! {
                <tr>
                    <td class="nowrap">{format::datetime(&c.at)}</td>
                    <td><StageBadge stage=c.from />" → "<StageBadge stage=c.to /></td>
                    <td>{c.by}</td>
                    <td>{c.reason}</td>
                </tr>
            }
        })
        .collect_view()
}

#[component]
fn VersionView(data: VersionPage) -> impl IntoView {
    let VersionPage { model, version } = data;
    let v = version.version.clone();
    let title = format!("{} {}", model.name, version_text(&v.reference()));
    let moves = if model.ownership.can_edit {
        stage_moves(v.stage, model.can_promote)
    } else {
        vec![]
    };
    let stage_base = format!(
        "/models/{}/versions/{}/stage",
        encode(&model.name),
        v.number
    );
    let mut metadata: Vec<(String, String)> = v
        .metadata
        .iter()
        .map(|(k, value)| (k.clone(), value_text(value)))
        .collect();
    metadata.sort();
    view! {
        <Title text=title.clone() />
        <PageHeader title=title subtitle=if v.description.is_empty() { "Model version".to_string() } else { v.description.clone() }>
            <a class="button secondary" href=model_href(&model.name)>{format!("All versions of {}", model.name)}</a>
        </PageHeader>
        <section class="card summary" aria-label="This version">
            <dl class="facts">
                <dt>"Stage"</dt><dd><StageBadge stage=v.stage /></dd>
                {(!v.aliases.is_empty()).then(|| view! {
                    <dt>"Aliases"</dt>
                    <dd>{v.aliases.iter().map(|a| view! { <span class="badge badge-team">{a.clone()}</span>" " }).collect_view()}</dd>
                })}
                <dt>"Created"</dt><dd>{format!("{} by {}", format::datetime(&v.created_at), v.created_by.clone().unwrap_or_else(|| "—".into()))}</dd>
                <dt>"Run"</dt>
                <dd>{match &v.run {
                    Some(run) => view! { <a href=format!("/runs/{}", run.id)>{run.name.clone()}</a>" "<StatusBadge status=run.status /> }.into_any(),
                    None => view! { <span class="muted">"Created by hand"</span> }.into_any(),
                }}</dd>
                {(!v.tags.is_empty()).then(|| view! {
                    <dt>"Tags"</dt>
                    <dd>{v.tags.iter().map(|t| view! { <span class="badge tag">{t.clone()}</span>" " }).collect_view()}</dd>
                })}
            </dl>
            {(!moves.is_empty()).then(|| view! {
                <nav class="stage-actions" aria-label="Change the stage">
                    {moves.into_iter().map(|(stage, label)| view! {
                        <a class=if stage == ModelStage::Production { "button" } else { "button secondary" }
                            href=format!("{stage_base}?to={}", stage.as_str())>{label}</a>
                    }).collect_view()}
                </nav>
            })}
        </section>
        <section class="section" aria-labelledby="metadata-title">
            <h2 id="metadata-title">"Metadata"</h2>
            {if metadata.is_empty() {
                view! { <p class="muted">"No metadata. Steps log it with "<code>"weir model log-metadata KEY=VALUE"</code>" or "<code>"weir::log_model_metadata"</code>"."</p> }.into_any()
            } else {
                view! {
                    <table class="table" aria-label="Metadata">
                        <thead><tr><th>"Key"</th><th>"Value"</th></tr></thead>
                        <tbody>{metadata.into_iter().map(|(k, value)| view! { <tr><td class="mono">{k}</td><td class="mono">{value}</td></tr> }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="artifacts-title">
            <h2 id="artifacts-title">"Artifacts"</h2>
            {if version.artifacts.is_empty() {
                view! { <p class="muted">"No artifacts linked. Runs link their outputs; "<code>"kind: model"</code>" marks the model itself."</p> }.into_any()
            } else {
                view! {
                    <table class="table" aria-label="Artifacts">
                        <thead><tr><th>"Kind"</th><th>"Artifact"</th><th>"Type"</th><th class="num">"Size"</th><th>"Run"</th></tr></thead>
                        <tbody>{version.artifacts.into_iter().map(|a| view! {
                            <tr>
                                <td>{kind_badge(a.kind)}</td>
                                <td><a href=format!("/artifact-versions/{}", a.artifact_version_id)>{format!("{} v{}", a.artifact, a.version)}</a></td>
                                <td class="mono">{a.data_type}</td>
                                <td class="num">{format::bytes(a.size)}</td>
                                <td>{a.run.unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="runs-title">
            <h2 id="runs-title">"Runs"</h2>
            {if version.runs.is_empty() {
                view! { <p class="muted">"No runs linked to this version."</p> }.into_any()
            } else {
                view! {
                    <table class="table" aria-label="Runs">
                        <thead><tr><th>"Run"</th><th>"Pipeline"</th><th>"Status"</th><th>"Started"</th></tr></thead>
                        <tbody>{version.runs.into_iter().map(|r| view! {
                            <tr>
                                <td><a href=format!("/runs/{}", r.id)>{r.name}</a></td>
                                <td><a href=format!("/pipelines/{}", encode(&r.pipeline))>{r.pipeline.clone()}</a></td>
                                <td><StatusBadge status=r.status /></td>
                                <td class="nowrap">{format::datetime(&r.created_at)}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="history-title">
            <h2 id="history-title">"Stage history"</h2>
            {if version.stage_history.is_empty() {
                view! { <p class="muted">"The stage has never changed."</p> }.into_any()
            } else {
                view! {
                    <table class="table" aria-label="Stage history">
                        <thead><tr><th>"When"</th><th>"Change"</th><th>"By"</th><th>"Reason"</th></tr></thead>
                        <tbody>{history_rows(version.stage_history)}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// `/models/:name/versions/:version`: one version with everything linked to it.
#[component]
pub fn ModelVersionPage() -> impl IntoView {
    let name = name_param();
    let version = version_param();
    let data = Resource::new(move || (name(), version()), |(m, v)| get_version_page(m, v));
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                match data.await {
                    Err(error) => view! {
                        <Title text=name() />
                        <PageHeader title=format!("{} version {}", name(), version()) subtitle="Model version" />
                        <LoadError error missing="No such version" />
                    }.into_any(),
                    Ok(data) => view! { <Notice flash /><VersionView data /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/models/:name/versions/:version/stage?to=…`: what a stage change will do, and the
/// form that does it. Works without JavaScript.
#[component]
pub fn ChangeStage() -> impl IntoView {
    let name = name_param();
    let version = version_param();
    let query = use_query_map();
    let target = move || query.read().get("to").and_then(|s| ModelStage::parse(&s));
    let data = Resource::new(move || (name(), version()), |(m, v)| get_version_page(m, v));
    view! {
        <Title text="Change the stage" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let Some(to) = target() else {
                    return view! {
                        <PageHeader title="Change the stage" subtitle="Model version" />
                        <p class="alert" role="alert">"Choose a stage: none, staging, production or archived."</p>
                    }.into_any();
                };
                match data.await {
                    Err(error) => view! {
                        <PageHeader title="Change the stage" subtitle="Model version" />
                        <LoadError error missing="No such version" />
                    }.into_any(),
                    Ok(VersionPage { model, version }) => {
                        let v = version.version;
                        let label = version_text(&v.reference());
                        let back = version_href(&model.name, v.number);
                        let replaced = model
                            .production_version
                            .clone()
                            .filter(|p| to == ModelStage::Production && p.number != v.number);
                        let allowed = model.ownership.can_edit
                            && (model.can_promote
                                || (to != ModelStage::Production && v.stage != ModelStage::Production));
                        let (question, button) = match to {
                            ModelStage::Production => (format!("Promote {label} of {} to production?", model.name), "Yes, promote to production"),
                            ModelStage::Staging => (format!("Move {label} of {} to staging?", model.name), "Yes, move to staging"),
                            ModelStage::Archived => (format!("Archive {label} of {}?", model.name), "Yes, archive it"),
                            ModelStage::None => (format!("Clear the stage of {label} of {}?", model.name), "Yes, clear the stage"),
                        };
                        view! {
                            <PageHeader title=format!("{} {label}", model.name) subtitle="Change the stage" />
                            <section class="card narrow" aria-labelledby="stage-title">
                                <h2 id="stage-title">{question}</h2>
                                <p>"Now: "<StageBadge stage=v.stage />" → then: "<StageBadge stage=to /></p>
                                {replaced.map(|p| view! {
                                    <p class="hint" role="note">{format!("{} is in production now; it will be archived.", version_text(&p))}</p>
                                })}
                                {(v.stage == ModelStage::Production && to != ModelStage::Production).then(|| view! {
                                    <p class="hint" role="note">"The model will have no version in production."</p>
                                })}
                                {if v.stage == to {
                                    view! { <p class="hint" role="note">"It is in this stage already: nothing to change."</p> }.into_any()
                                } else if !allowed {
                                    view! {
                                        <p class="alert" role="alert">
                                            {if model.ownership.can_edit {
                                                "Moving a version to or from production is for the model's owner, its team's admins and server admins."
                                            } else {
                                                "Only the model's owner and its team's editors change stages."
                                            }}
                                        </p>
                                    }.into_any()
                                } else {
                                    view! {
                                        <form method="post" action="/forms/models/stage" class="form">
                                            <input type="hidden" name="model" value=model.name.clone() />
                                            <input type="hidden" name="version" value=v.number.to_string() />
                                            <input type="hidden" name="stage" value=to.as_str() />
                                            <div class="field">
                                                <label for="stage-reason">"Reason (kept in the stage history)"</label>
                                                <input id="stage-reason" name="reason" type="text" maxlength="200" />
                                            </div>
                                            <button type="submit" class=if to == ModelStage::Archived || to == ModelStage::None { "button danger" } else { "button" }>{button}</button>
                                        </form>
                                    }.into_any()
                                }}
                                <p><a href=back>"Cancel"</a></p>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn VersionComparison(comparison: ModelVersionComparison, metric: Option<String>) -> impl IntoView {
    let chartable: Vec<String> = comparison
        .keys
        .iter()
        .filter(|k| k.numeric)
        .map(|k| k.key.clone())
        .collect();
    let metric = metric
        .filter(|m| chartable.contains(m))
        .or_else(|| chartable.first().cloned());
    let labels: Vec<String> = comparison
        .versions
        .iter()
        .map(|v| version_text(&v.reference()))
        .collect();
    let chart = metric.as_ref().map(|m| {
        let values: Vec<Option<f64>> = comparison
            .versions
            .iter()
            .map(|v| v.metadata.get(m).and_then(serde_json::Value::as_f64))
            .collect();
        bar_chart(&labels, &values, m, "the compared versions")
    });
    let model = comparison.model.clone();
    let numbers: Vec<String> = comparison
        .versions
        .iter()
        .map(|v| v.number.to_string())
        .collect();
    let heads = comparison
        .versions
        .iter()
        .map(|v| {
            view! {
                <th scope="col">
                    <a href=version_href(&model, v.number)>{version_text(&v.reference())}</a>
                    <div><StageBadge stage=v.stage /></div>
                    <div class="muted small">{format::datetime(&v.created_at)}</div>
                </th>
            }
        })
        .collect_view();
    let differing = comparison.keys.iter().filter(|k| k.differs).count();
    let rows = comparison
        .keys
        .iter()
        .map(|key| {
            let cells = comparison
                .versions
                .iter()
                .map(|v| {
                    let text = v
                        .metadata
                        .get(&key.key)
                        .map(value_text)
                        .unwrap_or_else(|| "—".into());
                    view! { <td class="mono value">{text}</td> }
                })
                .collect_view();
            view! {
                <tr class=if key.differs { "differs" } else { "" }>
                    <th scope="row" class="mono">{key.key.clone()}
                        {key.differs.then(|| view! { <span class="visually-hidden">" (differs)"</span> })}
                    </th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    let n = comparison.versions.len();
    view! {
        <header class="page-header">
            <div>
                <h1>"Compare versions"</h1>
                <p class="muted">{format!("{n} versions of ")}<a href=model_href(&model)>{model.clone()}</a>", oldest first."</p>
            </div>
        </header>
        <p class="hint">{format!("{} of {} metadata keys differ; they are highlighted.", format::count(differing), format::count(comparison.keys.len()))}</p>
        <section class="section" aria-labelledby="chart-title">
            <h2 id="chart-title">"Metric"</h2>
            {if chartable.is_empty() {
                view! { <p class="muted">"No metadata key holds a number in every one of these versions."</p> }.into_any()
            } else {
                view! {
                    <form method="get" action=format!("{}/compare", model_href(&model)) class="inline-form filter-bar" aria-label="Choose a metric">
                        {numbers.iter().map(|n| view! { <input type="hidden" name="version" value=n.clone() /> }).collect_view()}
                        <label for="compare-metric">"Metric"</label>
                        <select id="compare-metric" name="metric">
                            {chartable.iter().map(|m| view! { <option value=m.clone() selected=metric.as_deref() == Some(m.as_str())>{m.clone()}</option> }).collect_view()}
                        </select>
                        <button type="submit" class="button secondary">"Show"</button>
                    </form>
                    {chart}
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="values-title">
            <h2 id="values-title">"Metadata"</h2>
            <div class="table-scroll">
                <table class="table compare-table" aria-label="Metadata side by side">
                    <thead><tr><th scope="col">"Key"</th>{heads}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

/// `/models/:name/compare?version=1&version=2[&metric=accuracy]`.
#[component]
pub fn ModelCompare() -> impl IntoView {
    let name = name_param();
    let query = use_query_map();
    let versions = move || query.read().get_all("version").unwrap_or_default();
    let metric = move || query.read().get("metric").filter(|m| !m.trim().is_empty());
    let comparison = Resource::new(
        move || (name(), versions()),
        |(model, versions)| get_model_comparison(model, versions),
    );
    view! {
        <Title text="Compare versions" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match comparison.await {
                    Ok(comparison) => view! { <VersionComparison comparison metric=metric() /> }.into_any(),
                    Err(AppError::Invalid(fields)) => view! {
                        <header class="page-header"><div><h1>"Compare versions"</h1></div></header>
                        <section class="empty-state" aria-label="Nothing to compare">
                            <h2>"Choose versions to compare"</h2>
                            <ul class="alert" role="alert">
                                {fields.into_iter().map(|f| view! { <li>{f.message}</li> }).collect_view()}
                            </ul>
                            <p>"Tick two versions or more on the "<a href=model_href(&name())>"model's page"</a>" and press “Compare selected”."</p>
                        </section>
                    }.into_any(),
                    Err(error) => view! {
                        <header class="page-header"><div><h1>"Compare versions"</h1></div></header>
                        <LoadError error missing="No such model" />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_team_admins_see_production_moves() {
        let editor: Vec<ModelStage> = stage_moves(ModelStage::Staging, false)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(editor, [ModelStage::Archived, ModelStage::None]);
        assert!(stage_moves(ModelStage::Production, false).is_empty());
        let lead: Vec<ModelStage> = stage_moves(ModelStage::Production, true)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            lead,
            [ModelStage::Staging, ModelStage::Archived, ModelStage::None]
        );
    }
}
