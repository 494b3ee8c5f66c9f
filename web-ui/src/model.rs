//! Content of each dashboard panel, computed from a [`RunView`]: the
//! headline figures at the top, the charts (as SVG text from
//! `starling-charts`), the run header, the per-cohort tables and the client
//! list. The module uses no browser types, so it is tested natively.

use starling_charts::run::{self as figures, Curves, Timeline};
use starling_charts::{Figure, render};
use starling_runlog::cohort::{self, ClientAccuracy};
use starling_runlog::{ClientState, RoundMetrics, RunHeader, RunView, units};

/// Another run whose curves are overlaid.
#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    /// Its id.
    pub run_id: String,
    /// Its rounds.
    pub rounds: Vec<RoundMetrics>,
}

/// One headline figure (key performance indicator) of the dashboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Kpi {
    /// Element id, for tests and links.
    pub id: &'static str,
    /// Caption shown above the value.
    pub label: &'static str,
    /// Formatted value.
    pub value: String,
    /// Line of context shown under the value.
    pub detail: String,
}

/// Returns the last round whose global model was evaluated.
pub fn last_evaluation(view: &RunView) -> Option<&RoundMetrics> {
    view.rounds.iter().rev().find(|m| m.test_accuracy.is_some())
}

/// Computes the headline figures: round, accuracy, clients, bytes,
/// compression, privacy and disparity.
pub fn kpis(view: &RunView) -> Vec<Kpi> {
    let planned = view.header.as_ref().map_or(0, |h| h.rounds);
    let done = view.rounds_completed();
    let round_detail = match (view.open_round, &view.summary) {
        (Some(open), _) => format!("round {open} in progress"),
        (None, Some(_)) => view.status().describe(),
        (None, None) if done == 0 => "waiting for clients".to_owned(),
        (None, None) => "between rounds".to_owned(),
    };
    let evaluated = last_evaluation(view);
    let best = view
        .rounds
        .iter()
        .filter_map(|m| m.test_accuracy.map(|a| (a, m.round)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let last = view.rounds.last();
    let total: u64 = view.rounds.iter().map(|m| m.bytes_up + m.bytes_down).sum();
    let disparity = evaluated.and_then(|m| cohort::disparity(&m.clients));
    vec![
        Kpi {
            id: "kpi-round",
            label: "Rounds",
            value: if planned > 0 {
                format!("{done} / {planned}")
            } else {
                done.to_string()
            },
            detail: round_detail,
        },
        Kpi {
            id: "kpi-accuracy",
            label: "Test accuracy",
            value: evaluated
                .and_then(|m| m.test_accuracy)
                .map_or("–".to_owned(), units::percent),
            detail: best.map_or("not evaluated yet".to_owned(), |(a, round)| {
                format!("best {} at round {round}", units::percent(a))
            }),
        },
        if view.clients.is_empty() && view.summary.is_some() {
            Kpi {
                id: "kpi-clients",
                label: "Clients connected",
                value: "–".to_owned(),
                detail: "known only while a run is live".to_owned(),
            }
        } else {
            Kpi {
                id: "kpi-clients",
                label: "Clients connected",
                value: view.connected().to_string(),
                detail: format!("{} seen in this run", view.clients.len()),
            }
        },
        Kpi {
            id: "kpi-bytes-round",
            label: "Bytes last round",
            value: last.map_or("–".to_owned(), |m| {
                // No-break spaces keep each arrow with its figure.
                format!(
                    "↑\u{a0}{} ↓\u{a0}{}",
                    units::bytes(m.bytes_up).replace(' ', "\u{a0}"),
                    units::bytes(m.bytes_down).replace(' ', "\u{a0}")
                )
            }),
            detail: last.map_or("no round yet".to_owned(), |m| format!("round {}", m.round)),
        },
        Kpi {
            id: "kpi-bytes-total",
            label: "Bytes in total",
            value: units::bytes(total),
            detail: "uplink and downlink, framed".to_owned(),
        },
        Kpi {
            id: "kpi-compression",
            label: "Uplink compression",
            value: figures::uplink_ratio(&view.rounds)
                .map_or("–".to_owned(), |r| format!("{r:.2}x")),
            detail: compression_detail(view.header.as_ref()),
        },
        Kpi {
            id: "kpi-privacy",
            label: "Privacy spent",
            value: privacy_value(view),
            detail: privacy_detail(view),
        },
        Kpi {
            id: "kpi-disparity",
            label: "Worst-decile client accuracy",
            value: disparity
                .as_ref()
                .map_or("–".to_owned(), |d| units::percent(d.worst_decile)),
            detail: disparity
                .as_ref()
                .map_or("no per-client evaluation yet".to_owned(), |d| {
                    format!(
                        "on the clients' training data; std dev {:.2} points over {} clients",
                        d.std_dev * 100.0,
                        d.clients
                    )
                }),
        },
    ]
}

/// Formats the privacy spent: `off`, or the ε spent so far (and the budget,
/// when one is set).
pub fn privacy_value(view: &RunView) -> String {
    let last = view.rounds.iter().rev().find_map(|m| m.privacy.as_ref());
    let settings = view.header.as_ref().and_then(|h| h.privacy.as_ref());
    match (last, settings) {
        (None, None) => "off".to_owned(),
        (None, Some(_)) => "ε = 0".to_owned(),
        (Some(p), _) => match p.epsilon_budget {
            Some(budget) => format!(
                "ε = {} of {}",
                units::epsilon(p.epsilon),
                units::epsilon(budget)
            ),
            None => format!("ε = {}", units::epsilon(p.epsilon)),
        },
    }
}

/// Names the uplink codec, and the downlink one when the broadcast model is
/// compressed too.
fn compression_detail(header: Option<&RunHeader>) -> String {
    match header {
        None => "codec: off".to_owned(),
        Some(h) if h.downlink_compression.is_empty() || h.downlink_compression == "off" => {
            format!("codec: {}", h.compression)
        }
        Some(h) => format!(
            "codec: {}; downlink: {}",
            h.compression, h.downlink_compression
        ),
    }
}

fn privacy_detail(view: &RunView) -> String {
    let last = view.rounds.iter().rev().find_map(|m| m.privacy.as_ref());
    match last {
        Some(p) => format!(
            "δ = {}, z = {}, C = {}",
            units::delta(p.delta),
            p.noise_multiplier,
            p.clip_norm
        ),
        None if view.header.as_ref().is_some_and(|h| h.privacy.is_some()) => {
            "no round yet".to_owned()
        }
        None => "differential privacy is off for this run".to_owned(),
    }
}

/// A chart ready for the page.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The figure's id (`accuracy-round`, `bytes-round`, …).
    pub id: String,
    /// SVG text.
    pub svg: String,
}

/// Width in pixels under which charts are drawn narrower and shorter, so
/// their text stays readable on a phone.
pub const NARROW_WIDTH: f64 = 600.0;

/// Renders `figure` for a page `page_width` pixels wide.
fn chart(mut figure: Figure, page_width: f64) -> Chart {
    if page_width < NARROW_WIDTH {
        figure.width = 400.0;
        figure.height = 260.0;
    }
    Chart {
        id: figure.id.clone(),
        svg: render(&figure),
    }
}

/// Renders the accuracy and loss charts against round and wall clock, with
/// the compared run overlaid when `compare` is set.
pub fn learning_charts(view: &RunView, compare: Option<&Compare>, page_width: f64) -> Vec<Chart> {
    let own_label = if compare.is_some() {
        view.header
            .as_ref()
            .map_or("this run", |h| h.run_id.as_str())
    } else {
        "global model"
    };
    let mut curves = vec![Curves {
        label: own_label,
        rounds: &view.rounds,
    }];
    if let Some(other) = compare {
        curves.push(Curves {
            label: &other.run_id,
            rounds: &other.rounds,
        });
    }
    vec![
        chart(figures::accuracy(&curves, Timeline::Round), page_width),
        chart(figures::accuracy(&curves, Timeline::WallClock), page_width),
        chart(figures::loss(&curves, Timeline::Round), page_width),
        chart(figures::loss(&curves, Timeline::WallClock), page_width),
    ]
}

/// Renders the charts of bytes per round and cumulative bytes.
pub fn bytes_charts(view: &RunView, page_width: f64) -> Vec<Chart> {
    vec![
        chart(figures::bytes_per_round(&view.rounds), page_width),
        chart(figures::cumulative_bytes(&view.rounds), page_width),
    ]
}

/// Renders the chart of ε spent against the budget.
pub fn privacy_chart(view: &RunView, page_width: f64) -> Chart {
    let stopped_on_budget = view.summary.as_ref().is_some_and(|summary| {
        matches!(
            summary.reason,
            starling_runlog::FinishReason::PrivacyBudget { .. }
        )
    });
    chart(
        figures::privacy(view.header.as_ref(), &view.rounds, stopped_on_budget),
        page_width,
    )
}

/// Renders the chart of sampled, completed, late and disconnected clients
/// per round.
pub fn participation_chart(view: &RunView, page_width: f64) -> Chart {
    chart(figures::participation(&view.rounds), page_width)
}

/// Lists the run header as label/value pairs, or one placeholder row before
/// the header arrives.
pub fn header_rows(view: &RunView) -> Vec<(&'static str, String)> {
    let Some(h) = &view.header else {
        return vec![("run", "waiting for the server".to_owned())];
    };
    vec![
        ("run", h.run_id.clone()),
        ("status", view.status().describe()),
        ("strategy", h.strategy.clone()),
        ("model", h.model.clone()),
        ("data", h.dataset.clone()),
        ("partition", h.partition.clone()),
        ("seed", h.seed.to_string()),
        ("started", units::utc_time(h.started_at_ms)),
        ("secure aggregation", h.secure_aggregation.clone()),
    ]
}

/// Describes the run's secure aggregation in one line.
pub fn secure_aggregation_summary(view: &RunView) -> String {
    let mode = view
        .header
        .as_ref()
        .map_or("off", |h| h.secure_aggregation.as_str());
    let last = view
        .rounds
        .iter()
        .rev()
        .find_map(|m| m.secure_aggregation.as_ref().map(|s| (m.round, s)));
    match last {
        Some((round, s)) if s.aborted => {
            format!(
                "{mode}: round {round} aborted, too few survivors ({})",
                s.survivors
            )
        }
        Some((round, s)) => format!(
            "{mode}: round {round} summed {} survivors, {} dropped clients' masks recovered",
            s.survivors, s.recovered
        ),
        None if mode == "off" => {
            "Secure aggregation is off for this run: the server sees each update.".to_owned()
        }
        None => format!("{mode}: no round yet"),
    }
}

/// A column of the per-client table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientColumn {
    /// Client id.
    Client,
    /// Platform / backend.
    Group,
    /// Examples evaluated.
    Examples,
    /// Accuracy.
    Accuracy,
    /// Loss.
    Loss,
}

