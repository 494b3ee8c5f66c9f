use super::*;
use crate::config::Weighting;

fn contribution<'a>(
    client_id: &'a str,
    weight: f64,
    local_steps: u32,
    delta: &'a [f32],
    control_delta: Option<&'a [f32]>,
) -> ClientContribution<'a> {
    ClientContribution {
        client_id,
        weight,
        local_steps,
        delta,
        control_delta,
    }
}

fn strategy(kind: StrategyKind, config: &StrategyConfig, len: usize) -> Strategy {
    Strategy::new(kind, config, len, 0.0).unwrap()
}

fn with_learning_rate(rate: f64) -> StrategyConfig {
    StrategyConfig {
        server_learning_rate: Some(rate),
        ..StrategyConfig::default()
    }
}

fn assert_close(actual: &[f32], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len());
    for (index, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!((f64::from(a) - e).abs() < 1e-6, "index {index}: {a} vs {e}");
    }
}

#[test]
fn fedavg_moves_model_by_weighted_mean() {
    let mut strategy = Strategy::fedavg();
    let mut global = vec![1.0, 1.0];
    let a = [2.0, 0.0];
    let b = [0.0, 2.0];
    let updates = [
        contribution("a", 1.0, 1, &a, None),
        contribution("b", 3.0, 1, &b, None),
    ];
    let report = strategy.apply_round(&mut global, &updates, 2).unwrap();
    assert_eq!(global, vec![1.5, 2.5]);
    assert_eq!(report.clients, 2);
    assert_eq!(report.total_weight, 4.0);
    assert!((report.update_norm - (0.25f64 + 2.25).sqrt()).abs() < 1e-9);
    assert!((report.step_norm - report.update_norm).abs() < 1e-9);
    assert_eq!(strategy.rounds_applied(), 1);
}

#[test]
fn strategy_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Strategy>();
}

#[test]
fn failed_round_leaves_model_unchanged() {
    let mut strategy = Strategy::fedavg();
    let mut global = vec![1.0, 1.0];
    let a = [5.0, 5.0];
    let updates = [contribution("a", 0.0, 0, &a, None)];
    assert!(strategy.apply_round(&mut global, &updates, 1).is_err());
    assert_eq!(global, vec![1.0, 1.0]);
    assert_eq!(strategy.rounds_applied(), 0);
}

#[test]
fn fedprox_server_step_is_fedavg() {
    let a = [2.0, -1.0];
    let b = [0.5, 4.0];
    let updates = [
        contribution("a", 2.0, 3, &a, None),
        contribution("b", 5.0, 9, &b, None),
    ];
    let mut fedavg_model = vec![0.25, 0.5];
    let mut fedprox_model = fedavg_model.clone();
    let config = StrategyConfig::default();
    strategy(StrategyKind::FedAvg, &config, 2)
        .apply_round(&mut fedavg_model, &updates, 2)
        .unwrap();
    strategy(StrategyKind::FedProx, &config, 2)
        .apply_round(&mut fedprox_model, &updates, 2)
        .unwrap();
    assert_eq!(fedavg_model, fedprox_model);
}

#[test]
fn uniform_weighting_ignores_example_counts() {
    let config = StrategyConfig {
        weighting: Weighting::Uniform,
        ..StrategyConfig::default()
    };
    let mut strategy = strategy(StrategyKind::FedAvg, &config, 1);
    let a = [2.0];
    let b = [4.0];
    let c = [100.0];
    // Weights 1 and 99 both become 1, and the weight-0 client stays 0.
    let updates = [
        contribution("a", 1.0, 1, &a, None),
        contribution("b", 99.0, 1, &b, None),
        contribution("c", 0.0, 1, &c, None),
    ];
    let mut global = [0.0];
    let report = strategy.apply_round(&mut global, &updates, 3).unwrap();
    assert_eq!(global, [3.0]);
    assert_eq!(report.total_weight, 2.0);
}

