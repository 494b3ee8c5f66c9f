//! The round coordinator: one task that owns the run's state (global model,
//! registry, open round) and drives rounds from sampling to aggregation.
//!
//! Every connection's messages arrive on one channel, so state changes
//! happen in one place and in one order; nothing is locked. The coordinator
//! never waits on a single client: frames are queued with `try_send`, and a
//! round closes when every sampled client is done or its deadline passes.

mod privacy;
mod registry;
mod round;
mod secure;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use starling_aggregate::{ClientContribution, Strategy, StrategyKind, Weighting};

use self::privacy::Privacy;
use self::secure::SecureRound;
use starling_compress::{Broadcast, Chain, SparsityWarmup};
use starling_data::Dataset;
use starling_proto::{
    Capabilities, ClientMessage, ClientUpdate, DataAssignment, DownlinkModel, ErrorCode,
    FinishReason, LocalObjective, ModelUpdate, ParamSet, RoundTask, SecureReply, SecureRequest,
    ServerMessage, UpdatePayload, UplinkCompression, encode_server,
};
use starling_runlog::{ClassAccuracy, ClientAccuracy, ClientInfo, LiveEvent, RunHeader, Sequenced};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

pub use registry::{MAX_CLIENT_ID_LEN, validate_client_id};
use registry::{Registered, Registry};
use round::{OpenRound, Rejection, RoundCodec};

use crate::config::RunConfig;
use crate::feed::Feed;
use crate::link::{ConnectionId, Connector, Event};
use crate::outputs::{RoundMetrics, RunOutputs, RunSummary};
use crate::sampling::{client_seed, round_seed, sample_clients, sample_size};
use crate::setup::{RunData, StartError};

/// Events queued from connections before their tasks wait.
const EVENT_QUEUE: usize = 1024;

/// Characters of a client's decline reason that reach the log.
const MAX_DECLINE_REASON_CHARS: usize = 200;

/// The global model after a round, for observers and tests.
#[derive(Clone, Debug)]
pub struct ModelSnapshot {
    /// Rounds aggregated into it (0 for the initial model).
    pub round: u32,
    /// Parameters.
    pub params: Arc<ParamSet>,
}

/// A running federated job.
#[derive(Debug)]
pub struct RunHandle {
    run_id: String,
    run_dir: PathBuf,
    connector: Connector,
    feed: Feed,
    model: watch::Receiver<ModelSnapshot>,
    shutdown: StopHandle,
    task: JoinHandle<RunSummary>,
}

/// Stops a run from anywhere (a signal handler, a test). Cheap to clone.
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

impl StopHandle {
    /// Asks the run to stop. The open round is abandoned, every client
    /// receives `Finished`, and the summary records `Stopped`.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl RunHandle {
    /// Run id, also the output folder's name.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Returns the folder the run writes its outputs to.
    pub fn run_dir(&self) -> &std::path::Path {
        &self.run_dir
    }

    /// Opens links to the coordinator (for transports and the simulator).
    pub fn connector(&self) -> Connector {
        self.connector.clone()
    }

    /// Subscribes to progress events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Sequenced>> {
        self.feed.subscribe(u64::MAX).live
    }

    /// Returns the run's live feed, with every event since the start.
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }

    /// Returns a receiver of the latest global model.
    pub fn model(&self) -> watch::Receiver<ModelSnapshot> {
        self.model.clone()
    }

    /// Asks the run to stop; see [`StopHandle::stop`].
    pub fn stop(&self) {
        self.shutdown.stop();
    }

    /// Returns a handle that can still stop the run after this one is
    /// consumed by [`RunHandle::wait`].
    pub fn stop_handle(&self) -> StopHandle {
        self.shutdown.clone()
    }

    /// Waits for the run to end.
    pub async fn wait(self) -> Result<RunSummary, tokio::task::JoinError> {
        self.task.await
    }
}

/// Loads the data, initialises the model and output folder, and starts the
/// coordinator task. Clients connect through [`RunHandle::connector`].
pub async fn start_run(config: RunConfig) -> Result<RunHandle, StartError> {
    config.validate()?;
    let data = RunData::prepare(&config).await?;
    let run_id = new_run_id(config.seed);
    let outputs = RunOutputs::create(&config.runs_dir, &run_id, &config).map_err(|source| {
        StartError::Outputs {
            path: config.runs_dir.join(&run_id),
            source,
        }
    })?;
    if let Err(err) = outputs.write_json("partition.json", &data.partition_stats) {
        tracing::error!(run_id, error = %err, "failed to write partition statistics");
    }
    let run_dir = outputs.dir().to_path_buf();

    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let connector = Connector::new(events_tx, config.max_message_bytes, config.max_connections);
    let uplink = match config.uplink_compression()? {
        Some(spec) => Some((
            spec,
            Chain::from_spec(&spec, data.initial_model.len()).map_err(|err| {
                crate::config::ConfigError::Invalid {
                    field: "compression",
                    value: config.compression.clone(),
                    reason: err.to_string(),
                }
            })?,
        )),
        None => None,
    };
    let warmup = config.sparsity_warmup()?;
    let broadcast = match config.downlink()? {
        Some(spec) => {
            let chain = Chain::from_spec(&spec, data.initial_model.len()).map_err(|err| {
                crate::config::ConfigError::Invalid {
                    field: "downlink_compression",
                    value: config.downlink_compression.clone(),
                    reason: err.to_string(),
                }
            })?;
            Some((
                spec,
                Broadcast::new(chain, data.initial_model.values().to_vec()),
            ))
        }
        None => None,
    };
    let kind = config.strategy_kind()?;
    let strategy = Strategy::new(
        kind,
        &config.strategy_options,
        data.initial_model.len(),
        config.train.momentum,
    )
    .map_err(|err| crate::config::ConfigError::Invalid {
        field: "strategy_options",
        value: config.strategy.clone(),
        reason: err.to_string(),
    })?;
    let privacy =
        Privacy::new(&config)?.map(|privacy| privacy.with_model_len(data.initial_model.len()));
    let mask_server = match (&config.secure_protocol()?, &config.secure.mask_server) {
        (Some(starling_proto::SecureProtocol::TwoServer), Some(url)) => Some(
            crate::mask_server::MaskServerLink::connect(
                url,
                Duration::from_secs_f64(config.secure.phase_timeout_secs),
            )
            .await?,
        ),
        _ => None,
    };
    let dense_payload_len = UpdatePayload::Dense(data.initial_model.clone()).encoded_len();
    let feed = Feed::new();
    let mut header = run_header(&config, &run_id);
    if let Some((spec, _)) = &uplink {
        header.compression = match &warmup {
            Some(warmup) => format!(
                "{spec}, warm-up over {} rounds from {}",
                warmup.rounds(),
                warmup.start()
            ),
            None => spec.to_string(),
        };
    }
    if let Some((spec, _)) = &broadcast {
        // The downlink always carries what a step dropped into the next
        // one, whatever `error_feedback` is set to, so the header names the codec alone.
        let codec = UplinkCompression {
            error_feedback: false,
            ..*spec
        };
        header.downlink_compression = codec.to_string();
    }
    if let Some(privacy) = &privacy {
        privacy.describe(&mut header);
        tracing::info!(
            run_id,
            noise_multiplier = privacy.noise_multiplier(),
            clip_norm = privacy.clipping().norm,
            "differential privacy on"
        );
    }
    if let Err(err) = outputs.write_json("header.json", &header) {
        tracing::error!(run_id, error = %err, "failed to write the run header");
    }
    feed.publish(LiveEvent::RunStarted(header));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let initial = ModelSnapshot {
        round: 0,
        params: Arc::new(data.initial_model.clone()),
    };
    let (model_tx, model_rx) = watch::channel(initial);

    tracing::info!(
        run_id,
        dir = %run_dir.display(),
        model = config.train.model.as_str(),
        parameters = data.initial_model.len(),
        train_examples = data.train_examples,
        test_examples = data.test_set.len(),
        rounds = config.rounds,
        "run started"
    );
    let coordinator = Coordinator {
        strategy,
        privacy,
        mask_server,
        global: data.initial_model,
        test_set: Arc::new(data.test_set),
        train_set: Arc::new(data.train_set),
        partitions: Arc::new(data.partitions),
        run_id: run_id.clone(),
        outputs,
        events: events_rx,
        shutdown: shutdown_rx,
        feed: feed.clone(),
        model_tx,
        registry: Registry::default(),
        open: None,
        uplink,
        warmup,
        broadcast,
        dense_payload_len,
        started: Instant::now(),
        bytes_up: 0,
        bytes_down: 0,
        last_accuracy: None,
        rounds_done: 0,
        config,
    };
    let task = tokio::spawn(coordinator.run());
    Ok(RunHandle {
        run_id,
        run_dir,
        connector,
        feed,
        model: model_rx,
        shutdown: StopHandle(Arc::new(shutdown_tx)),
        task,
    })
}