/// Sorts the per-client table by `column`. Ties keep the worst-served-first
/// order.
pub fn sort_clients(
    clients: &[ClientAccuracy],
    column: ClientColumn,
    ascending: bool,
) -> Vec<ClientAccuracy> {
    let mut rows = cohort::worst_first(clients);
    rows.sort_by(|a, b| {
        let order = match column {
            ClientColumn::Client => a.client_id.cmp(&b.client_id),
            ClientColumn::Group => a.group().cmp(&b.group()),
            ClientColumn::Examples => a.examples.cmp(&b.examples),
            ClientColumn::Accuracy => a.accuracy.total_cmp(&b.accuracy),
            ClientColumn::Loss => a.loss.total_cmp(&b.loss),
        };
        if ascending { order } else { order.reverse() }
    });
    rows
}

/// Row of the client list: a client that is or was connected.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientRow {
    /// Client id.
    pub client_id: String,
    /// Runtime.
    pub platform: String,
    /// Backend.
    pub backend: String,
    /// Device.
    pub device: String,
    /// Examples.
    pub examples: u64,
    /// Built-in partition, if any.
    pub partition: String,
    /// `idle`, `training`, `submitted` or `disconnected`.
    pub state: &'static str,
}

/// Builds the client list, with connected clients first, then by id.
pub fn client_rows(view: &RunView) -> Vec<ClientRow> {
    let mut rows: Vec<ClientRow> = view
        .clients
        .values()
        .map(|(info, state)| ClientRow {
            client_id: info.client_id.clone(),
            platform: info.platform.clone(),
            backend: info.backend.clone(),
            device: info.device.clone(),
            examples: info.num_examples,
            partition: info
                .partition
                .map_or("own data".to_owned(), |p| p.to_string()),
            state: state.label(),
        })
        .collect();
    rows.sort_by_key(|row| {
        (
            row.state == ClientState::Disconnected.label(),
            row.client_id.clone(),
        )
    });
    rows
}

