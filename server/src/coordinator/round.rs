//! The state of the round that is open for updates, and the checks every
//! update must pass before it counts.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use starling_compress::Chain;
use starling_proto::{
    ClientUpdate, ErrorCode, MAX_NUM_EXAMPLES, ParamSet, TensorSpec, UpdatePayload,
    UplinkCompression, compare_layouts,
};

/// Compression of this round's updates: the spec announced in the tasks,
/// the chain that decodes it, and the round's shared seed.
#[derive(Clone, Debug)]
pub struct RoundCodec {
    /// The spec announced to clients.
    pub spec: UplinkCompression,
    /// Its decoder for the model's size.
    pub chain: Chain,
    /// Seed of the round's rand-k positions.
    pub round_seed: u64,
}

/// An update that passed every check; it is aggregated when the round
/// closes.
#[derive(Debug)]
pub struct AcceptedUpdate {
    /// Sending client.
    pub client_id: String,
    /// FedAvg weight.
    pub num_examples: u64,
    /// Local steps taken.
    pub local_steps: u32,
    /// Local training loss.
    pub train_loss: f64,
    /// Flattened delta, in the global model's layout.
    pub delta: Vec<f32>,
    /// SCAFFOLD control-variate delta, flattened; `None` for other
    /// strategies.
    pub control_delta: Option<Vec<f32>>,
    /// Whether the client reported scaling its update down to the clipping
    /// norm; `None` without differential privacy.
    pub clipped: Option<bool>,
}

/// A rejected message: the code and text sent back to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Explanation with the offending values.
    pub message: String,
}

impl Rejection {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The round currently collecting updates.
#[derive(Debug)]
pub struct OpenRound {
    pub round: u32,
    /// Clients sampled for this round.
    pub sampled: BTreeSet<String>,
    /// Each sampled client's encoded task, re-sent if it reconnects.
    pub tasks: HashMap<String, Bytes>,
    /// Updates accepted so far.
    pub accepted: Vec<AcceptedUpdate>,
    /// Sampled clients that are done for this round: accepted, or rejected
    /// for the update's content (a resend would fail the same way).
    pub finished: BTreeSet<String>,
    /// Messages rejected while the round was open.
    pub rejected: usize,
    /// Sampled clients that sat the round out without an update.
    pub declined: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Bytes the downlink compression saved against dense models (an
    /// estimate: dense payload size minus the steps' bytes).
    pub bytes_down_saved: u64,
    /// Size `bytes_up` would have had with every update as plain `f32`.
    pub bytes_up_uncompressed: u64,
    /// Compression of the round's updates; `None` for plain `f32`.
    pub codec: Option<RoundCodec>,
    /// Whether updates must carry a control-variate delta (SCAFFOLD).
    pub expects_control: bool,
    /// Secure aggregation of this round; `None` when it is off.
    pub secure: Option<super::secure::SecureRound>,
}

impl OpenRound {
    pub fn new(round: u32, sampled: BTreeSet<String>, codec: Option<RoundCodec>) -> Self {
        Self {
            round,
            sampled,
            tasks: HashMap::new(),
            accepted: Vec::new(),
            finished: BTreeSet::new(),
            rejected: 0,
            declined: 0,
            bytes_up: 0,
            bytes_down: 0,
            bytes_down_saved: 0,
            bytes_up_uncompressed: 0,
            codec,
            expects_control: false,
            secure: None,
        }
    }

    /// Requires a control-variate delta with every update (SCAFFOLD).
    pub fn expecting_control(mut self, expects_control: bool) -> Self {
        self.expects_control = expects_control;
        self
    }

    /// True once every sampled client is done.
    pub fn all_finished(&self) -> bool {
        self.finished.len() >= self.sampled.len()
    }

    /// True once the phase the round waits for is over: every update in,
    /// or, with secure aggregation, every reply of the current phase.
    pub fn phase_done(&self) -> bool {
        match &self.secure {
            Some(secure) => secure.phase_complete(),
            None => self.all_finished(),
        }
    }

    /// Checks `update` from `client_id` against this round and the global
    /// model's layout, and keeps it when it passes.
    pub fn accept(
        &mut self,
        client_id: &str,
        update: ClientUpdate,
        layout: &[TensorSpec],
    ) -> Result<(), Rejection> {
        self.check_addressing(client_id, update.round, "update")?;
        if let Some(secure) = &self.secure {
            self.finished.insert(client_id.to_owned());
            return Err(Rejection::new(
                ErrorCode::SecureProtocol,
                format!(
                    "update rejected: round {} uses secure aggregation ({}); a plain update \
                     would reveal this client's values",
                    self.round,
                    secure.protocol()
                ),
            ));
        }
        let checked = check_content(&update, layout, self.codec.as_ref()).and_then(|delta| {
            check_control(&update, layout, self.expects_control).map(|control| (delta, control))
        });
        let (delta, control_delta) = match checked {
            Ok(checked) => checked,
            Err(rejection) => {
                self.finished.insert(client_id.to_owned());
                return Err(rejection);
            }
        };
        self.finished.insert(client_id.to_owned());
        self.accepted.push(AcceptedUpdate {
            client_id: client_id.to_owned(),
            num_examples: update.num_examples,
            local_steps: update.local_steps,
            train_loss: update.train_loss,
            delta,
            control_delta,
            clipped: update.clipped,
        });
        Ok(())
    }