/// `YYYYMMDD-HHMMSS-s<seed>-<4 hex>`, unique enough for one machine.
fn new_run_id(seed: u64) -> String {
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect::<String>()
        .replace('T', "-");
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{compact}-s{seed}-{:04x}", nanos >> 16 & 0xffff)
}

enum Next {
    Event(Event),
    Deadline,
    Shutdown,
}

struct Coordinator {
    config: RunConfig,
    run_id: String,
    outputs: RunOutputs,
    test_set: Arc<Dataset>,
    train_set: Arc<Dataset>,
    partitions: Arc<Vec<Vec<usize>>>,
    global: ParamSet,
    strategy: Strategy,
    /// DP-FedAvg state; `None` without differential privacy.
    privacy: Option<Privacy>,
    /// The two-server protocol's link to the mask server.
    mask_server: Option<crate::mask_server::MaskServerLink>,
    events: mpsc::Receiver<Event>,
    shutdown: watch::Receiver<bool>,
    feed: Feed,
    model_tx: watch::Sender<ModelSnapshot>,
    registry: Registry,
    open: Option<OpenRound>,
    /// The configured update compression and its decoder.
    uplink: Option<(UplinkCompression, Chain)>,
    /// The sparsity warm-up of update compression, if any.
    warmup: Option<SparsityWarmup>,
    /// With downlink compression: its spec and the reference model clients
    /// hold.
    broadcast: Option<(UplinkCompression, Broadcast)>,
    /// Bytes of an update's payload as plain `f32` values.
    dense_payload_len: usize,
    started: Instant,
    bytes_up: u64,
    bytes_down: u64,
    last_accuracy: Option<f64>,
    rounds_done: u32,
}

impl Coordinator {
    async fn run(mut self) -> RunSummary {
        let reason = self.run_rounds().await;
        self.finish(reason)
    }

    async fn run_rounds(&mut self) -> FinishReason {
        for round in 1..=self.config.rounds {
            if let Err(reason) = self.wait_for_clients().await {
                return reason;
            }
            if round == 1
                && let Err(reason) = self.wait_in_lobby().await
            {
                return reason;
            }
            if let Some(privacy) = &self.privacy
                && let Err(reason) = privacy.check_budget()
            {
                tracing::info!(round, reason = %reason, "privacy budget reached");
                return reason;
            }
            if let Err(reason) = self.run_round(round).await {
                return reason;
            }
            let target = self.config.target_accuracy;
            if let (Some(target), Some(accuracy)) = (target, self.last_accuracy)
                && accuracy >= target
            {
                return FinishReason::TargetAccuracy;
            }
        }
        FinishReason::RoundsCompleted
    }

    /// Waits for the next event, the deadline, or a stop request.
    async fn next(&mut self, deadline: Instant) -> Next {
        if *self.shutdown.borrow() {
            return Next::Shutdown;
        }
        tokio::select! {
            biased;
            changed = self.shutdown.changed() => match changed {
                Ok(()) if !*self.shutdown.borrow() => Next::Deadline,
                _ => Next::Shutdown,
            },
            event = self.events.recv() => match event {
                Some(event) => Next::Event(event),
                None => Next::Shutdown,
            },
            () = sleep_until(deadline) => Next::Deadline,
        }
    }

    async fn wait_for_clients(&mut self) -> Result<(), FinishReason> {
        let needed = self.config.min_available() as usize;
        let wait = self.config.wait_for_clients();
        let deadline = Instant::now() + wait;
        let mut logged = false;
        loop {
            let connected = self.registry.connected_count();
            if connected >= needed {
                return Ok(());
            }
            if !logged {
                tracing::info!(connected, needed, "waiting for clients");
                logged = true;
            }
            match self.next(deadline).await {
                Next::Event(event) => self.handle(event),
                Next::Shutdown => return Err(FinishReason::Stopped),
                Next::Deadline => {
                    return Err(FinishReason::Failed(format!(
                        "not enough clients: {connected} connected, {needed} required within {}s",
                        wait.as_secs_f64()
                    )));
                }
            }
        }
    }