#[cfg(test)]
mod tests {
    use starling_runlog::{ClientInfo, LiveEvent, PrivacyRound, RunHeader, Sequenced};

    use super::*;

    fn client_accuracy(id: &str, examples: u64, accuracy: f64) -> ClientAccuracy {
        ClientAccuracy {
            client_id: id.to_owned(),
            platform: "edge".to_owned(),
            backend: "flex-cpu".to_owned(),
            examples,
            accuracy,
            loss: 1.0 - accuracy,
        }
    }

    fn view() -> RunView {
        let mut view = RunView::default();
        let events = vec![
            LiveEvent::RunStarted(RunHeader {
                run_id: "run-a".to_owned(),
                rounds: 10,
                compression: "off".to_owned(),
                secure_aggregation: "off".to_owned(),
                ..RunHeader::default()
            }),
            LiveEvent::ClientJoined(ClientInfo {
                client_id: "edge-1".to_owned(),
                platform: "edge".to_owned(),
                backend: "flex-cpu".to_owned(),
                device: "cpu".to_owned(),
                num_examples: 1000,
                partition: Some(0),
            }),
            LiveEvent::RoundCompleted(RoundMetrics {
                round: 1,
                test_accuracy: Some(0.9),
                bytes_up: 3 * 1048576,
                bytes_down: 1048576,
                bytes_up_uncompressed: 3 * 1048576,
                bytes_down_uncompressed: 1048576,
                clients: vec![
                    client_accuracy("edge-1", 10, 0.5),
                    client_accuracy("edge-2", 10, 0.9),
                ],
                ..RoundMetrics::default()
            }),
            LiveEvent::RoundStarted {
                round: 2,
                sampled: vec!["edge-1".to_owned()],
                available: 1,
            },
        ];
        for (i, event) in events.into_iter().enumerate() {
            view.apply(Sequenced {
                seq: i as u64 + 1,
                event,
            });
        }
        view
    }

