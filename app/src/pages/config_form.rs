//! The form of a component's configuration, drawn from its flavor's JSON Schema (read by
//! `weir_api::config_schema`, the same reader the server checks configurations with).
//! Inputs are named by their path (`config.retry.attempts`), which is also how the
//! server names a field's problem, so each problem appears beside its field. Nothing is
//! marked `required` for the browser: the server's answer says what is missing.

use leptos::prelude::*;
use weir_api::FieldError;
use weir_api::config_schema::{FieldSpec, Kind};

/// What the form is filled with and what the last submission was refused for.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    /// `config.bucket` → text.
    pub values: Vec<(String, String)>,
    pub errors: Vec<FieldError>,
    /// `{{secret.key}}` choices for sensitive fields.
    pub references: Vec<String>,
}

impl FormState {
    fn value(&self, path: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
    }

    /// Problems of this field and of its list items (`config.tags[0]`).
    fn error(&self, path: &str) -> Option<String> {
        let item = format!("{path}[");
        let messages: Vec<String> = self
            .errors
            .iter()
            .filter(|e| e.field == path || e.field.starts_with(&item))
            .map(|e| match e.field.strip_prefix(path) {
                Some(index) if !index.is_empty() => format!("item {index}: {}", e.message),
                _ => e.message.clone(),
            })
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }
}

/// Every path the fields of `fields` are shown under, to find problems no field shows.
pub fn paths(fields: &[FieldSpec], prefix: &str, out: &mut Vec<String>) {
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        if let Kind::Object(inner) = &field.kind {
            paths(inner, &format!("{path}."), out);
        }
        out.push(path);
    }
}

fn default_text(field: &FieldSpec) -> Option<String> {
    use serde_json::Value;
    match field.default.as_ref()? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => Some(other.to_string()),
    }
}

fn number_text(n: Option<f64>) -> Option<String> {
    n.map(|n| n.to_string())
}

/// The inputs of `fields` (required ones first), named under `prefix`.
pub fn config_fields(fields: &[FieldSpec], prefix: &str, state: &FormState) -> AnyView {
    let mut ordered: Vec<&FieldSpec> = fields.iter().collect();
    ordered.sort_by_key(|f| !f.required);
    ordered
        .into_iter()
        .map(|field| config_field(field, prefix, state))
        .collect_view()
        .into_any()
}

fn config_field(field: &FieldSpec, prefix: &str, state: &FormState) -> AnyView {
    let path = format!("{prefix}{}", field.name);
    let id = format!("field-{path}");
    let error_id = format!("{id}-error");
    let error = state.error(&path);
    let invalid = error.is_some();
    let described = invalid.then(|| error_id.clone());
    let value = state.value(&path);
    let default = default_text(field);
    let help = (!field.description.is_empty()).then(|| field.description.clone());
    let required = field.required;
    let title = field.title.clone();
    let label = view! {
        <label for=id.clone()>
            {title.clone()}
            {required.then(|| view! { <span class="required">" required"</span> })}
        </label>
    };
    let error_view = error.map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> });
    let help_view = help.map(|h| view! { <p class="hint">{h}</p> });
    let aria_invalid = invalid.then_some("true");
    let aria_required = required.then_some("true");

    if let Kind::Object(inner) = &field.kind {
        let nested = config_fields(inner, &format!("{path}."), state);
        return view! {
            <fieldset class="nested">
                <legend>{title}</legend>
                {help_view}
                {error_view}
                {nested}
            </fieldset>
        }
        .into_any();
    }

    if let Kind::Boolean = field.kind {
        let checked = match value.as_deref() {
            Some(v) => v == "true",
            None => field.default == Some(serde_json::Value::Bool(true)),
        };
        return view! {
            <div class="field">
                // Unticked boxes send nothing: this sends false, and a ticked box's true
                // comes after it and wins.
                <input type="hidden" name=path.clone() value="false" />
                <label class="check" for=id.clone()>
                    <input type="checkbox" id=id.clone() name=path value="true" checked=checked
                        aria-invalid=aria_invalid aria-describedby=described />
                    {format!(" {title}")}
                </label>
                {help_view}
                {error_view}
            </div>
        }
        .into_any();
    }

    let input = if field.sensitive {
        let mut choices = state.references.clone();
        if let Some(v) = value
            .as_ref()
            .filter(|v| !v.is_empty() && !choices.contains(v))
        {
            choices.insert(0, v.clone());
        }
        let none = choices.is_empty();
        view! {
            <select id=id name=path aria-invalid=aria_invalid aria-describedby=described aria-required=aria_required>
                <option value="">"— choose a secret —"</option>
                {choices.into_iter().map(|choice| {
                    let selected = value.as_deref() == Some(choice.as_str());
                    view! { <option value=choice.clone() selected=selected>{choice.clone()}</option> }
                }).collect_view()}
            </select>
            <p class="hint">
                {if none {
                    view! { "A key of a secret; you have none yet: " <a href="/secrets/new">"create one"</a> " first." }.into_any()
                } else {
                    view! { "A key of a secret you may use, or a " <a href="/secrets/new">"new secret"</a> "." }.into_any()
                }}
            </p>
        }
        .into_any()
    } else {
        match &field.kind {
            Kind::Enum(options) => {
                let chosen = value.clone().or_else(|| default.clone());
                let optional = !required;
                view! {
                    <select id=id name=path aria-invalid=aria_invalid aria-describedby=described aria-required=aria_required>
                        {optional.then(|| view! { <option value="" selected=chosen.is_none()>"—"</option> })}
                        {options.iter().map(|option| {
                            let selected = chosen.as_deref() == Some(option.as_str());
                            view! { <option value=option.clone() selected=selected>{option.clone()}</option> }
                        }).collect_view()}
                    </select>
                }
                .into_any()
            }
            Kind::Array(_) => view! {
                <textarea id=id name=path rows="3" placeholder=default.unwrap_or_default()
                    aria-invalid=aria_invalid aria-describedby=described aria-required=aria_required>
                    {value.unwrap_or_default()}
                </textarea>
                <p class="hint">"One per line, or separated by commas."</p>
            }
            .into_any(),
            Kind::Integer | Kind::Number => {
                let step = if field.kind == Kind::Integer { "1" } else { "any" };
                view! {
                    <input id=id name=path type="number" step=step
                        min=number_text(field.minimum) max=number_text(field.maximum)
                        value=value.unwrap_or_default() placeholder=default.unwrap_or_default()
                        aria-invalid=aria_invalid aria-describedby=described aria-required=aria_required />
                }
                .into_any()
            }
            _ => view! {
                <input id=id name=path type="text" value=value.unwrap_or_default()
                    placeholder=default.unwrap_or_default() autocomplete="off"
                    aria-invalid=aria_invalid aria-describedby=described aria-required=aria_required />
            }
            .into_any(),
        }
    };
    view! {
        <div class="field">
            {label}
            {input}
            {help_view}
            {error_view}
        </div>
    }
    .into_any()
}