    /// Before the first round, waits up to the lobby time for the expected
    /// number of clients, then goes on with those connected.
    async fn wait_in_lobby(&mut self) -> Result<(), FinishReason> {
        let lobby = self.config.lobby();
        if lobby.is_zero() {
            return Ok(());
        }
        let expected = self.config.expected_clients as usize;
        let deadline = Instant::now() + lobby;
        let mut logged = false;
        loop {
            let connected = self.registry.connected_count();
            if connected >= expected {
                return Ok(());
            }
            if !logged {
                tracing::info!(
                    connected,
                    expected,
                    lobby_secs = lobby.as_secs_f64(),
                    "waiting in the lobby for the expected clients"
                );
                logged = true;
            }
            match self.next(deadline).await {
                Next::Event(event) => self.handle(event),
                Next::Shutdown => return Err(FinishReason::Stopped),
                Next::Deadline => {
                    tracing::info!(
                        connected = self.registry.connected_count(),
                        expected,
                        "lobby time is over; starting with the clients connected"
                    );
                    return Ok(());
                }
            }
        }
    }

    async fn run_round(&mut self, round: u32) -> Result<(), FinishReason> {
        let round_start = Instant::now();
        let candidates = self.registry.connected_ids();
        let sampled = match &mut self.privacy {
            // Poisson sampling over every registered client, connected or
            // not: a sampled client that is gone counts as dropped.
            Some(privacy) => {
                let known: Vec<String> =
                    self.registry.clients().map(|(id, _)| id.clone()).collect();
                privacy.sample(&known)
            }
            None => {
                let count = sample_size(
                    candidates.len(),
                    self.config.fraction,
                    self.config.clients_per_round,
                    self.config.cohort_floor(),
                );
                sample_clients(&candidates, count, self.config.seed, round)
            }
        };
        tracing::info!(
            round,
            sampled = sampled.len(),
            available = candidates.len(),
            "round started"
        );
        self.feed.publish(LiveEvent::RoundStarted {
            round,
            sampled: sampled.clone(),
            available: candidates.len(),
        });
        let codec = self.round_codec(round);
        let codec_spec = codec.as_ref().map(|codec| codec.spec);
        let mut open = OpenRound::new(round, sampled.iter().cloned().collect(), codec)
            .expecting_control(self.strategy.kind().needs_control());
        if let Ok(Some(protocol)) = self.config.secure_protocol() {
            let mut params =
                self.config
                    .secure_params(protocol, open.sampled.len() as u32, self.global.len());
            let mut noise = None;
            if let Some(privacy) = &self.privacy {
                match privacy.skellam(params.min_survivors.max(params.threshold).max(1) as usize) {
                    Ok(skellam) => {
                        params.noise = Some(starling_proto::SkellamSetup {
                            clip_norm: skellam.clip_norm,
                            scale: skellam.scale,
                            l2_bound: skellam.l2_bound,
                            lambda: skellam.lambda,
                        });
                        noise = Some((skellam, privacy.expected_clients()));
                    }
                    Err(err) => {
                        self.refuse_round(
                            open,
                            round_start,
                            format!("distributed noise failed: {err}"),
                        );
                        return Ok(());
                    }
                }
            }
            let mask_key = self
                .mask_server
                .as_ref()
                .map(|link| link.public_key().to_vec());
            match SecureRound::new(
                params,
                &open.sampled,
                round,
                round_seed(self.config.seed, round),
                mask_key,
                noise,
            ) {
                Ok(secure) => open.secure = Some(secure),
                Err(err) => {
                    tracing::error!(round, error = %err, "secure round rejected: invalid parameters for this cohort; nothing is aggregated");
                    self.refuse_round(open, round_start, format!("secure round refused: {err}"));
                    return Ok(());
                }
            }
        }
        self.open = Some(open);
        if let Some((_, broadcast)) = self.broadcast.as_mut() {
            // Its own seed, so the model's rounding never repeats a
            // client's.
            let seed = round_seed(self.config.seed, round) ^ 0x646f_776e_6c69_6e6b;
            if let Err(err) = broadcast.advance(self.global.values(), round, seed) {
                tracing::error!(round, error = %err, "failed to compress the broadcast model; clients keep the previous version");
            }
        }
        let objective = self.local_objective();
        for client_id in &sampled {
            self.send_task(round, client_id, &objective, codec_spec);
        }

        let deadline = round_start + self.config.round_timeout();
        while !self.open.as_ref().is_none_or(OpenRound::phase_done) {
            match self.next(deadline).await {
                Next::Event(event) => self.handle(event),
                Next::Deadline => break,
                Next::Shutdown => {
                    self.open = None;
                    return Err(FinishReason::Stopped);
                }
            }
        }
        if self.open.as_ref().is_some_and(|open| open.secure.is_some()) {
            self.run_secure_phases(round).await?;
        }
        let Some(open) = self.open.take() else {
            return Err(FinishReason::Failed("round state lost".to_owned()));
        };
        self.close_round(open, round_start).await;
        Ok(())
    }

    /// Runs the phases of secure aggregation after the key advertisements:
    /// each phase ends when every expected client replied or its timeout
    /// passed. A phase that falls below the threshold aborts the protocol;
    /// `close_round` then records the abort.
    async fn run_secure_phases(&mut self, round: u32) -> Result<(), FinishReason> {
        let phase_timeout = Duration::from_secs_f64(self.config.secure.phase_timeout_secs);
        let mask_request = self
            .open
            .as_ref()
            .and_then(|open| open.secure.as_ref())
            .and_then(SecureRound::mask_request);
        if let Some(request) = mask_request {
            self.collect_mask_sum(round, request).await;
            return Ok(());
        }
        for _ in 0..3 {
            let Some(secure) = self.open.as_mut().and_then(|open| open.secure.as_mut()) else {
                return Ok(());
            };
            let phase = secure.phase();
            let requests = match secure.advance() {
                Ok(requests) => requests,
                Err(err) => {
                    tracing::warn!(round, phase, error = %err, "secure round aborted");
                    secure.fail(err.to_string());
                    return Ok(());
                }
            };
            tracing::debug!(
                round,
                phase,
                requests = requests.len(),
                "secure phase closed"
            );
            for (client_id, request) in requests {
                self.send_secure(&client_id, request);
            }
            let deadline = Instant::now() + phase_timeout;
            while !self.open.as_ref().is_none_or(OpenRound::phase_done) {
                match self.next(deadline).await {
                    Next::Event(event) => self.handle(event),
                    Next::Deadline => break,
                    Next::Shutdown => {
                        self.open = None;
                        return Err(FinishReason::Stopped);
                    }
                }
            }
        }
        Ok(())
    }

