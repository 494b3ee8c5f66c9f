//! The worker's main loop: connect, register, train each round task,
//! upload, and reconnect with backoff until the run ends.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use starling_client::{
    ClientError, DataSource, LocalJob, Notice, Session, SessionEnd, drive_observed, update_message,
};
use starling_proto::{ClientMessage, FinishReason, ParamSet};
use starling_train::{ComputeDevice, evaluate_on, train_local_with};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::DedicatedWorkerGlobalScope;

use crate::options::{BackendChoice, WorkerOptions, retry_delay_ms};
use crate::own_data::own_dataset;
use crate::socket::{BrowserSocket, ByteCounters, ConnectError};
use crate::status::{State, Status};
use crate::timer::{now_ms, sleep_ms};

/// Posts the client's status to the page after every change.
struct Reporter {
    status: RefCell<Status>,
    counters: Rc<ByteCounters>,
    scope: DedicatedWorkerGlobalScope,
}

impl Reporter {
    fn update(&self, change: impl FnOnce(&mut Status)) {
        let json = {
            let mut status = self.status.borrow_mut();
            change(&mut status);
            status.bytes_sent = self.counters.sent.get();
            status.bytes_received = self.counters.received.get();
            status.to_json()
        };
        if let Err(error) = self.scope.post_message(&JsValue::from_str(&json)) {
            web_sys::console::error_2(&"status post failed".into(), &error);
        }
    }

    fn stop(&self, state: State, message: String) {
        web_sys::console::warn_1(&message.clone().into());
        self.update(|status| {
            status.state = state;
            status.message = message;
        });
    }
}

/// Runs the browser client until the run ends or the client must stop.
///
/// `options` is the page's JSON ([`WorkerOptions`]). With an empty
/// `data_kind` the client trains on the partition the server assigns.
/// Otherwise `images` and `labels` are the user's own examples (see
/// [`own_dataset`]). Progress goes to the page as status messages, and the
/// returned promise rejects only when the options are unusable.
#[wasm_bindgen]
pub async fn run_worker(
    options: String,
    data_kind: String,
    images: Vec<u8>,
    labels: Vec<u8>,
) -> Result<(), JsValue> {
    let options = WorkerOptions::from_json(&options).map_err(|error| JsValue::from_str(&error))?;
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let counters = Rc::new(ByteCounters::default());

    let (device, device_note) = open_device(options.backend).await;
    let device_name = match device.name() {
        starling_train::BACKEND_NAME => "cpu".to_owned(),
        _ => options.device.clone(),
    };
    let reporter = Rc::new(Reporter {
        status: RefCell::new(Status::new(&options.client_id, device.name(), &device_name)),
        counters: Rc::clone(&counters),
        scope,
    });
    if let Some(note) = device_note {
        reporter.update(|status| status.message = note);
    }

    let source = if data_kind.is_empty() {
        DataSource::Embedded
    } else {
        match own_dataset(&data_kind, &images, &labels) {
            Ok(data) => DataSource::Own(Arc::new(data)),
            Err(error) => {
                reporter.stop(State::Failed, format!("Your data cannot be used: {error}"));
                return Ok(());
            }
        }
    };
    let session = Session::new(options.client_id.clone(), "browser", source)
        .with_backend(device.name(), &device_name);
    reporter.update(|status| status.examples = session.num_examples());
    run_session(session, &options, device, &reporter, &counters).await;
    Ok(())
}

/// Opens the requested backend, falling back to the CPU with a note when
/// WebGPU fails.
async fn open_device(choice: BackendChoice) -> (ComputeDevice, Option<String>) {
    match choice {
        BackendChoice::Cpu => (ComputeDevice::cpu(), None),
        BackendChoice::Webgpu => match ComputeDevice::wgpu().await {
            Ok(device) => (device, None),
            Err(error) => (
                ComputeDevice::cpu(),
                Some(format!(
                    "WebGPU could not start ({error}); training on the CPU."
                )),
            ),
        },
    }
}