    fn kpi(view: &RunView, id: &str) -> Kpi {
        kpis(view).into_iter().find(|k| k.id == id).unwrap()
    }

    #[test]
    fn kpis_of_running_run() {
        let view = view();
        let round = kpi(&view, "kpi-round");
        assert_eq!(round.value, "1 / 10");
        assert_eq!(round.detail, "round 2 in progress");
        assert_eq!(kpi(&view, "kpi-accuracy").value, "90.00%");
        assert_eq!(
            kpi(&view, "kpi-bytes-round").value,
            "↑\u{a0}3.00\u{a0}MiB ↓\u{a0}1.00\u{a0}MiB"
        );
        assert_eq!(kpi(&view, "kpi-bytes-total").value, "4.00 MiB");
        assert_eq!(kpi(&view, "kpi-compression").value, "1.00x");
        assert_eq!(kpi(&view, "kpi-compression").detail, "codec: off");
        assert_eq!(kpi(&view, "kpi-privacy").value, "off");
        assert_eq!(kpi(&view, "kpi-disparity").value, "50.00%");
        assert_eq!(kpi(&view, "kpi-clients").value, "1");
    }

    #[test]
    fn privacy_value_against_budget() {
        let mut view = view();
        view.rounds[0].privacy = Some(PrivacyRound {
            epsilon: 1.2345,
            delta: 1e-5,
            epsilon_budget: Some(8.0),
            noise_multiplier: 1.1,
            clip_norm: 0.5,
            sampling_rate: 0.1,
            clients_clipped: 0,
        });
        assert_eq!(privacy_value(&view), "ε = 1.23 of 8.00");
        assert_eq!(
            kpi(&view, "kpi-privacy").detail,
            "δ = 1e-5, z = 1.1, C = 0.5"
        );
        assert!(privacy_chart(&view, 1280.0).svg.contains("budget ε = 8.00"));
    }