    /// Two-server rounds: asks the mask server for the sum of the masks of
    /// the clients whose input arrived. Without that sum the round aborts.
    async fn collect_mask_sum(&mut self, round: u32, request: secure::MaskRequest) {
        let secure::MaskRequest { ring, width, seeds } = request;
        let mut link_bytes = 0;
        let result = if seeds.len() < 2 {
            Err(format!(
                "{} inputs arrived, the mask server sums at least 2",
                seeds.len()
            ))
        } else if let Some(link) = self.mask_server.as_mut() {
            let before = link.traffic();
            let mut result = link
                .sum(&self.run_id, round, ring, width, seeds.clone())
                .await;
            if let Err(crate::mask_server::MaskLinkError::Connection { reason, .. }) = &result {
                tracing::warn!(
                    round,
                    reason,
                    "mask server connection failed; reconnecting once"
                );
                result = match link.reconnect().await {
                    Ok(()) => link.sum(&self.run_id, round, ring, width, seeds).await,
                    Err(err) => Err(err),
                };
            }
            link_bytes = link.traffic().saturating_sub(before);
            result.map_err(|err| err.to_string())
        } else {
            Err("no mask server link".to_owned())
        };
        let Some(secure) = self.open.as_mut().and_then(|open| open.secure.as_mut()) else {
            return;
        };
        secure.protocol_bytes += link_bytes;
        match result {
            Ok(sum) => secure.set_mask_sum(sum),
            Err(reason) => {
                tracing::error!(round, reason, "mask server sum failed; the round aborts");
                secure.fail(format!("mask server sum failed: {reason}"));
            }
        }
    }

    fn send_secure(&mut self, client_id: &str, request: SecureRequest) {
        let Some(connection) = self.registry.client(client_id).and_then(|c| c.connection) else {
            return;
        };
        if let Some(size) = self
            .registry
            .send(connection, &ServerMessage::Secure(request))
        {
            self.count_down(size);
            if let Some(secure) = self.open.as_mut().and_then(|open| open.secure.as_mut()) {
                secure.protocol_bytes += size as u64;
            }
        }
    }

    /// Records a round that could not start: no client trains, the model
    /// stays as it is.
    fn refuse_round(&mut self, open: OpenRound, round_start: Instant, error: String) {
        let privacy = self
            .privacy
            .as_mut()
            .and_then(|privacy| privacy.finish_secure_round(None, 0).ok());
        let metrics = RoundMetrics {
            privacy,
            round: open.round,
            sampled: open.sampled.len(),
            error: Some(error),
            duration_s: round_start.elapsed().as_secs_f64(),
            wall_time_s: self.started.elapsed().as_secs_f64(),
            ..RoundMetrics::default()
        };
        self.rounds_done = open.round;
        if let Err(err) = self.outputs.append_round(&metrics) {
            tracing::error!(round = open.round, error = %err, "failed to write round metrics");
        }
        self.feed.publish(LiveEvent::RoundCompleted(metrics));
    }

    /// Returns what this round's clients add to their local loss.
    fn local_objective(&self) -> LocalObjective {
        let server_control = self.strategy.server_control().and_then(|control| {
            ParamSet::new(self.global.specs().to_vec(), control.to_vec())
                .inspect_err(
                    |err| tracing::error!(error = %err, "control variate does not fit the model"),
                )
                .ok()
        });
        LocalObjective {
            proximal_mu: self.config.effective_proximal_mu(),
            server_control,
        }
    }

    /// Builds the compression clients apply in `round` and its decoder:
    /// the configured spec, with the warm-up's fraction for that round.
    fn round_codec(&self, round: u32) -> Option<RoundCodec> {
        let (mut spec, mut chain) = self.uplink?;
        let warm = self.warmup.map(|warmup| warmup.apply(spec, round));
        if let Some(warm) = warm.filter(|warm| *warm != spec) {
            // The config check keeps warm-up fractions in (0, 1], so this
            // fails only on a bug.
            match Chain::from_spec(&warm, self.global.len()) {
                Ok(warm_chain) => {
                    tracing::debug!(round, compression = %warm, "sparsity warm-up");
                    (spec, chain) = (warm, warm_chain);
                }
                Err(err) => {
                    tracing::error!(round, error = %err, "failed to build the warm-up chain; this round uses the configured compression");
                }
            }
        }
        Some(RoundCodec {
            spec,
            chain,
            round_seed: round_seed(self.config.seed, round),
        })
    }

    /// Sends `client_id` its task for `round`, whose clients compress as
    /// `compression`.
    fn send_task(
        &mut self,
        round: u32,
        client_id: &str,
        objective: &LocalObjective,
        compression: Option<UplinkCompression>,
    ) {
        let (model, downlink, saved) = self.task_model(client_id);
        let task = RoundTask {
            round,
            model,
            downlink,
            config: self.config.train.clone(),
            deadline_ms: self.config.round_timeout().as_millis() as u64,
            seed: client_seed(self.config.seed, round, client_id),
            round_seed: round_seed(self.config.seed, round),
            compression,
            objective: objective.clone(),
            clipping: self.privacy.as_ref().map(Privacy::clipping),
            secure: self
                .open
                .as_ref()
                .and_then(|open| open.secure.as_ref())
                .and_then(|secure| secure.setup(client_id)),
        };
        let frame = match encode_server(&ServerMessage::Round(Box::new(task))) {
            Ok(frame) => Bytes::from(frame),
            Err(err) => {
                tracing::error!(round, client = client_id, error = %err, "failed to encode round task");
                return;
            }
        };
        if let Some(open) = self.open.as_mut() {
            open.tasks.insert(client_id.to_owned(), frame.clone());
            open.bytes_down_saved += saved as u64;
        }
        self.deliver_task(client_id, frame);
    }

    /// The model of `client_id`'s task: the global model without downlink
    /// compression; otherwise the compressed steps from the version the
    /// client holds, or the whole reference when it holds none the steps
    /// reach. Also returns an estimate of the bytes the steps saved
    /// against the dense model.
    fn task_model(&mut self, client_id: &str) -> (ParamSet, Option<DownlinkModel>, usize) {
        let Some((spec, broadcast)) = &self.broadcast else {
            return (self.global.clone(), None, 0);
        };
        let version = broadcast.round();
        let have = self
            .registry
            .client(client_id)
            .and_then(|entry| entry.model_version);
        let specs = self.global.specs().to_vec();
        let reference = || {
            ParamSet::new(specs.clone(), broadcast.reference().to_vec())
                .unwrap_or_else(|_| self.global.clone())
        };
        let (model, update, saved) = match (
            broadcast.steps_since(have),
            ParamSet::new(Vec::new(), Vec::new()),
        ) {
            (Some(steps), Ok(empty)) => {
                let step_bytes: usize = steps.iter().map(|step| step.bytes.len()).sum();
                let saved = self.dense_payload_len.saturating_sub(step_bytes);
                (empty, Some(ModelUpdate { specs, steps }), saved)
            }
            _ => (reference(), None, 0),
        };
        let downlink = DownlinkModel {
            version,
            compression: *spec,
            update,
        };
        self.registry.set_model_version(client_id, version);
        (model, Some(downlink), saved)
    }

