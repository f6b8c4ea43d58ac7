//! Sign-in and first-start setup pages: plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::{Flash, setup_token_valid, take_flash};

/// A form's one-time message, if the last submission left one.
#[component]
pub(super) fn FlashAlert(flash: Flash) -> impl IntoView {
    (!flash.message.is_empty()).then(|| {
        view! {
            <p class="alert" role="alert">
                {flash.message}
            </p>
        }
    })
}

/// An input with its label and, when the last submission was refused, the reason.
#[component]
pub(super) fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "")] autocomplete: &'static str,
    #[prop(optional)] value: String,
    #[prop(optional)] required: bool,
    #[prop(optional)] hint: &'static str,
    flash: Flash,
) -> impl IntoView {
    let error = flash.field(name);
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let invalid = error.is_some();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                required=required
                aria-invalid=invalid.then_some("true")
                aria-describedby=invalid.then(|| error_id.clone())
            />
            {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
            {error.map(|message| view! { <p class="field-error" id=error_id>{message}</p> })}
        </div>
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Sign in" />
        <section class="auth-card" aria-labelledby="sign-in-title">
            <h1 id="sign-in-title">"Sign in"</h1>
            <p class="muted">"Sign in to Weir with your user name and password."</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let flash = flash.await.ok().flatten().unwrap_or_default();
                    view! {
                        <FlashAlert flash=flash.clone() />
                        <form method="post" action="/auth/sign-in" class="form">
                            <input type="hidden" name="next" value=next() />
                            <Field
                                label="User name"
                                name="name"
                                autocomplete="username"
                                value=flash.name.clone()
                                required=true
                                flash=flash.clone()
                            />
                            <Field
                                label="Password"
                                name="password"
                                kind="password"
                                autocomplete="current-password"
                                required=true
                                flash=flash
                            />
                            <button type="submit" class="button">"Sign in"</button>
                        </form>
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let valid = Resource::new(token, |t| async move {
        if t.is_empty() {
            Ok(false)
        } else {
            setup_token_valid(t).await
        }
    });
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Set up Weir" />
        <section class="auth-card" aria-labelledby="setup-title">
            <h1 id="setup-title">"Set up Weir"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let flash = flash.await.ok().flatten().unwrap_or_default();
                    match valid.await {
                        Ok(true) => view! {
                            <p class="muted">
                                "Create the first administrator. This link works once; later \
                                 accounts are created by administrators."
                            </p>
                            <FlashAlert flash=flash.clone() />
                            <form method="post" action="/auth/setup" class="form">
                                <input type="hidden" name="token" value=token() />
                                <Field label="User name" name="name" autocomplete="username"
                                    value=flash.name.clone() required=true
                                    hint="Letters, digits, '-' and '_'; you sign in with it."
                                    flash=flash.clone() />
                                <Field label="Display name" name="display_name" autocomplete="name"
                                    flash=flash.clone() />
                                <Field label="Email" name="email" kind="email" autocomplete="email"
                                    flash=flash.clone() />
                                <Field label="Password" name="password" kind="password"
                                    autocomplete="new-password" required=true
                                    hint="At least 10 characters." flash=flash.clone() />
                                <Field label="Password again" name="password_again" kind="password"
                                    autocomplete="new-password" required=true flash=flash />
                                <button type="submit" class="button">"Create administrator"</button>
                            </form>
                        }
                        .into_any(),
                        Ok(false) => view! {
                            <p class="alert" role="alert">
                                "This setup link is not valid. Either Weir is already set up, or \
                                 the link is not the one weir-server printed at its last start."
                            </p>
                            <a class="button" href="/sign-in">"Go to sign in"</a>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