#[test]
fn fedavgm_two_rounds_by_hand() {
    // beta = 0.9, lr = 1, x0 = [0, 1].
    // Round 1, mean = [1, -1]: v1 = [1, -1], x1 = [1, 0].
    // Round 2, mean = [2, 0]: v2 = 0.9 * [1, -1] + [2, 0] = [2.9, -0.9],
    //   x2 = [1, 0] + [2.9, -0.9] = [3.9, -0.9].
    let mut strategy = strategy(StrategyKind::FedAvgM, &StrategyConfig::default(), 2);
    let mut global = [0.0, 1.0];
    let first = [1.0, -1.0];
    strategy
        .apply_round(&mut global, &[contribution("a", 1.0, 1, &first, None)], 1)
        .unwrap();
    assert_close(&global, &[1.0, 0.0]);
    let second_a = [1.0, 1.0];
    let second_b = [3.0, -1.0];
    let updates = [
        contribution("a", 2.0, 1, &second_a, None),
        contribution("b", 2.0, 1, &second_b, None),
    ];
    strategy.apply_round(&mut global, &updates, 2).unwrap();
    assert_close(&global, &[3.9, -0.9]);
    let momentum = strategy.state().momentum.unwrap();
    assert_close(&momentum, &[2.9, -0.9]);
}

#[test]
fn fedadam_first_round_by_hand() {
    // x0 = 0, every client's delta = 1, so the weighted mean is 1 whatever
    // the weights. beta1 = 0.9, beta2 = 0.99, lr = 0.1, tau = 1e-3, and
    // v0 = tau^2 = 1e-6.
    //   m1 = 0.9 * 0 + 0.1 * 1 = 0.1
    //   v1 = 0.99 * 1e-6 + 0.01 * 1 = 0.01000099
    //   x1 = 0.1 * 0.1 / (sqrt(0.01000099) + 1e-3)
    //      = 0.01 / (0.10000494988 + 0.001) = 0.09900504888
    let mut strategy = strategy(StrategyKind::FedAdam, &with_learning_rate(0.1), 2);
    let delta = [1.0, 1.0];
    let updates = [
        contribution("a", 10.0, 5, &delta, None),
        contribution("b", 30.0, 5, &delta, None),
        contribution("c", 60.0, 5, &delta, None),
    ];
    let mut global = [0.0, 0.0];
    strategy.apply_round(&mut global, &updates, 3).unwrap();
    assert_close(&global, &[0.09900504888; 2]);
    let state = strategy.state();
    assert_close(&state.first_moment.unwrap(), &[0.1; 2]);
    assert_close(&state.second_moment.unwrap(), &[0.01000099; 2]);
}

#[test]
fn fedopt_default_learning_rates() {
    let config = StrategyConfig::default();
    assert_eq!(
        strategy(StrategyKind::FedAdam, &config, 1).learning_rate(),
        0.01
    );
    assert_eq!(
        strategy(StrategyKind::FedYogi, &config, 1).learning_rate(),
        0.01
    );
    assert_eq!(
        strategy(StrategyKind::FedAdagrad, &config, 1).learning_rate(),
        0.1
    );
    assert_eq!(
        strategy(StrategyKind::Scaffold, &config, 1).learning_rate(),
        1.0
    );
}

#[test]
fn scaffold_two_rounds_by_hand() {
    // N = 4, lr = 0.5, x0 = [0, 0], c0 = [0, 0].
    // Round 1: a (weight 1) dy = [1, 2], dc = [0.4, 0];
    //          b (weight 3) dy = [3, -2], dc = [0, -0.8].
    //   mean dy = 0.25 * [1, 2] + 0.75 * [3, -2] = [2.5, -1]
    //   x1 = 0.5 * [2.5, -1] = [1.25, -0.5]
    //   c1 = (1 / 4) * ([0.4, 0] + [0, -0.8]) = [0.1, -0.2]
    // Round 2: a (weight 1) dy = [-1, 0], dc = [0.2, 0.2];
    //          c (weight 1) dy = [1, 4], dc = [-0.6, 0.2].
    //   mean dy = [0, 2], x2 = [1.25, -0.5] + 0.5 * [0, 2] = [1.25, 0.5]
    //   c2 = [0.1, -0.2] + (1 / 4) * [-0.4, 0.4] = [0, -0.1]
    let mut strategy = strategy(StrategyKind::Scaffold, &with_learning_rate(0.5), 2);
    assert_eq!(strategy.server_control(), Some(&[0.0, 0.0][..]));
    let mut global = [0.0, 0.0];

    let (dy_a, dc_a) = ([1.0, 2.0], [0.4, 0.0]);
    let (dy_b, dc_b) = ([3.0, -2.0], [0.0, -0.8]);
    let round_1 = [
        contribution("a", 1.0, 10, &dy_a, Some(&dc_a)),
        contribution("b", 3.0, 10, &dy_b, Some(&dc_b)),
    ];
    strategy.apply_round(&mut global, &round_1, 4).unwrap();
    assert_close(&global, &[1.25, -0.5]);
    assert_close(strategy.server_control().unwrap(), &[0.1, -0.2]);

    let (dy_a, dc_a) = ([-1.0, 0.0], [0.2, 0.2]);
    let (dy_c, dc_c) = ([1.0, 4.0], [-0.6, 0.2]);
    let round_2 = [
        contribution("a", 1.0, 10, &dy_a, Some(&dc_a)),
        contribution("c", 1.0, 10, &dy_c, Some(&dc_c)),
    ];
    strategy.apply_round(&mut global, &round_2, 4).unwrap();
    assert_close(&global, &[1.25, 0.5]);
    assert_close(strategy.server_control().unwrap(), &[0.0, -0.1]);
}