    fn deliver_task(&mut self, client_id: &str, frame: Bytes) {
        let Some(connection) = self.registry.client(client_id).and_then(|c| c.connection) else {
            return;
        };
        if let Some(size) = self.registry.send_frame(connection, frame) {
            self.count_down(size);
        }
    }

    async fn close_round(&mut self, mut open: OpenRound, round_start: Instant) {
        // Client-id order, not arrival order, so that floating-point sums
        // (the model, the mean loss) repeat exactly between runs.
        open.accepted.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let round = open.round;
        let dropped: Vec<&String> = open.sampled.difference(&open.finished).collect();
        if open.secure.is_none() && !dropped.is_empty() {
            tracing::warn!(round, dropped = ?dropped, "round closed without updates from some sampled clients");
        }
        // Stragglers: still connected, but no update by the deadline.
        let late = dropped
            .iter()
            .filter(|id| {
                self.registry
                    .client(id)
                    .is_some_and(|c| c.connection.is_some())
            })
            .count();
        let mut metrics = RoundMetrics {
            round,
            sampled: open.sampled.len(),
            completed: open.accepted.len(),
            dropped: dropped.len(),
            late,
            declined: open.declined,
            rejected: open.rejected,
            examples: open
                .accepted
                .iter()
                .fold(0u64, |total, u| total.saturating_add(u.num_examples)),
            train_loss: weighted_loss(&open),
            bytes_up: open.bytes_up,
            bytes_down: open.bytes_down,
            bytes_up_uncompressed: open.bytes_up_uncompressed,
            bytes_down_uncompressed: open.bytes_down + open.bytes_down_saved,
            ..RoundMetrics::default()
        };
        if open.secure.is_some() {
            self.aggregate_secure(&mut open, &mut metrics);
        } else {
            self.aggregate(&open, &mut metrics);
        }
        self.rounds_done = round;
        if round.is_multiple_of(self.config.eval_every) || round == self.config.rounds {
            self.evaluate(&mut metrics).await;
        }
        metrics.duration_s = round_start.elapsed().as_secs_f64();
        metrics.wall_time_s = self.started.elapsed().as_secs_f64();
        tracing::info!(
            round,
            completed = metrics.completed,
            sampled = metrics.sampled,
            train_loss = metrics.train_loss,
            test_accuracy = metrics.test_accuracy,
            bytes_up = metrics.bytes_up,
            bytes_down = metrics.bytes_down,
            seconds = metrics.duration_s,
            "round completed"
        );
        if let Err(err) = self.outputs.append_round(&metrics) {
            tracing::error!(round, error = %err, "failed to write round metrics");
        }
        self.feed.publish(LiveEvent::RoundCompleted(metrics));
    }