    /// Records that `client_id` sits out `round` without an update, so the
    /// round stops waiting for it.
    pub fn decline(&mut self, client_id: &str, round: u32) -> Result<(), Rejection> {
        self.check_addressing(client_id, round, "decline")?;
        self.finished.insert(client_id.to_owned());
        self.declined += 1;
        Ok(())
    }

    /// Checks that a message of kind `kind` (an update or a decline) from
    /// `client_id` is for this round and is the client's first.
    fn check_addressing(&self, client_id: &str, round: u32, kind: &str) -> Result<(), Rejection> {
        if round != self.round {
            return Err(Rejection::new(
                ErrorCode::WrongRound,
                format!(
                    "{kind} rejected: expected round {}, got {round}",
                    self.round
                ),
            ));
        }
        if !self.sampled.contains(client_id) {
            return Err(Rejection::new(
                ErrorCode::NotSampled,
                format!(
                    "{kind} rejected: client {client_id} was not sampled for round {}",
                    self.round
                ),
            ));
        }
        if self.finished.contains(client_id) {
            return Err(Rejection::new(
                ErrorCode::DuplicateUpdate,
                format!(
                    "{kind} rejected: client {client_id} already sent its update or decline \
                     for round {}",
                    self.round
                ),
            ));
        }
        Ok(())
    }
}

/// Checks the encoding, layout and values; returns the flat delta.
fn check_content(
    update: &ClientUpdate,
    layout: &[TensorSpec],
    codec: Option<&RoundCodec>,
) -> Result<Vec<f32>, Rejection> {
    if update.num_examples > MAX_NUM_EXAMPLES {
        return Err(Rejection::new(
            ErrorCode::InvalidUpdate,
            format!(
                "update rejected: num_examples {} exceeds the maximum of {MAX_NUM_EXAMPLES}",
                update.num_examples
            ),
        ));
    }
    if !update.train_loss.is_finite() {
        return Err(Rejection::new(
            ErrorCode::NonFinite,
            format!("update rejected: train loss is {}", update.train_loss),
        ));
    }
    match (&update.payload, codec) {
        (UpdatePayload::Dense(params), None) => {
            check_params(params, layout)?;
            Ok(params.values().to_vec())
        }
        (UpdatePayload::Compressed(bytes), Some(codec)) => {
            let len = layout.iter().map(TensorSpec::numel).sum();
            codec
                .chain
                .decode(bytes, len, codec.round_seed)
                .map_err(|err| {
                    Rejection::new(
                        ErrorCode::InvalidUpdate,
                        format!(
                            "update rejected: it does not decode as {} ({err})",
                            codec.spec
                        ),
                    )
                })
        }
        (UpdatePayload::Dense(_), Some(codec)) => Err(Rejection::new(
            ErrorCode::InvalidUpdate,
            format!(
                "update rejected: this run expects updates compressed as {}, got plain f32 values",
                codec.spec
            ),
        )),
        (UpdatePayload::Compressed(_), None) => Err(Rejection::new(
            ErrorCode::InvalidUpdate,
            "update rejected: this run expects plain f32 updates, got a compressed one",
        )),
    }
}

/// Checks the control-variate delta that SCAFFOLD updates carry and other
/// updates must not; returns it flattened.
fn check_control(
    update: &ClientUpdate,
    layout: &[TensorSpec],
    expected: bool,
) -> Result<Option<Vec<f32>>, Rejection> {
    match (&update.control_delta, expected) {
        (Some(control), true) => {
            check_params(control, layout).map_err(|rejection| Rejection {
                message: rejection.message.replacen(
                    "update rejected:",
                    "update rejected: control delta",
                    1,
                ),
                ..rejection
            })?;
            Ok(Some(control.values().to_vec()))
        }
        (None, false) => Ok(None),
        (None, true) => Err(Rejection::new(
            ErrorCode::InvalidUpdate,
            "update rejected: this run uses scaffold, and the update carries no control-variate delta",
        )),
        (Some(_), false) => Err(Rejection::new(
            ErrorCode::InvalidUpdate,
            "update rejected: it carries a control-variate delta, which only scaffold runs accept",
        )),
    }
}

fn check_params(params: &ParamSet, layout: &[TensorSpec]) -> Result<(), Rejection> {
    compare_layouts(layout, params.specs()).map_err(|err| {
        Rejection::new(
            ErrorCode::LayoutMismatch,
            format!("update rejected: does not match the global model: {err}"),
        )
    })?;
    params
        .check_finite()
        .map_err(|err| Rejection::new(ErrorCode::NonFinite, format!("update rejected: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Vec<TensorSpec> {
        vec![TensorSpec {
            name: "w".into(),
            shape: vec![2],
        }]
    }

    fn update(round: u32, values: Vec<f32>) -> ClientUpdate {
        let specs = vec![TensorSpec {
            name: "w".into(),
            shape: vec![values.len() as u32],
        }];
        ClientUpdate {
            round,
            num_examples: 10,
            local_steps: 1,
            train_loss: 0.3,
            payload: UpdatePayload::Dense(ParamSet::new(specs, values).unwrap()),
            control_delta: None,
            clipped: None,
        }
    }

    fn open() -> OpenRound {
        OpenRound::new(3, ["a".to_owned(), "b".to_owned()].into(), None)
    }

    #[test]
    fn valid_update_is_kept() {
        let mut round = open();
        round
            .accept("a", update(3, vec![1.0, 2.0]), &layout())
            .unwrap();
        assert_eq!(round.accepted.len(), 1);
        assert!(!round.all_finished());
    }

    #[test]
    fn previous_round_is_rejected_and_client_may_retry() {
        let mut round = open();
        let err = round
            .accept("a", update(2, vec![1.0, 2.0]), &layout())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::WrongRound);
        assert!(
            err.message.contains("expected round 3, got 2"),
            "{}",
            err.message
        );
        assert!(round.accepted.is_empty());
        round
            .accept("a", update(3, vec![1.0, 2.0]), &layout())
            .unwrap();
    }

    #[test]
    fn unsampled_and_duplicate_updates_are_rejected() {
        let mut round = open();
        let err = round
            .accept("z", update(3, vec![1.0, 2.0]), &layout())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotSampled);
        round
            .accept("a", update(3, vec![1.0, 2.0]), &layout())
            .unwrap();
        let err = round
            .accept("a", update(3, vec![1.0, 2.0]), &layout())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateUpdate);
        assert_eq!(round.accepted.len(), 1);
    }