#[test]
fn server_control_only_for_scaffold() {
    let config = StrategyConfig::default();
    for kind in StrategyKind::ALL {
        let strategy = strategy(kind, &config, 3);
        match kind {
            StrategyKind::Scaffold => assert_eq!(strategy.server_control(), Some(&[0.0; 3][..])),
            _ => assert_eq!(strategy.server_control(), None, "{kind}"),
        }
    }
}

#[test]
fn fednova_equal_steps_matches_fedavg() {
    let a = [0.5, -2.0, 3.25];
    let b = [1.5, 0.75, -0.5];
    let c = [-3.0, 1.0, 2.0];
    let updates = [
        contribution("a", 12.0, 6, &a, None),
        contribution("b", 30.0, 6, &b, None),
        contribution("c", 7.0, 6, &c, None),
    ];
    let mut fedavg_model = vec![1.0, 2.0, 3.0];
    strategy(StrategyKind::FedAvg, &StrategyConfig::default(), 3)
        .apply_round(&mut fedavg_model, &updates, 3)
        .unwrap();
    let expected: Vec<f64> = fedavg_model.iter().map(|&v| f64::from(v)).collect();
    for rho in [0.0, 0.9] {
        let mut fednova =
            Strategy::new(StrategyKind::FedNova, &StrategyConfig::default(), 3, rho).unwrap();
        let mut model = vec![1.0, 2.0, 3.0];
        fednova.apply_round(&mut model, &updates, 3).unwrap();
        assert_close(&model, &expected);
    }
}

#[test]
fn fednova_long_client_does_not_dominate() {
    // Equal weights. Client a takes 1 step with delta [1, 1]. Client b takes
    // 4 steps with delta [-4, 8], so its per-step delta is [-1, 2]. FedAvg
    // moves by the plain mean [-1.5, 4.5], which b dominates. FedNova:
    //   d_a = [1, 1], d_b = [-4, 8] / 4 = [-1, 2]
    //   tau_eff = 0.5 * 1 + 0.5 * 4 = 2.5
    //   x1 = x0 + 2.5 * (0.5 * [1, 1] + 0.5 * [-1, 2]) = [0, 0] + [0, 3.75]
    let a = [1.0, 1.0];
    let b = [-4.0, 8.0];
    let updates = [
        contribution("a", 50.0, 1, &a, None),
        contribution("b", 50.0, 4, &b, None),
    ];
    let mut global = [0.0, 0.0];
    let mut fednova = strategy(StrategyKind::FedNova, &StrategyConfig::default(), 2);
    fednova.apply_round(&mut global, &updates, 2).unwrap();
    assert_eq!(global, [0.0, 3.75]);

    let mut fedavg_model = [0.0, 0.0];
    Strategy::fedavg()
        .apply_round(&mut fedavg_model, &updates, 2)
        .unwrap();
    assert_eq!(fedavg_model, [-1.5, 4.5]);
}