    /// Unmasks the secure round's sum and applies its mean through the
    /// strategy, or records why the round was aborted.
    fn aggregate_secure(&mut self, open: &mut OpenRound, metrics: &mut RoundMetrics) {
        let round = open.round;
        let Some(secure) = open.secure.as_mut() else {
            return;
        };
        let outcome = match secure.failure() {
            Some(reason) => Err(reason.to_owned()),
            None if secure.phase() == "unmask" => secure.finish().map_err(|err| err.to_string()),
            None => Err(format!(
                "the {} phase timed out without enough replies",
                secure.phase()
            )),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(round, protocol = secure.protocol(), error = %err, "secure round aborted; nothing aggregated");
                if let Some(privacy) = self.privacy.as_mut() {
                    metrics.privacy = privacy.finish_secure_round(None, 0).ok();
                }
                metrics.secure_aggregation = Some(secure.metrics(None));
                metrics.completed = 0;
                metrics.dropped = metrics.sampled;
                metrics.late = 0;
                metrics.error = Some(format!("secure aggregation aborted: {err}"));
                return;
            }
        };
        if let Some(privacy) = self.privacy.as_mut() {
            match privacy.finish_secure_round(secure.noise(), outcome.survivors.len()) {
                Ok(record) => metrics.privacy = Some(record),
                Err(err) => {
                    tracing::error!(round, error = %err, "privacy accounting failed; global model unchanged");
                    metrics.error = Some(format!("privacy accounting failed: {err}"));
                    return;
                }
            }
        }
        metrics.secure_aggregation = Some(secure.metrics(Some(&outcome)));
        metrics.completed = outcome.survivors.len();
        metrics.dropped = metrics.sampled - outcome.survivors.len();
        metrics.late = 0;
        metrics.examples = outcome.total_weight;
        metrics.train_loss = outcome.train_loss;
        tracing::info!(
            round,
            protocol = secure.protocol(),
            survivors = outcome.participation.survivors,
            recovered = outcome.participation.recovered,
            clipped = outcome.clipped,
            "secure sum unmasked"
        );
        for client_id in &outcome.survivors {
            if let Some(connection) = self.registry.client(client_id).and_then(|c| c.connection)
                && let Some(size) = self
                    .registry
                    .send(connection, &ServerMessage::Accepted { round })
            {
                self.count_down(size);
                metrics.bytes_down += size as u64;
                metrics.bytes_down_uncompressed += size as u64;
            }
        }
        let contribution = [ClientContribution {
            client_id: "secure-sum",
            weight: 1.0,
            local_steps: 0,
            delta: &outcome.mean,
            control_delta: None,
        }];
        let population = outcome.survivors.len().max(1);
        match self
            .strategy
            .apply_round(self.global.values_mut(), &contribution, population)
        {
            Ok(_) => {
                self.model_tx.send_replace(ModelSnapshot {
                    round,
                    params: Arc::new(self.global.clone()),
                });
            }
            Err(err) => {
                tracing::error!(round, error = %err, "aggregation failed; global model unchanged");
                metrics.error = Some(err.to_string());
            }
        }
    }

    fn aggregate(&mut self, open: &OpenRound, metrics: &mut RoundMetrics) {
        let contributions: Vec<ClientContribution<'_>> = open
            .accepted
            .iter()
            .map(|u| ClientContribution {
                client_id: &u.client_id,
                weight: u.num_examples as f64,
                local_steps: u.local_steps,
                delta: &u.delta,
                control_delta: u.control_delta.as_deref(),
            })
            .collect();
        // SCAFFOLD averages control variates over the whole federation: every
        // client that joined this run, and at least the sampled ones.
        let population = self
            .registry
            .clients()
            .count()
            .max(self.config.expected_clients as usize)
            .max(contributions.len());

        let noised;
        let contributions = match &mut self.privacy {
            Some(privacy) => {
                let unclipped = open
                    .accepted
                    .iter()
                    .filter(|u| u.clipped == Some(false))
                    .count();
                let clipped = open.accepted.len() - unclipped;
                let deltas = open.accepted.iter().map(|u| u.delta.as_slice());
                let record = privacy
                    .noised_mean(self.global.len(), deltas)
                    .and_then(|mean| Ok((mean, privacy.finish_round(unclipped, clipped)?)));
                match record {
                    Ok((mean, record)) => {
                        if mean.server_clipped > 0 {
                            tracing::warn!(
                                round = open.round,
                                updates = mean.server_clipped,
                                "clipped updates that arrived above the clipping norm"
                            );
                        }
                        metrics.privacy = Some(record);
                        noised = mean.mean;
                        // DP-FedAvg hands the server step one noised mean.
                        vec![ClientContribution {
                            client_id: "noised-mean",
                            weight: 1.0,
                            local_steps: 0,
                            delta: &noised,
                            control_delta: None,
                        }]
                    }
                    Err(err) => {
                        tracing::error!(round = open.round, error = %err, "private aggregation failed; global model unchanged");
                        metrics.error = Some(format!("private aggregation failed: {err}"));
                        return;
                    }
                }
            }
            None => contributions,
        };

        // On error the strategy leaves the model and its own state (momentum,
        // moments, control variate) exactly as they were, including when the
        // new model would overflow f32.
        match self
            .strategy
            .apply_round(self.global.values_mut(), &contributions, population)
        {
            Ok(report) => {
                tracing::debug!(round = open.round, norm = report.update_norm, "aggregated");
                self.model_tx.send_replace(ModelSnapshot {
                    round: open.round,
                    params: Arc::new(self.global.clone()),
                });
            }
            Err(err) => {
                tracing::error!(round = open.round, error = %err, "aggregation failed; global model unchanged");
                metrics.error = Some(err.to_string());
            }
        }
    }

    async fn evaluate(&mut self, metrics: &mut RoundMetrics) {
        let params = self.global.clone();
        let model = self.config.train.model;
        let test_set = Arc::clone(&self.test_set);
        let clients = if self.config.evaluate_clients {
            self.partition_holders()
        } else {
            Vec::new()
        };
        let train_set = Arc::clone(&self.train_set);
        let partitions = Arc::clone(&self.partitions);
        let result = tokio::task::spawn_blocking(move || {
            let test = starling_train::evaluate(model, &params, &test_set)?;
            let per_client = evaluate_clients(model, &params, &train_set, &partitions, clients)?;
            Ok::<_, starling_train::TrainError>((test, per_client))
        })
        .await;
        match result {
            Ok(Ok((evaluation, clients))) => {
                metrics.test_accuracy = Some(evaluation.accuracy);
                metrics.test_loss = Some(evaluation.loss);
                metrics.per_class = (0..evaluation.per_class_total.len())
                    .map(|label| ClassAccuracy {
                        label: label as u8,
                        correct: evaluation.per_class_correct[label],
                        total: evaluation.per_class_total[label],
                    })
                    .collect();
                metrics.clients = clients;
                self.last_accuracy = Some(evaluation.accuracy);
            }
            Ok(Err(err)) => {
                tracing::error!(round = metrics.round, error = %err, "evaluation failed")
            }
            Err(err) => {
                tracing::error!(round = metrics.round, error = %err, "evaluation task failed")
            }
        }
    }

    /// Clients that train on a built-in partition, with what they reported.
    fn partition_holders(&self) -> Vec<(String, Capabilities, usize)> {
        self.registry
            .clients()
            .filter_map(|(id, entry)| {
                let partition = entry.partition? as usize;
                Some((id.clone(), entry.capabilities.clone(), partition))
            })
            .collect()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Opened {
                connection,
                outbound,
            } => {
                tracing::debug!(connection, "connection opened");
                self.registry.open(connection, outbound);
            }
            Event::Closed { connection } => {
                if let Some(client_id) = self.registry.close(connection) {
                    tracing::info!(client = client_id, connection, "client disconnected");
                    self.feed.publish(LiveEvent::ClientLeft { client_id });
                }
            }
            Event::Message {
                connection,
                frame_bytes,
                message,
            } => {
                self.count_up(frame_bytes, self.uncompressed_size(frame_bytes, &message));
                if let Some(open) = self.open.as_mut()
                    && let Some(secure) = open.secure.as_mut()
                {
                    secure.count_up(open.round, &message, frame_bytes as u64);
                }
                self.handle_message(connection, message);
            }
        }
    }

    fn handle_message(&mut self, connection: ConnectionId, message: ClientMessage) {
        if !self.registry.is_open(connection) {
            return;
        }
        let result = match message {
            ClientMessage::Register {
                client_id,
                capabilities,
                num_examples,
            } => self.register(connection, client_id, capabilities, num_examples),
            ClientMessage::Update(update) => self.receive_update(connection, update),
            ClientMessage::Secure(reply) => self.receive_secure(connection, reply),
            ClientMessage::Decline { round, reason } => {
                self.receive_decline(connection, round, &reason)
            }
            ClientMessage::Leave => {
                self.registry.close_connection(connection);
                if let Some(client_id) = self.registry.close(connection) {
                    tracing::info!(client = client_id, "client left");
                    self.feed.publish(LiveEvent::ClientLeft { client_id });
                }
                Ok(())
            }
        };
        if let Err(rejection) = result {
            self.reject(connection, rejection);
        }
    }

    fn reject(&mut self, connection: ConnectionId, rejection: Rejection) {
        let client = self
            .registry
            .client_of(connection)
            .unwrap_or("-")
            .to_owned();
        tracing::warn!(
            connection,
            client,
            code = ?rejection.code,
            reason = rejection.message,
            "client message rejected"
        );
        if let Some(open) = self.open.as_mut() {
            open.rejected += 1;
        }
        let message = ServerMessage::Error {
            code: rejection.code,
            message: rejection.message,
        };
        if let Some(size) = self.registry.send(connection, &message) {
            self.count_down(size);
        }
    }

    fn register(
        &mut self,
        connection: ConnectionId,
        client_id: String,
        capabilities: Capabilities,
        num_examples: u64,
    ) -> Result<(), Rejection> {
        if let Some(existing) = self.registry.client_of(connection) {
            return Err(Rejection::new(
                ErrorCode::InvalidRegistration,
                format!("connection is already registered as {existing}"),
            ));
        }
        validate_client_id(&client_id)
            .map_err(|reason| Rejection::new(ErrorCode::InvalidRegistration, reason))?;
        let wants_data = capabilities.wants_data;
        let outcome =
            self.registry
                .register(connection, &client_id, capabilities.clone(), num_examples);
        if let Registered::Replaced(old) = outcome {
            tracing::warn!(
                client = client_id,
                old_connection = old,
                connection,
                "client id registered again; replacing the older connection"
            );
            let notice = ServerMessage::Error {
                code: ErrorCode::Replaced,
                message: format!("client id {client_id} registered from another connection"),
            };
            self.registry.send(old, &notice);
            self.registry.close_connection(old);
        }
        let assignment = wants_data
            .then(|| self.assignment_for(&client_id))
            .flatten();
        tracing::info!(
            client = client_id,
            connection,
            platform = capabilities.platform,
            backend = capabilities.backend,
            device = capabilities.device,
            num_examples,
            partition = assignment.as_ref().map(|a| a.index),
            "client registered"
        );
        let welcome = ServerMessage::Welcome {
            run_id: self.run_id.clone(),
            assignment: assignment.clone(),
        };
        if let Some(size) = self.registry.send(connection, &welcome) {
            self.count_down(size);
        }
        self.resend_open_task(&client_id);
        let partition = assignment.as_ref().map(|a| a.index);
        let examples = partition
            .and_then(|p| self.partitions.get(p as usize))
            .map_or(num_examples, |part| part.len() as u64);
        self.feed.publish(LiveEvent::ClientJoined(ClientInfo {
            client_id,
            platform: capabilities.platform,
            backend: capabilities.backend,
            device: capabilities.device,
            num_examples: examples,
            partition,
        }));
        Ok(())
    }

    /// Gives a client that reconnects mid-round the task it was sampled for.
    fn resend_open_task(&mut self, client_id: &str) {
        let frame = self.open.as_ref().and_then(|open| {
            if open.finished.contains(client_id) {
                return None;
            }
            open.tasks.get(client_id).cloned()
        });
        if let Some(frame) = frame {
            tracing::info!(
                client = client_id,
                "re-sent the open round's task after reconnect"
            );
            self.deliver_task(client_id, frame);
        }
    }

    fn assignment_for(&mut self, client_id: &str) -> Option<DataAssignment> {
        let partitions = self.config.partitions();
        let index = self.registry.assign_partition(client_id, partitions)?;
        let scheme = self.config.data.scheme().ok()?;
        Some(DataAssignment {
            index,
            partitions,
            scheme,
            seed: self.config.seed,
        })
    }

    fn receive_update(
        &mut self,
        connection: ConnectionId,
        update: ClientUpdate,
    ) -> Result<(), Rejection> {
        let update_round = update.round;
        let (client_id, open) = Self::addressed_round(
            &self.registry,
            &mut self.open,
            connection,
            "update",
            update_round,
        )?;
        open.accept(&client_id, update, self.global.specs())?;
        tracing::debug!(client = client_id, round = update_round, "update accepted");
        self.feed.publish(LiveEvent::UpdateAccepted {
            round: update_round,
            client_id,
        });
        let accepted = ServerMessage::Accepted {
            round: update_round,
        };
        if let Some(size) = self.registry.send(connection, &accepted) {
            self.count_down(size);
        }
        Ok(())
    }

    /// Returns the client registered on `connection` and the open round,
    /// for a message of kind `kind` (an update or a decline) for `round`.
    /// It takes the two fields, not `self`, so the caller may still read others.
    fn addressed_round<'a>(
        registry: &Registry,
        open: &'a mut Option<OpenRound>,
        connection: ConnectionId,
        kind: &str,
        round: u32,
    ) -> Result<(String, &'a mut OpenRound), Rejection> {
        let Some(client_id) = registry.client_of(connection).map(str::to_owned) else {
            return Err(Rejection::new(
                ErrorCode::NotRegistered,
                format!("{kind} rejected: unknown client; send Register first"),
            ));
        };
        let Some(open) = open.as_mut() else {
            return Err(Rejection::new(
                ErrorCode::WrongRound,
                format!("{kind} rejected: no round is open ({kind} for round {round})"),
            ));
        };
        Ok((client_id, open))
    }

    fn receive_decline(
        &mut self,
        connection: ConnectionId,
        round: u32,
        reason: &str,
    ) -> Result<(), Rejection> {
        let (client_id, open) =
            Self::addressed_round(&self.registry, &mut self.open, connection, "decline", round)?;
        open.decline(&client_id, round)?;
        // The reason comes from the client: only its start is logged.
        let reason: String = reason.chars().take(MAX_DECLINE_REASON_CHARS).collect();
        tracing::warn!(
            client = client_id,
            round,
            reason,
            "client sits the round out"
        );
        // TODO: a secure round still waits for the phase deadline to drop a client that declined.
        Ok(())
    }

    fn receive_secure(
        &mut self,
        connection: ConnectionId,
        reply: SecureReply,
    ) -> Result<(), Rejection> {
        let Some(client_id) = self.registry.client_of(connection).map(str::to_owned) else {
            return Err(Rejection::new(
                ErrorCode::NotRegistered,
                "secure message rejected: unknown client; send Register first",
            ));
        };
        let Some(secure) = self.open.as_mut().and_then(|open| open.secure.as_mut()) else {
            return Err(Rejection::new(
                ErrorCode::SecureProtocol,
                format!(
                    "secure message rejected: no secure round is open ({} message for round {})",
                    reply.phase(),
                    reply.round()
                ),
            ));
        };
        let phase = reply.phase();
        secure.receive(&client_id, reply)?;
        tracing::debug!(client = client_id, phase, "secure reply accepted");
        Ok(())
    }

    /// Returns the size `frame_bytes` would have had with its update as plain
    /// `f32` values in the model's layout.
    fn uncompressed_size(&self, frame_bytes: usize, message: &ClientMessage) -> usize {
        match message {
            ClientMessage::Update(update)
                if matches!(update.payload, UpdatePayload::Compressed(_)) =>
            {
                frame_bytes - update.payload.encoded_len().min(frame_bytes) + self.dense_payload_len
            }
            _ => frame_bytes,
        }
    }

    fn count_up(&mut self, bytes: usize, uncompressed: usize) {
        self.bytes_up += bytes as u64;
        if let Some(open) = self.open.as_mut() {
            open.bytes_up += bytes as u64;
            open.bytes_up_uncompressed += uncompressed as u64;
        }
    }

    fn count_down(&mut self, bytes: usize) {
        self.bytes_down += bytes as u64;
        if let Some(open) = self.open.as_mut() {
            open.bytes_down += bytes as u64;
        }
    }

    fn finish(mut self, reason: FinishReason) -> RunSummary {
        let summary = RunSummary {
            run_id: self.run_id.clone(),
            reason: reason.clone(),
            rounds: self.rounds_done,
            final_accuracy: self.last_accuracy,
            wall_time_s: self.started.elapsed().as_secs_f64(),
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
        };
        let message = ServerMessage::Finished {
            reason: reason.clone(),
            rounds: self.rounds_done,
            accuracy: self.last_accuracy,
        };
        for connection in self.registry.connection_ids() {
            self.registry.send(connection, &message);
            self.registry.close_connection(connection);
        }
        // Frames still queued stay valid; only new events are refused.
        self.events.close();
        if let Err(err) = self.outputs.write_json("summary.json", &summary) {
            tracing::error!(error = %err, "failed to write run summary");
        }
        match &reason {
            FinishReason::Failed(cause) => {
                tracing::error!(
                    run_id = self.run_id,
                    rounds = self.rounds_done,
                    cause,
                    "run failed"
                )
            }
            _ => tracing::info!(
                run_id = self.run_id,
                rounds = self.rounds_done,
                reason = ?reason,
                accuracy = self.last_accuracy,
                "run finished"
            ),
        }
        self.feed.publish(LiveEvent::Finished(summary.clone()));
        summary
    }
}

