//! Live view of the server's run over server-sent events (`/api/live`).
//! The browser's `EventSource` reconnects by itself and sends the last event
//! number it received, so the server resumes without gaps. Events at or
//! below the last applied number are also ignored by [`RunView::apply`].

use leptos::prelude::*;
use starling_runlog::live::Applied;
use starling_runlog::{LiveEvent, RunView, Sequenced};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// Badge state while the first connection opens.
pub const CONNECTING: &str = "connecting";
/// Badge state while events are arriving.
pub const LIVE: &str = "live";
/// Badge state after the connection dropped, while the browser retries.
pub const RECONNECTING: &str = "reconnecting";
/// Badge state once the run's last event arrived or the browser stopped
/// reconnecting.
pub const ENDED: &str = "ended";

/// Subscribes to `/api/live` and applies every event to `run`, while
/// `state` tracks the connection for the badge.
pub fn follow(run: RwSignal<RunView>, state: RwSignal<String>) -> Result<(), String> {
    let source = EventSource::new("/api/live").map_err(|err| crate::api::js_text(&err))?;
    state.set(CONNECTING.to_owned());

    let on_message = {
        let source = source.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            let item: Sequenced = match serde_json::from_str(&text) {
                Ok(item) => item,
                Err(err) => {
                    leptos::logging::warn!("ignored a live event that did not parse: {err}");
                    return;
                }
            };
            let ended = matches!(item.event, LiveEvent::Finished(_));
            run.update(|view| {
                if let Applied::AfterGap { expected } = view.follow(item) {
                    leptos::logging::warn!("live feed skipped from event {expected}");
                }
            });
            if ended {
                // The server closes the stream after the last event, so close
                // the source to stop the browser from reconnecting.
                source.close();
                state.set(ENDED.to_owned());
            } else if state.get_untracked() != LIVE {
                state.set(LIVE.to_owned());
            }
        })
    };
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_error = {
        let source = source.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if state.get_untracked() == ENDED {
                return;
            }
            let next = if source.ready_state() == EventSource::CLOSED {
                ENDED
            } else {
                RECONNECTING
            };
            state.set(next.to_owned());
        })
    };
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    Ok(())
}