    #[test]
    fn privacy_chart_notes_privacy_off() {
        let chart = privacy_chart(&view(), 1280.0);
        assert!(
            chart
                .svg
                .contains("differential privacy is off for this run")
        );
    }

    #[test]
    fn learning_charts_overlay_compared_run() {
        let view = view();
        let other = Compare {
            run_id: "run-b".to_owned(),
            rounds: vec![RoundMetrics {
                round: 1,
                test_accuracy: Some(0.8),
                ..RoundMetrics::default()
            }],
        };
        let charts = learning_charts(&view, Some(&other), 1280.0);
        assert_eq!(charts[0].id, "accuracy-round");
        assert!(charts[0].svg.contains("data-series=\"run-a\""));
        assert!(charts[0].svg.contains("data-series=\"run-b\""));
        assert_eq!(charts[0].svg.matches("class=\"point\"").count(), 2);
        let alone = learning_charts(&view, None, 1280.0);
        assert!(alone[0].svg.contains("data-series=\"global model\""));
    }

    #[test]
    fn sort_clients_by_any_column() {
        let clients = [
            client_accuracy("b", 30, 0.7),
            client_accuracy("a", 10, 0.9),
            client_accuracy("c", 20, 0.5),
        ];
        let ids = |rows: Vec<ClientAccuracy>| -> Vec<String> {
            rows.into_iter().map(|c| c.client_id).collect()
        };
        assert_eq!(
            ids(sort_clients(&clients, ClientColumn::Accuracy, true)),
            ["c", "b", "a"]
        );
        assert_eq!(
            ids(sort_clients(&clients, ClientColumn::Examples, false)),
            ["b", "c", "a"]
        );
        assert_eq!(
            ids(sort_clients(&clients, ClientColumn::Client, true)),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn client_rows_show_state_and_data() {
        let rows = client_rows(&view());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, "training");
        assert_eq!(rows[0].partition, "0");
        assert_eq!(rows[0].examples, 1000);
    }

    #[test]
    fn header_and_secure_aggregation_lines() {
        let view = view();
        let rows = header_rows(&view);
        assert_eq!(rows[0], ("run", "run-a".to_owned()));
        assert_eq!(rows[1], ("status", "running".to_owned()));
        assert!(secure_aggregation_summary(&view).starts_with("Secure aggregation is off"));
    }

    #[test]
    fn compression_detail_names_downlink() {
        let mut header = RunHeader {
            compression: "topk:0.01".to_owned(),
            downlink_compression: "off".to_owned(),
            ..RunHeader::default()
        };
        assert_eq!(compression_detail(Some(&header)), "codec: topk:0.01");
        header.downlink_compression = "8bit".to_owned();
        assert_eq!(
            compression_detail(Some(&header)),
            "codec: topk:0.01; downlink: 8bit"
        );
    }

    #[test]
    fn charts_are_narrower_on_a_phone() {
        let wide = privacy_chart(&view(), 1280.0);
        assert!(wide.svg.contains("viewBox=\"0 0 640 300\""));
        let narrow = privacy_chart(&view(), 390.0);
        assert!(narrow.svg.contains("viewBox=\"0 0 400 260\""));
    }
}
