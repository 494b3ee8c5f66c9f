//! The client side of the protocol as a state machine: what to send when
//! connecting, and what each server message asks the client to do.

use std::sync::Arc;

use starling_data::Dataset;
use starling_proto::{
    Capabilities, ClientMessage, ClientUpdate, Clipping, ErrorCode, FinishReason, ParamSet,
    RoundTask, ServerMessage, UpdatePayload,
};

use starling_train::{LocalOutcome, LocalTerms};

use crate::control::ControlVariate;
use crate::data::DataSource;
use crate::secure::SecureUplink;
use crate::uplink::{Packing, Uplink};

/// Error that stops a client session.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Local training failed.
    #[error("local training failed: {0}")]
    Train(#[from] starling_train::TrainError),
    /// The assigned partition could not be built.
    #[error("failed to build the assigned data partition: {0}")]
    Data(#[from] starling_data::DataError),
    /// The server assigned no partition to a client without data.
    #[error("server sent no data assignment and the client has no data of its own")]
    NoAssignment,
    /// A round task arrived before the server's welcome.
    #[error("round task for round {0} arrived before the server's welcome")]
    NotWelcomed(u32),
    /// The thread or worker running local training failed.
    #[error("training worker failed: {0}")]
    Worker(String),
    /// The server rejected this client's registration.
    #[error("server rejected the registration: {0}")]
    Rejected(String),
    /// The control delta did not fit the model's layout.
    #[error("failed to build the control-variate delta: {0}")]
    Control(#[from] starling_proto::ParamError),
    /// The update could not be clipped as the round requested.
    #[error("failed to clip the update: {0}")]
    Clip(#[from] starling_privacy::PrivacyError),
    /// The update could not be compressed as the round requested.
    #[error("failed to compress the update: {0}")]
    Compress(#[from] starling_compress::CompressError),
    /// The update could not enter the round's secure aggregation; the
    /// client sits this round out.
    #[error("secure aggregation failed: {0}")]
    Secure(#[from] starling_secagg::SecAggError),
}

/// Action the transport loop takes after a server message.
#[derive(Debug)]
pub enum Step {
    /// Nothing to do.
    Continue,
    /// Train on the job and send the resulting update.
    Train(Box<LocalJob>),
    /// Send this reply (a phase of secure aggregation).
    Reply(Box<ClientMessage>),
    /// The run ended.
    Finished {
        /// Why.
        reason: FinishReason,
        /// Rounds the run completed.
        rounds: u32,
        /// Last test accuracy the server measured.
        accuracy: Option<f64>,
    },
    /// Another connection took over this client id; stop without
    /// reconnecting.
    Replaced,
}

/// One round of local training: the server's task, the client's data, and
/// the terms the round's strategy adds to the local loss.
#[derive(Debug)]
pub struct LocalJob {
    /// The task as the server sent it.
    pub task: RoundTask,
    /// The client's training data.
    pub data: Arc<Dataset>,
    /// FedProx and SCAFFOLD terms, resolved against this client's state.
    pub terms: LocalTerms,
}

/// One client's protocol state; survives reconnects.
#[derive(Debug)]
pub struct Session {
    client_id: String,
    capabilities: Capabilities,
    source: DataSource,
    data: Option<Arc<Dataset>>,
    run_id: Option<String>,
    rounds_trained: u32,
    uplink: Uplink,
    control: ControlVariate,
    /// The clipping the current round requested, with its round number.
    clipping: Option<(u32, Clipping)>,
    /// Secure aggregation of the current round.
    secure: SecureUplink,
    /// With downlink compression: the run, version and values of the
    /// reference model this client holds.
    reference: Option<(String, u32, ParamSet)>,
}

impl Session {
    /// A session for `client_id`; `platform` and `backend` are reported to
    /// the server.
    pub fn new(client_id: impl Into<String>, platform: &str, source: DataSource) -> Self {
        let capabilities = Capabilities {
            platform: platform.to_owned(),
            backend: starling_train::BACKEND_NAME.to_owned(),
            device: "cpu".to_owned(),
            wants_data: source.wants_assignment(),
        };
        Self {
            client_id: client_id.into(),
            capabilities,
            source,
            data: None,
            run_id: None,
            rounds_trained: 0,
            uplink: Uplink::default(),
            control: ControlVariate::default(),
            clipping: None,
            secure: SecureUplink::default(),
            reference: None,
        }
    }

    /// Reports `backend` on `device` instead of the CPU backend.
    pub fn with_backend(mut self, backend: &str, device: &str) -> Self {
        self.capabilities.backend = backend.to_owned();
        self.capabilities.device = device.to_owned();
        self
    }

    /// Capabilities sent at registration.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Rounds this client trained in.
    pub fn rounds_trained(&self) -> u32 {
        self.rounds_trained
    }

    /// Run joined, once welcomed.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Local examples, once known.
    pub fn num_examples(&self) -> u64 {
        match &self.data {
            Some(data) => data.len() as u64,
            None => self.source.known_examples(),
        }
    }

    /// Completes the update in `message` for sending. It clips the update
    /// when the round requested differential privacy, attaches the SCAFFOLD
    /// control delta when the round requested one, then compresses the
    /// update as the task requested (`packing`), carrying the
    /// error-feedback residual across rounds of this run. In a secure round
    /// the result is the round's first secure message instead.
    pub fn finish_update(
        &mut self,
        mut message: ClientMessage,
        packing: &Packing,
    ) -> Result<ClientMessage, ClientError> {
        if let ClientMessage::Update(update) = &mut message
            && let Some((round, clipping)) = self.clipping.take()
            && round == update.round
            && let UpdatePayload::Dense(delta) = &mut update.payload
        {
            update.clipped = Some(clip_update(delta, clipping)?);
        }
        if let ClientMessage::Update(update) = &mut message
            && let UpdatePayload::Dense(delta) = &update.payload
            && let Some(change) =
                self.control
                    .finish(update.round, delta.values(), update.local_steps)
        {
            update.control_delta = Some(ParamSet::new(delta.specs().to_vec(), change)?);
        }
        let run_id = self.run_id.clone().unwrap_or_default();
        let message = self.uplink.pack(message, packing, &run_id)?;
        Ok(self.secure.seal(message, packing.client_seed)?)
    }

    /// Returns the SCAFFOLD control variate `c_i`, once a SCAFFOLD round
    /// has finished.
    pub fn control_variate(&self) -> Option<&[f32]> {
        self.control.own()
    }

    /// Returns the error-feedback residual carried into the next update, if any.
    pub fn residual(&self) -> Option<&[f32]> {
        self.uplink.residual()
    }

    /// First message on every (re)connection.
    pub fn register_message(&self) -> ClientMessage {
        ClientMessage::Register {
            client_id: self.client_id.clone(),
            capabilities: self.capabilities.clone(),
            num_examples: self.num_examples(),
        }
    }

    /// Reacts to one server message.
    pub fn on_message(&mut self, message: ServerMessage) -> Result<Step, ClientError> {
        match message {
            ServerMessage::Welcome { run_id, assignment } => {
                if self.data.is_none() {
                    let data = self.source.resolve(assignment.as_ref())?;
                    tracing::info!(
                        client = self.client_id,
                        run_id,
                        examples = data.len(),
                        partition = assignment.as_ref().map(|a| a.index),
                        "joined run"
                    );
                    self.data = Some(data);
                }
                self.run_id = Some(run_id);
                Ok(Step::Continue)
            }
            ServerMessage::Round(mut task) => {
                let data = self
                    .data
                    .clone()
                    .ok_or(ClientError::NotWelcomed(task.round))?;
                if let Err(err) = self.resolve_model(&mut task) {
                    tracing::warn!(client = self.client_id, round = task.round, error = %err, "cannot rebuild the round's model; sitting this round out");
                    return Ok(Step::Continue);
                }
                let correction = task.objective.server_control.as_ref().map(|control| {
                    self.control.begin(
                        self.run_id.as_deref().unwrap_or_default(),
                        task.round,
                        control.values().to_vec(),
                        task.config.learning_rate,
                    )
                });
                let terms = LocalTerms {
                    proximal_mu: task.objective.proximal_mu,
                    correction,
                };
                self.clipping = task.clipping.map(|clipping| (task.round, clipping));
                self.secure.begin(task.round, task.secure.clone());
                Ok(Step::Train(Box::new(LocalJob {
                    task: *task,
                    data,
                    terms,
                })))
            }
            ServerMessage::Accepted { round } => {
                self.rounds_trained += 1;
                tracing::debug!(client = self.client_id, round, "update accepted");
                Ok(Step::Continue)
            }
            ServerMessage::Secure(request) => {
                let round = request.round();
                match self.secure.on_request(request) {
                    Ok(reply) => Ok(Step::Reply(Box::new(reply))),
                    Err(err) => {
                        tracing::warn!(
                            client = self.client_id,
                            round,
                            error = %err,
                            "refused a secure aggregation request; sitting this round out"
                        );
                        Ok(Step::Continue)
                    }
                }
            }
            ServerMessage::Error { code, message } => self.on_error(code, message),
            ServerMessage::Finished {
                reason,
                rounds,
                accuracy,
            } => Ok(Step::Finished {
                reason,
                rounds,
                accuracy,
            }),
        }
    }

    /// With downlink compression, rebuilds the task's model from the
    /// reference this client holds and the steps in the task, or records
    /// a dense model as the new reference.
    fn resolve_model(&mut self, task: &mut RoundTask) -> Result<(), String> {
        let Some(downlink) = &task.downlink else {
            return Ok(());
        };
        let run = self.run_id.clone().unwrap_or_default();
        let Some(update) = &downlink.update else {
            self.reference = Some((run, downlink.version, task.model.clone()));
            return Ok(());
        };
        let Some((held_run, held_version, held)) = &self.reference else {
            return Err("the task sends model steps, but this client holds no model".to_owned());
        };
        if *held_run != run {
            return Err(format!(
                "the held model belongs to run {held_run}, not {run}"
            ));
        }
        let model = if *held_version == downlink.version {
            held.clone()
        } else {
            let base = update.steps.first().map(|step| step.base);
            if base != Some(*held_version) {
                return Err(format!(
                    "the steps start at version {base:?}, but this client holds version {held_version}"
                ));
            }
            let chain = starling_compress::Chain::from_spec(&downlink.compression, held.len())
                .map_err(|err| err.to_string())?;
            let mut values = held.values().to_vec();
            starling_compress::apply_steps(&chain, &mut values, &update.steps)
                .map_err(|err| err.to_string())?;
            ParamSet::new(update.specs.clone(), values).map_err(|err| err.to_string())?
        };
        self.reference = Some((run, downlink.version, model.clone()));
        task.model = model;
        Ok(())
    }

    /// The reference model this client holds under downlink compression,
    /// with its version.
    pub fn reference_model(&self) -> Option<(u32, &ParamSet)> {
        self.reference
            .as_ref()
            .map(|(_, version, model)| (*version, model))
    }

    fn on_error(&mut self, code: ErrorCode, message: String) -> Result<Step, ClientError> {
        tracing::warn!(
            client = self.client_id,
            ?code,
            message,
            "server rejected a message"
        );
        match code {
            ErrorCode::Replaced => Ok(Step::Replaced),
            ErrorCode::InvalidRegistration | ErrorCode::UnsupportedVersion => {
                Err(ClientError::Rejected(message))
            }
            _ => Ok(Step::Continue),
        }
    }
}

/// Clips `delta` as `clipping` requests (the whole update to C, or each
/// tensor to C / sqrt(L)); returns whether anything was scaled down.
fn clip_update(delta: &mut ParamSet, clipping: Clipping) -> Result<bool, ClientError> {
    let sizes: Vec<usize> = delta.specs().iter().map(|spec| spec.numel()).collect();
    let values = delta.values_mut();
    if clipping.per_layer {
        let layers = starling_privacy::clip_per_layer(values, &sizes, clipping.norm)?;
        Ok(layers.iter().any(|layer| layer.clipped))
    } else {
        Ok(starling_privacy::clip_flat(values, clipping.norm)?.clipped)
    }
}

/// Runs local training for a job on the CPU backend and packs the update.
pub fn train_round(job: &LocalJob) -> Result<ClientMessage, ClientError> {
    let task = &job.task;
    let outcome = starling_train::train_local_with_terms(
        &task.model,
        &task.config,
        &job.data,
        task.seed,
        &job.terms,
    )?;
    Ok(update_message(task.round, outcome))
}

/// Packs the outcome of local training in `round` as the update message.
pub fn update_message(round: u32, outcome: LocalOutcome) -> ClientMessage {
    ClientMessage::Update(ClientUpdate {
        round,
        num_examples: outcome.num_examples,
        local_steps: outcome.local_steps,
        train_loss: outcome.train_loss,
        payload: UpdatePayload::Dense(outcome.delta),
        control_delta: None,
        clipped: None,
    })
}

#[cfg(test)]
mod tests {
    use starling_data::Dataset;
    use starling_proto::{LocalObjective, ParamSet, TensorSpec, UplinkCompression};

    use super::*;

    fn welcome(run_id: &str) -> ServerMessage {
        ServerMessage::Welcome {
            run_id: run_id.to_owned(),
            assignment: None,
        }
    }

    fn update(values: Vec<f32>) -> ClientMessage {
        let spec = TensorSpec {
            name: "w".to_owned(),
            shape: vec![values.len() as u32],
        };
        ClientMessage::Update(ClientUpdate {
            round: 1,
            num_examples: 1,
            local_steps: 1,
            train_loss: 0.1,
            payload: UpdatePayload::Dense(ParamSet::new(vec![spec], values).unwrap()),
            control_delta: None,
            clipped: None,
        })
    }

    fn task(round: u32, objective: LocalObjective) -> ServerMessage {
        let spec = TensorSpec {
            name: "w".to_owned(),
            shape: vec![2],
        };
        ServerMessage::Round(Box::new(RoundTask {
            round,
            model: ParamSet::new(vec![spec], vec![0.0, 0.0]).unwrap(),
            config: starling_proto::TrainConfig {
                learning_rate: 0.5,
                ..Default::default()
            },
            deadline_ms: 1000,
            seed: 1,
            round_seed: 2,
            compression: None,
            objective,
            clipping: None,
            downlink: None,
            secure: None,
        }))
    }

    fn control(values: Vec<f32>) -> ParamSet {
        let spec = TensorSpec {
            name: "w".to_owned(),
            shape: vec![values.len() as u32],
        };
        ParamSet::new(vec![spec], values).unwrap()
    }

    #[test]
    fn scaffold_round_sends_control_delta() {
        let data = Dataset::new(vec![0], vec![0], 1, 1).unwrap();
        let mut session = Session::new("c", "test", DataSource::Own(Arc::new(data)));
        session.on_message(welcome("run-1")).unwrap();
        let objective = LocalObjective {
            proximal_mu: 0.0,
            server_control: Some(control(vec![1.0, 0.0])),
        };
        let Step::Train(job) = session.on_message(task(1, objective)).unwrap() else {
            panic!("expected a training step");
        };
        assert_eq!(job.terms.correction, Some(vec![1.0, 0.0]));
        let mut message = update(vec![-2.0, 1.0]);
        if let ClientMessage::Update(update) = &mut message {
            update.local_steps = 2;
        }
        let packing = Packing::of(&job.task);
        let sent = session.finish_update(message, &packing).unwrap();
        let ClientMessage::Update(sent) = sent else {
            panic!("expected an update");
        };
        // c_i+ = 0 - [1, 0] + [2, -1] / (2 * 0.5) = [1, -1].
        assert_eq!(sent.control_delta.unwrap().values(), &[1.0, -1.0]);
        assert_eq!(session.control_variate(), Some(&[1.0, -1.0][..]));
    }

    #[test]
    fn fedprox_round_passes_mu() {
        let data = Dataset::new(vec![0], vec![0], 1, 1).unwrap();
        let mut session = Session::new("c", "test", DataSource::Own(Arc::new(data)));
        session.on_message(welcome("run-1")).unwrap();
        let objective = LocalObjective {
            proximal_mu: 0.01,
            server_control: None,
        };
        let Step::Train(job) = session.on_message(task(1, objective)).unwrap() else {
            panic!("expected a training step");
        };
        assert_eq!(job.terms.proximal_mu, 0.01);
        assert_eq!(job.terms.correction, None);
        let packing = Packing::of(&job.task);
        let sent = session
            .finish_update(update(vec![1.0, 1.0]), &packing)
            .unwrap();
        let ClientMessage::Update(sent) = sent else {
            panic!("expected an update");
        };
        assert_eq!(sent.control_delta, None);
    }

    #[test]
    fn residual_survives_a_reconnect_in_the_same_run() {
        let data = Dataset::new(vec![0], vec![0], 1, 1).unwrap();
        let mut session = Session::new("c", "test", DataSource::Own(Arc::new(data)));
        session.on_message(welcome("run-1")).unwrap();
        let packing = Packing {
            round: 1,
            compression: UplinkCompression::parse("topk:0.5", true).unwrap(),
            round_seed: 1,
            client_seed: 2,
        };
        session
            .finish_update(update(vec![3.0, 1.0]), &packing)
            .unwrap();
        assert_eq!(session.residual(), Some(&[0.0, 1.0][..]));
        // The connection drops; the same session registers again and is
        // welcomed back into the same run.
        session.on_message(welcome("run-1")).unwrap();
        assert_eq!(session.residual(), Some(&[0.0, 1.0][..]));
        session
            .finish_update(update(vec![0.0, 1.0]), &packing)
            .unwrap();
        assert_eq!(session.residual(), Some(&[0.0, 0.0][..]));
    }

    #[test]
    fn downlink_steps_rebuild_the_server_reference_exactly() {
        use starling_compress::{Broadcast, Chain};
        use starling_proto::{DownlinkModel, ModelUpdate};

        let data = Dataset::new(vec![0], vec![0], 1, 1).unwrap();
        let mut session = Session::new("c", "test", DataSource::Own(Arc::new(data)));
        session.on_message(welcome("run-1")).unwrap();
        let spec = UplinkCompression::parse("8bit", true).unwrap().unwrap();
        // Steps must be smaller than the dense model to be kept, so the
        // model has 1000 values.
        let layout = vec![TensorSpec {
            name: "w".to_owned(),
            shape: vec![1000],
        }];
        let initial: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let target = |shift: f32| -> Vec<f32> { initial.iter().map(|v| v * 0.5 + shift).collect() };
        let mut server = Broadcast::new(Chain::from_spec(&spec, 1000).unwrap(), initial.clone());
        let with_model = |round: u32, model: ParamSet, downlink: DownlinkModel| {
            let ServerMessage::Round(mut task) = task(round, LocalObjective::default()) else {
                unreachable!("task() builds a round task");
            };
            task.model = model;
            task.downlink = Some(downlink);
            ServerMessage::Round(task)
        };
        // Round 1: the dense reference at version 0.
        let dense = ParamSet::new(layout.clone(), initial.clone()).unwrap();
        let first = DownlinkModel {
            version: 0,
            compression: spec,
            update: None,
        };
        let Step::Train(job) = session.on_message(with_model(1, dense, first)).unwrap() else {
            panic!("expected a training step");
        };
        assert_eq!(job.task.model.values(), &initial[..]);
        // Round 2: one step toward a new global model.
        server.advance(&target(0.1), 2, 77).unwrap();
        let steps = server.steps_since(Some(0)).unwrap();
        let empty = ParamSet::new(Vec::new(), Vec::new()).unwrap();
        let update = ModelUpdate {
            specs: layout.clone(),
            steps,
        };
        let second = DownlinkModel {
            version: 2,
            compression: spec,
            update: Some(update),
        };
        let Step::Train(job) = session
            .on_message(with_model(2, empty.clone(), second))
            .unwrap()
        else {
            panic!("expected a training step");
        };
        assert_eq!(job.task.model.values(), server.reference());
        assert_eq!(session.reference_model().map(|(v, _)| v), Some(2));
        // Steps from a version this client does not hold: it sits out.
        server.advance(&target(0.2), 3, 78).unwrap();
        server.advance(&target(0.3), 4, 79).unwrap();
        let skipped = server.steps_since(Some(3)).unwrap();
        let update = ModelUpdate {
            specs: layout,
            steps: skipped,
        };
        let third = DownlinkModel {
            version: 4,
            compression: spec,
            update: Some(update),
        };
        let step = session.on_message(with_model(4, empty, third)).unwrap();
        assert!(matches!(step, Step::Continue), "{step:?}");
    }
}