/// Evaluates the global model on each client's built-in partition.
fn evaluate_clients(
    model: starling_proto::ModelKind,
    params: &ParamSet,
    train_set: &Dataset,
    partitions: &[Vec<usize>],
    clients: Vec<(String, Capabilities, usize)>,
) -> Result<Vec<ClientAccuracy>, starling_train::TrainError> {
    let mut results = Vec::with_capacity(clients.len());
    for (client_id, capabilities, partition) in clients {
        let Some(indices) = partitions.get(partition).filter(|p| !p.is_empty()) else {
            continue;
        };
        let data = train_set.subset(indices);
        let evaluation = starling_train::evaluate(model, params, &data)?;
        results.push(ClientAccuracy {
            client_id,
            platform: capabilities.platform,
            backend: capabilities.backend,
            examples: evaluation.total,
            accuracy: evaluation.accuracy,
            loss: evaluation.loss,
        });
    }
    Ok(results)
}

/// Builds the header the dashboard shows at the top of a run.
fn run_header(config: &RunConfig, run_id: &str) -> RunHeader {
    let dataset = match &config.data.dir {
        Some(dir) => format!("MNIST-format IDX files in {}", dir.display()),
        None => "embedded MNIST digits (8,000 train / 2,000 test)".to_owned(),
    };
    let partition = match config.data.scheme() {
        Ok(scheme) => format!(
            "{} into {} partitions",
            describe_scheme(&scheme),
            config.partitions()
        ),
        Err(_) => config.data.partition.clone(),
    };
    let started_at_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    RunHeader {
        run_id: run_id.to_owned(),
        strategy: describe_strategy(config),
        model: config.train.model.as_str().to_owned(),
        dataset,
        partition,
        seed: config.seed,
        started_at_ms,
        rounds: config.rounds,
        compression: "off".to_owned(),
        downlink_compression: "off".to_owned(),
        secure_aggregation: describe_secure(config),
        privacy: None,
    }
}

