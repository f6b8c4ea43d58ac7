//! Live updates in the browser: a page follows a run's event stream
//! (`/api/v1/runs/{id}/events`, authenticated by the session cookie) and reads what it
//! shows again whenever the run changes. Only in the hydrated page: without JavaScript
//! the page shows the state it was rendered with.

use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// Calls `changed` on each `update` of the run's stream, until the stream says the run
/// has ended or the reactive owner (the page) goes away, and once whenever the stream
/// opens (changes before it went unheard). The browser reconnects a broken stream by
/// itself; the page then reads the run again.
pub fn follow_run(run: &str, changed: impl Fn() + 'static) {
    let url = format!("/api/v1/runs/{}/events", run.replace('/', "%2F"));
    let Ok(source) = EventSource::new(&url) else {
        return;
    };
    let changed = std::rc::Rc::new(changed);
    let on_update = {
        let changed = changed.clone();
        Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| changed())
    };
    let on_ready = {
        let changed = changed.clone();
        // `ready` means the stream listens. What the page shows was read before that
        // (rendered on the server, or read before a reconnection), so a change may have
        // fallen in between: read it again once, now that no later change can be missed.
        Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| changed())
    };
    let on_end = {
        let source = source.clone();
        Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| source.close())
    };
    for (name, callback) in [
        ("update", &on_update),
        ("ready", &on_ready),
        ("end", &on_end),
    ] {
        let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
    }
    let held = SendWrapper::new((source, on_update, on_ready, on_end));
    on_cleanup(move || {
        held.0.close();
        drop(held);
    });
}