#[test]
fn fednova_client_momentum_by_hand() {
    // rho = 0.5: a_a = 1 (1 step), a_b = [2 - 0.5 * 0.75 / 0.5] / 0.5 = 2.5
    // (2 steps). Equal weights, delta_a = [1], delta_b = [5]:
    //   d_a = 1, d_b = 2, tau_eff = 0.5 * 1 + 0.5 * 2.5 = 1.75
    //   x1 = 0 + 1.75 * (0.5 * 1 + 0.5 * 2) = 2.625
    let a = [1.0];
    let b = [5.0];
    let updates = [
        contribution("a", 1.0, 1, &a, None),
        contribution("b", 1.0, 2, &b, None),
    ];
    let mut fednova =
        Strategy::new(StrategyKind::FedNova, &StrategyConfig::default(), 1, 0.5).unwrap();
    let mut global = [0.0];
    fednova.apply_round(&mut global, &updates, 2).unwrap();
    assert_close(&global, &[2.625]);
}

#[test]
fn new_rejects_bad_settings() {
    let bad = StrategyConfig {
        tau: -1.0,
        ..StrategyConfig::default()
    };
    let err = Strategy::new(StrategyKind::FedAdam, &bad, 1, 0.0).unwrap_err();
    assert!(matches!(
        err,
        AggregateError::InvalidConfig { field: "tau", .. }
    ));
    let err = Strategy::new(StrategyKind::FedNova, &StrategyConfig::default(), 1, 1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid strategy setting client_momentum = 1: expected a value in [0, 1)"
    );
}

#[test]
fn model_length_is_checked() {
    let mut strategy = strategy(StrategyKind::FedAvgM, &StrategyConfig::default(), 2);
    let mut global = [0.0; 3];
    let delta = [1.0; 3];
    let err = strategy
        .apply_round(&mut global, &[contribution("a", 1.0, 1, &delta, None)], 1)
        .unwrap_err();
    assert_eq!(
        err,
        AggregateError::ModelLengthMismatch {
            expected: 2,
            actual: 3
        }
    );
    assert_eq!(global, [0.0; 3]);
}

#[test]
fn name_lists_used_settings() {
    let config = StrategyConfig::default();
    let cases = [
        (StrategyKind::FedAvg, "fedavg(lr=1, weighting=examples)"),
        (
            StrategyKind::FedAvgM,
            "fedavgm(lr=1, momentum=0.9, weighting=examples)",
        ),
        (
            StrategyKind::FedAdam,
            "fedadam(lr=0.01, beta1=0.9, beta2=0.99, tau=0.001, weighting=examples)",
        ),
        (
            StrategyKind::FedAdagrad,
            "fedadagrad(lr=0.1, beta1=0.9, tau=0.001, weighting=examples)",
        ),
        (StrategyKind::Scaffold, "scaffold(lr=1, weighting=examples)"),
        (
            StrategyKind::FedNova,
            "fednova(lr=1, client_momentum=0, weighting=examples)",
        ),
    ];
    for (kind, name) in cases {
        assert_eq!(strategy(kind, &config, 1).name(), name);
    }
    assert_eq!(
        Strategy::fedavg().name(),
        "fedavg(lr=1, weighting=examples)"
    );
}

/// A test of which error a rejected round returned.
type ErrorCheck = fn(&AggregateError) -> bool;