async fn run_session(
    mut session: Session,
    options: &WorkerOptions,
    device: ComputeDevice,
    reporter: &Rc<Reporter>,
    counters: &Rc<ByteCounters>,
) {
    let url = options.server_url.as_str();
    let mut train =
        |job: Box<LocalJob>| train_task(job, device.clone(), Rc::clone(reporter), options.hold_ms);
    let mut observe = |session: &Session, notice: Notice| {
        observe_notice(reporter, session, notice);
    };
    let mut attempt = 0u32;
    loop {
        reporter.update(|status| {
            status.state = State::Connecting;
            status.retry_attempt = attempt;
            status.message = if attempt > 0 {
                format!("Connecting to {url} (attempt {})…", attempt + 1)
            } else {
                String::new()
            };
        });
        let mut socket = match BrowserSocket::connect(url, Rc::clone(counters)).await {
            Ok(socket) => socket,
            Err(ConnectError::InvalidUrl(error)) => {
                reporter.stop(
                    State::Failed,
                    format!("The server URL {url} is invalid: {error}"),
                );
                return;
            }
            Err(ConnectError::Unreachable(error)) => {
                attempt += 1;
                let problem = format!("Cannot reach the server at {url} ({error})");
                wait_to_retry(reporter, attempt, &problem).await;
                continue;
            }
        };
        let rounds_before = session.rounds_trained();
        let end = drive_observed(&mut session, &mut socket, &mut train, &mut observe).await;
        drop(socket);
        match end {
            Ok(SessionEnd::Finished {
                reason,
                rounds,
                accuracy,
            }) => {
                reporter.update(|status| {
                    status.state = State::Finished;
                    status.final_accuracy = accuracy;
                    status.message = finish_message(&reason, rounds);
                });
                return;
            }
            Ok(SessionEnd::Replaced) => {
                reporter.stop(
                    State::Replaced,
                    "Another tab or device joined with this client id, so this tab stopped."
                        .to_owned(),
                );
                return;
            }
            Ok(SessionEnd::Disconnected(reason)) => {
                // A connection that got through a round resets the backoff.
                attempt = if session.rounds_trained() > rounds_before {
                    1
                } else {
                    attempt + 1
                };
                let problem = format!("Lost the connection to {url} ({reason})");
                wait_to_retry(reporter, attempt, &problem).await;
            }
            Err(ClientError::Rejected(message)) => {
                reporter.stop(
                    State::Rejected,
                    format!("The server rejected this client: {message}"),
                );
                return;
            }
            Err(error) => {
                reporter.stop(State::Failed, format!("The client stopped: {error}"));
                return;
            }
        }
    }
}

/// Reports `problem` with the delay before connection attempt `attempt`,
/// then waits that long.
async fn wait_to_retry(reporter: &Reporter, attempt: u32, problem: &str) {
    let delay = retry_delay_ms(attempt, js_sys::Math::random());
    reporter.update(|status| {
        status.state = State::Reconnecting;
        status.retry_attempt = attempt;
        status.message = format!("{problem}. Retrying in {:.1} s.", f64::from(delay) / 1000.0);
    });
    sleep_ms(delay).await;
}

/// Returns the sentence the page shows when the run ends.
fn finish_message(reason: &FinishReason, rounds: u32) -> String {
    let rounds_text = match rounds {
        1 => "1 round".to_owned(),
        n => format!("{n} rounds"),
    };
    match reason {
        FinishReason::RoundsCompleted => format!("The run completed all {rounds_text}."),
        FinishReason::TargetAccuracy => {
            format!("The run reached its target accuracy after {rounds_text}.")
        }
        FinishReason::Stopped => format!("The server stopped the run after {rounds_text}."),
        FinishReason::Failed(cause) => format!("The run failed after {rounds_text}: {cause}"),
        FinishReason::PrivacyBudget { epsilon, budget } => format!(
            "The run spent its privacy budget after {rounds_text} (ε = {epsilon:.2} of {budget})."
        ),
    }
}

fn observe_notice(reporter: &Reporter, session: &Session, notice: Notice) {
    reporter.update(|status| match notice {
        Notice::Welcomed => {
            status.state = State::Waiting;
            status.retry_attempt = 0;
            status.message.clear();
            status.run_id = session.run_id().map(str::to_owned);
            status.examples = session.num_examples();
        }
        Notice::RoundStarted(round) => {
            status.state = State::Training;
            status.round = Some(round);
        }
        Notice::Accepted(round) => {
            status.state = State::Waiting;
            status.round = Some(round);
            status.rounds_completed = session.rounds_trained();
        }
        Notice::SecurePhase(round) => {
            status.state = State::Waiting;
            status.round = Some(round);
        }
        Notice::Refused { code, message } => {
            status.message = format!("The server rejected a message ({code:?}): {message}");
        }
        Notice::Finished => status.state = State::Finished,
    });
}

async fn train_task(
    job: Box<LocalJob>,
    device: ComputeDevice,
    reporter: Rc<Reporter>,
    hold_ms: u32,
) -> Result<ClientMessage, ClientError> {
    let started = now_ms();
    let LocalJob { task, data, terms } = *job;
    let outcome =
        train_local_with(&device, &task.model, &task.config, &data, task.seed, &terms).await?;
    let local = apply_delta(&task.model, &outcome.delta);
    let local_eval = evaluate_on(&device, task.config.model, &local, &data).await?;
    let elapsed = now_ms() - started;
    reporter.update(|status| {
        status.state = State::Uploading;
        status.loss = Some(outcome.train_loss);
        status.accuracy = Some(local_eval.accuracy);
        status.train_ms = Some(elapsed);
    });
    if hold_ms > 0 {
        sleep_ms(hold_ms).await;
    }
    Ok(update_message(task.round, outcome))
}

/// Returns the locally trained model: the global model plus the update.
fn apply_delta(global: &ParamSet, delta: &ParamSet) -> ParamSet {
    let mut local = global.clone();
    for (value, change) in local.values_mut().iter_mut().zip(delta.values()) {
        *value += change;
    }
    local
}