/// Describes secure aggregation for the run header, e.g.
/// `secagg+ (threshold 0.67, 48-bit ring, 16-bit values, range ±0.5)`.
fn describe_secure(config: &RunConfig) -> String {
    match config.secure_protocol() {
        Ok(Some(protocol)) => {
            let secure = &config.secure;
            let sharing = match (protocol, secure.neighbours) {
                (starling_proto::SecureProtocol::TwoServer, _) => String::new(),
                (starling_proto::SecureProtocol::SecAggPlus, Some(k)) => {
                    format!("threshold {:.2}, {k} neighbours, ", secure.threshold)
                }
                _ => format!("threshold {:.2}, ", secure.threshold),
            };
            format!(
                "{protocol} ({sharing}{}-bit ring, {}-bit values, range ±{})",
                secure.ring_bits, secure.value_bits, secure.clip_range
            )
        }
        _ => "off".to_owned(),
    }
}

/// Describes the strategy with the settings that shape it, for the run
/// header, e.g.
/// `fedprox (μ = 0.01)` or `fedadam (η = 0.01, β1 = 0.9, β2 = 0.99, τ = 0.001)`.
fn describe_strategy(config: &RunConfig) -> String {
    let Ok(kind) = config.strategy_kind() else {
        return config.strategy.clone();
    };
    let options = &config.strategy_options;
    let lr = options.learning_rate(kind);
    let mut settings = match kind {
        StrategyKind::FedProx => vec![format!("μ = {}", config.effective_proximal_mu())],
        StrategyKind::FedAvgM => vec![
            format!("η = {lr}"),
            format!("β = {}", options.server_momentum),
        ],
        StrategyKind::FedAdam | StrategyKind::FedYogi => vec![
            format!("η = {lr}"),
            format!("β1 = {}", options.beta1),
            format!("β2 = {}", options.beta2),
            format!("τ = {}", options.tau),
        ],
        StrategyKind::FedAdagrad => vec![
            format!("η = {lr}"),
            format!("β1 = {}", options.beta1),
            format!("τ = {}", options.tau),
        ],
        StrategyKind::FedAvg | StrategyKind::Scaffold | StrategyKind::FedNova if lr != 1.0 => {
            vec![format!("η = {lr}")]
        }
        _ => Vec::new(),
    };
    if options.weighting == Weighting::Uniform {
        settings.push("uniform weights".to_owned());
    }
    if settings.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({})", settings.join(", "))
    }
}

fn describe_scheme(scheme: &starling_proto::PartitionScheme) -> String {
    use starling_proto::PartitionScheme;
    match scheme {
        PartitionScheme::Iid => "IID".to_owned(),
        PartitionScheme::Dirichlet { alpha } => format!("Dirichlet(α = {alpha})"),
        PartitionScheme::Shards { per_client } => format!("label shards ({per_client} per client)"),
        PartitionScheme::Quantity { sigma } => format!("log-normal sizes (σ = {sigma})"),
    }
}

fn weighted_loss(open: &OpenRound) -> Option<f64> {
    let total: f64 = open.accepted.iter().map(|u| u.num_examples as f64).sum();
    if total == 0.0 {
        return None;
    }
    let sum: f64 = open
        .accepted
        .iter()
        .map(|u| u.train_loss * u.num_examples as f64)
        .sum();
    Some(sum / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_sortable_and_name_the_seed() {
        let id = new_run_id(7);
        assert!(id.contains("-s7-"), "{id}");
        assert!(id.starts_with("20"), "{id}");
        assert!(!id.contains(':'), "{id}");
    }
}