/// Asserts that `apply_round` fails with `expected` and leaves both the
/// model and the strategy state bit for bit as they were.
fn assert_rejected_without_change(
    strategy: &mut Strategy,
    global: &mut [f32],
    updates: &[ClientContribution<'_>],
    population: usize,
    expected: ErrorCheck,
) {
    let model_before: Vec<u32> = global.iter().map(|v| v.to_bits()).collect();
    let state_before = strategy.state();
    let err = strategy
        .apply_round(global, updates, population)
        .unwrap_err();
    assert!(expected(&err), "unexpected error: {err}");
    let model_after: Vec<u32> = global.iter().map(|v| v.to_bits()).collect();
    assert_eq!(model_after, model_before, "model changed after: {err}");
    assert_eq!(strategy.state(), state_before, "state changed after: {err}");
}

#[test]
fn fedadam_errors_change_nothing() {
    let mut strategy = strategy(StrategyKind::FedAdam, &with_learning_rate(0.1), 2);
    let mut global = [0.5, -0.5];
    let good = [1.0, -2.0];
    strategy
        .apply_round(&mut global, &[contribution("a", 1.0, 1, &good, None)], 1)
        .unwrap();

    let short = [1.0];
    let huge = [1.0, 1e21];
    let nan = [f32::NAN, 0.0];
    let cases: [(Vec<ClientContribution<'_>>, ErrorCheck); 7] = [
        (vec![], |e| *e == AggregateError::NoUpdates),
        (vec![contribution("a", -1.0, 1, &good, None)], |e| {
            matches!(e, AggregateError::InvalidWeight { .. })
        }),
        (
            vec![
                contribution("a", 1.0, 1, &good, None),
                contribution("b", 1.0, 1, &short, None),
            ],
            |e| matches!(e, AggregateError::LengthMismatch { .. }),
        ),
        (vec![contribution("a", 1.0, 1, &good, Some(&good))], |e| {
            matches!(e, AggregateError::UnexpectedControlDelta { .. })
        }),
        (vec![contribution("a", 0.0, 1, &good, None)], |e| {
            matches!(e, AggregateError::ZeroTotalWeight { count: 1 })
        }),
        (vec![contribution("a", 1.0, 1, &huge, None)], |e| {
            *e == AggregateError::NonFiniteResult {
                buffer: "second moment",
                index: 1,
            }
        }),
        (vec![contribution("a", 1.0, 1, &nan, None)], |e| {
            *e == AggregateError::NonFiniteResult {
                buffer: "first moment",
                index: 0,
            }
        }),
    ];
    for (updates, expected) in &cases {
        assert_rejected_without_change(&mut strategy, &mut global, updates, 1, *expected);
    }
    assert_eq!(strategy.rounds_applied(), 1);
}

#[test]
fn scaffold_errors_change_nothing() {
    let mut strategy = strategy(StrategyKind::Scaffold, &StrategyConfig::default(), 2);
    let mut global = [0.0, 0.0];
    let big = [3e38, 1.0];
    let control = [0.5, -0.5];
    strategy
        .apply_round(
            &mut global,
            &[contribution("a", 1.0, 1, &big, Some(&control))],
            2,
        )
        .unwrap();

    let small = [1.0, 1.0];
    let short = [1.0];
    let nan = [0.0, f32::NAN];
    let with_control = |control| vec![contribution("a", 1.0, 1, &small, control)];
    let cases: [(Vec<ClientContribution<'_>>, usize, ErrorCheck); 6] = [
        (with_control(None), 2, |e| {
            matches!(e, AggregateError::MissingControlDelta { .. })
        }),
        (with_control(Some(&short)), 2, |e| {
            matches!(e, AggregateError::ControlLengthMismatch { .. })
        }),
        (with_control(Some(&nan)), 2, |e| {
            matches!(e, AggregateError::NonFiniteControlDelta { index: 1, .. })
        }),
        (with_control(Some(&control)), 0, |e| {
            matches!(e, AggregateError::PopulationTooSmall { .. })
        }),
        (
            // x[0] = 3e38 + 3e38 overflows f32.
            vec![contribution("a", 1.0, 1, &big, Some(&control))],
            2,
            |e| {
                *e == AggregateError::NonFiniteResult {
                    buffer: "model",
                    index: 0,
                }
            },
        ),
        (vec![], 2, |e| *e == AggregateError::NoUpdates),
    ];
    for (updates, population, expected) in &cases {
        assert_rejected_without_change(&mut strategy, &mut global, updates, *population, *expected);
    }
    assert_eq!(strategy.rounds_applied(), 1);
    assert_close(strategy.server_control().unwrap(), &[0.25, -0.25]);
}

/// Deterministic, irregular round data: three clients with different
/// weights, step counts, deltas and control deltas.
struct RoundData {
    deltas: Vec<Vec<f32>>,
    controls: Vec<Vec<f32>>,
}

impl RoundData {
    const LEN: usize = 6;

    fn new(round: usize) -> Self {
        let value = |client: usize, index: usize, salt: usize| {
            let n = (round * 131 + client * 37 + index * 17 + salt * 7) % 101;
            (n as f32 - 50.0) / 37.0
        };
        let rows = |salt| {
            (0..3)
                .map(|client| (0..Self::LEN).map(|i| value(client, i, salt)).collect())
                .collect()
        };
        Self {
            deltas: rows(0),
            controls: rows(1),
        }
    }

    fn updates(&self, kind: StrategyKind) -> Vec<ClientContribution<'_>> {
        (0..3)
            .map(|client| {
                let control = kind
                    .needs_control()
                    .then(|| self.controls[client].as_slice());
                contribution(
                    "c",
                    (client * 20 + 3) as f64,
                    (client * 3 + 1) as u32,
                    &self.deltas[client],
                    control,
                )
            })
            .collect()
    }
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn restore_resumes_bit_identically() {
    let config = StrategyConfig {
        server_learning_rate: Some(0.3),
        ..StrategyConfig::default()
    };
    let rounds: Vec<RoundData> = (0..3).map(RoundData::new).collect();
    for kind in StrategyKind::ALL {
        let new = || Strategy::new(kind, &config, RoundData::LEN, 0.7).unwrap();
        let mut original = new();
        let mut global: Vec<f32> = (0..RoundData::LEN).map(|i| i as f32 * 0.1).collect();
        original
            .apply_round(&mut global, &rounds[0].updates(kind), 10)
            .unwrap();
        let snapshot = serde_json::to_string(&original.state()).unwrap();
        let mut resumed_global = global.clone();

        let mut resumed = new();
        resumed
            .restore(serde_json::from_str(&snapshot).unwrap())
            .unwrap();
        assert_eq!(resumed.rounds_applied(), 1);
        for round in &rounds[1..] {
            original
                .apply_round(&mut global, &round.updates(kind), 10)
                .unwrap();
            resumed
                .apply_round(&mut resumed_global, &round.updates(kind), 10)
                .unwrap();
            assert_eq!(bits(&resumed_global), bits(&global), "{kind}");
        }
        assert_eq!(resumed.state(), original.state(), "{kind}");
        assert_eq!(original.rounds_applied(), 3);
    }
}

#[test]
fn restore_carries_stateful_buffers() {
    // A fresh strategy would diverge from one restored after round 1, which
    // shows the snapshot carries state and the test above can fail.
    let config = StrategyConfig::default();
    let rounds: Vec<RoundData> = (0..2).map(RoundData::new).collect();
    for kind in [
        StrategyKind::FedAvgM,
        StrategyKind::FedAdam,
        StrategyKind::Scaffold,
    ] {
        let mut trained = strategy(kind, &config, RoundData::LEN);
        let mut global = vec![0.0; RoundData::LEN];
        trained
            .apply_round(&mut global, &rounds[0].updates(kind), 10)
            .unwrap();
        assert_ne!(
            trained.state(),
            strategy(kind, &config, RoundData::LEN).state()
        );
    }
}

#[test]
fn restore_rejects_mismatch_and_keeps_state() {
    let config = StrategyConfig::default();
    let data = RoundData::new(0);
    let mut fedadam = strategy(StrategyKind::FedAdam, &config, RoundData::LEN);
    let mut global = vec![0.0; RoundData::LEN];
    fedadam
        .apply_round(&mut global, &data.updates(StrategyKind::FedAdam), 3)
        .unwrap();
    let before = fedadam.state();

    let other_kind = strategy(StrategyKind::FedYogi, &config, RoundData::LEN).state();
    assert_eq!(
        fedadam.restore(other_kind).unwrap_err(),
        AggregateError::StateKindMismatch {
            expected: StrategyKind::FedAdam,
            actual: StrategyKind::FedYogi
        }
    );
    let other_len = strategy(StrategyKind::FedAdam, &config, 4).state();
    assert_eq!(
        fedadam.restore(other_len).unwrap_err(),
        AggregateError::StateLengthMismatch {
            buffer: "first moment",
            expected: RoundData::LEN,
            actual: 4
        }
    );
    assert_eq!(fedadam.state(), before);
}

#[test]
fn state_holds_only_the_kinds_buffers() {
    let config = StrategyConfig::default();
    for kind in StrategyKind::ALL {
        let state = strategy(kind, &config, 2).state();
        assert_eq!(state.kind, kind);
        assert_eq!(state.rounds_applied, 0);
        assert_eq!(
            state.momentum.is_some(),
            kind == StrategyKind::FedAvgM,
            "{kind}"
        );
        let fedopt = matches!(
            kind,
            StrategyKind::FedAdam | StrategyKind::FedYogi | StrategyKind::FedAdagrad
        );
        assert_eq!(state.first_moment.is_some(), fedopt, "{kind}");
        assert_eq!(state.second_moment.is_some(), fedopt, "{kind}");
        assert_eq!(
            state.control_variate.is_some(),
            kind.needs_control(),
            "{kind}"
        );
    }
}