    #[test]
    fn huge_example_count_is_rejected() {
        let mut round = open();
        let mut huge = update(3, vec![1.0, 2.0]);
        huge.num_examples = u64::MAX;
        let err = round.accept("a", huge, &layout()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidUpdate);
        assert!(round.accepted.is_empty());
    }

    fn with_control(mut update: ClientUpdate, values: Vec<f32>) -> ClientUpdate {
        let specs = vec![TensorSpec {
            name: "w".into(),
            shape: vec![values.len() as u32],
        }];
        update.control_delta = Some(ParamSet::new(specs, values).unwrap());
        update
    }

    #[test]
    fn control_delta_is_required_exactly_for_scaffold() {
        let mut plain = open();
        let err = plain
            .accept(
                "a",
                with_control(update(3, vec![1.0, 2.0]), vec![0.5, 0.5]),
                &layout(),
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidUpdate);
        assert!(err.message.contains("only scaffold"), "{}", err.message);

        let mut scaffold = open().expecting_control(true);
        let err = scaffold
            .accept("a", update(3, vec![1.0, 2.0]), &layout())
            .unwrap_err();
        assert!(
            err.message.contains("no control-variate delta"),
            "{}",
            err.message
        );
        let err = scaffold
            .accept(
                "b",
                with_control(update(3, vec![1.0, 2.0]), vec![f32::INFINITY, 0.0]),
                &layout(),
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NonFinite);
        assert!(err.message.contains("control delta"), "{}", err.message);

        let mut scaffold = open().expecting_control(true);
        scaffold
            .accept(
                "a",
                with_control(update(3, vec![1.0, 2.0]), vec![0.5, -0.5]),
                &layout(),
            )
            .unwrap();
        assert_eq!(scaffold.accepted[0].control_delta, Some(vec![0.5, -0.5]));
        let err = scaffold
            .accept(
                "b",
                with_control(update(3, vec![1.0, 2.0]), vec![0.5]),
                &layout(),
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::LayoutMismatch);
    }

    #[test]
    fn nan_and_wrong_shape_finish_the_client() {
        let mut round = open();
        let err = round
            .accept("a", update(3, vec![1.0, f32::NAN]), &layout())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NonFinite);
        let err = round
            .accept("b", update(3, vec![1.0, 2.0, 3.0]), &layout())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::LayoutMismatch);
        assert!(round.accepted.is_empty());
        assert!(round.all_finished());
    }
}
