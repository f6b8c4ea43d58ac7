//! The page for addresses that name nothing; answered with status 404.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="empty-state" aria-labelledby="not-found-title">
            <p class="empty-code">"404"</p>
            <h1 id="not-found-title">"Page not found"</h1>
            <p class="muted">"Nothing lives at this address. It may have been mistyped, or the item was deleted."</p>
            <a class="button" href="/">"Go to the overview"</a>
        </section>
    }
}
