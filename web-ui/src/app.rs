//! The dashboard's Leptos components. The page has one [`RunView`] signal,
//! fed either by the live event stream or, for a past run, by the runs API.
//! Every panel derives its content from that signal through
//! [`crate::model`].

use leptos::prelude::*;
use leptos::task::spawn_local;
use starling_runlog::cohort::{self, ClientAccuracy};
use starling_runlog::{RoundMetrics, RunView, units};

use crate::model::{self, ClientColumn, Compare};
use crate::page::{Listing, Query, choose_run};
use crate::{api, live};

/// Builds the whole dashboard page and starts loading the run to show.
#[component]
pub fn App() -> impl IntoView {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let query = Query::parse(&search);
    // Read once: a phone gets narrower charts for the whole visit.
    let page_width = web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|width| width.as_f64())
        .unwrap_or(1280.0);
    let run = RwSignal::new(RunView::default());
    let compare = RwSignal::new(None::<Compare>);
    let runs = RwSignal::new(Vec::<Listing>::new());
    let state = RwSignal::new("loading".to_owned());
    let error = RwSignal::new(None::<String>);
    spawn_local(load(query.clone(), run, compare, runs, state, error));

    // Charts depend on rounds and the end of the run, not on every client
    // event, so they are redrawn only when those change.
    let progress =
        Memo::new(move |_| run.with(|r| (r.rounds.len(), r.summary.is_some(), r.header.is_some())));

    view! {
        <header class="top">
            <h1>"Starling dashboard"</h1>
            <span class="badge" id="feed-state" data-state=move || state.get()>
                {move || state.get()}
            </span>
        </header>
        <p class="error" id="error" hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
        <main>
            <RunHeader run=run />
            <Kpis run=run />
            <section id="learning">
                <h2>"Accuracy and loss"</h2>
                <div class="charts">
                    {move || {
                        let _ = progress.get();
                        compare.track();
                        let charts = run.with_untracked(|r| {
                            compare.with_untracked(|c| model::learning_charts(r, c.as_ref(), page_width))
                        });
                        charts.into_iter().map(chart_view).collect_view()
                    }}
                </div>
            </section>
            <section id="bytes">
                <h2>"Communication"</h2>
                <div class="charts">
                    {move || {
                        let _ = progress.get();
                        run.with_untracked(|r| model::bytes_charts(r, page_width)).into_iter().map(chart_view).collect_view()
                    }}
                </div>
            </section>
            <section id="privacy">
                <h2>"Privacy"</h2>
                <p id="privacy-status" class="panel-note">
                    {move || run.with(|r| format!("{}: {}", model::privacy_value(r), privacy_line(r)))}
                </p>
                <div class="charts">
                    {move || {
                        let _ = progress.get();
                        chart_view(run.with_untracked(|r| model::privacy_chart(r, page_width)))
                    }}
                </div>
                <p id="secagg-status" class="panel-note">
                    {move || run.with(model::secure_aggregation_summary)}
                </p>
            </section>
            <section id="participation">
                <h2>"Participation"</h2>
                <div class="charts">
                    {move || {
                        let _ = progress.get();
                        chart_view(run.with_untracked(|r| model::participation_chart(r, page_width)))
                    }}
                </div>
                <Clients run=run />
            </section>
            <Cohorts run=run />
            <Rounds run=run />
            <PastRuns runs=runs current=run compare=compare />
        </main>
    }
}

fn privacy_line(run: &RunView) -> &'static str {
    if run.header.as_ref().is_some_and(|h| h.privacy.is_some()) {
        "differential privacy is on"
    } else {
        "differential privacy is off for this run"
    }
}

fn chart_view(chart: model::Chart) -> impl IntoView {
    view! { <figure class="chart" id=format!("figure-{}", chart.id) inner_html=chart.svg></figure> }
}

/// Loads the runs list, picks the run to show, then follows it live or
/// reads its history, and then loads the run to compare with. The compared
/// run comes last so that the charts never overlay it on a run whose
/// header, and so whose label, has not arrived.
async fn load(
    query: Query,
    run: RwSignal<RunView>,
    compare: RwSignal<Option<Compare>>,
    runs: RwSignal<Vec<Listing>>,
    state: RwSignal<String>,
    error: RwSignal<Option<String>>,
) {
    let list: Vec<Listing> = match api::get_json("/api/runs").await {
        Ok(list) => list,
        Err(err) => {
            state.set("offline".to_owned());
            error.set(Some(err));
            return;
        }
    };
    runs.set(list.clone());
    let Some(chosen) = choose_run(&query, &list).cloned() else {
        state.set("no run".to_owned());
        if let Some(id) = &query.run {
            error.set(Some(format!("run {id} not found")));
        }
        return;
    };
    if chosen.status == "running" {
        match live::follow(run, state) {
            Ok(()) => load_compare(&query, compare, error).await,
            Err(err) => {
                state.set("offline".to_owned());
                error.set(Some(err));
            }
        }
        return;
    }
    let id = &chosen.run_id;
    let detail = api::get_json::<api::Detail>(&format!("/api/runs/{id}")).await;
    let metrics = api::get_json::<Vec<RoundMetrics>>(&format!("/api/runs/{id}/metrics")).await;
    match (detail, metrics) {
        (Ok(detail), Ok(rounds)) => {
            let mut header = detail.header;
            if header.is_none() {
                header = Some(starling_runlog::RunHeader {
                    run_id: id.clone(),
                    ..Default::default()
                });
            }
            run.set(RunView::from_history(header, rounds, detail.summary));
            state.set("history".to_owned());
            load_compare(&query, compare, error).await;
        }
        (Err(err), _) | (_, Err(err)) => {
            state.set("offline".to_owned());
            error.set(Some(err));
        }
    }
}

/// Loads the rounds of the run that `?compare=` names, if any.
async fn load_compare(
    query: &Query,
    compare: RwSignal<Option<Compare>>,
    error: RwSignal<Option<String>>,
) {
    let Some(other) = &query.compare else {
        return;
    };
    match api::get_json::<Vec<RoundMetrics>>(&format!("/api/runs/{other}/metrics")).await {
        Ok(rounds) => compare.set(Some(Compare {
            run_id: other.clone(),
            rounds,
        })),
        Err(err) => error.set(Some(err)),
    }
}

#[component]
fn RunHeader(run: RwSignal<RunView>) -> impl IntoView {
    view! {
        <section id="run-header">
            <dl class="header-grid">
                {move || {
                    run.with(model::header_rows)
                        .into_iter()
                        .map(|(label, value)| {
                            view! {
                                <div class="header-item" data-field=label>
                                    <dt>{label}</dt>
                                    <dd>{value}</dd>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </dl>
        </section>
    }
}

#[component]
fn Kpis(run: RwSignal<RunView>) -> impl IntoView {
    view! {
        <section id="kpis" class="kpis">
            {move || {
                run.with(model::kpis)
                    .into_iter()
                    .map(|kpi| {
                        view! {
                            <div class="kpi" id=kpi.id>
                                <div class="kpi-label">{kpi.label}</div>
                                <div class="kpi-value">{kpi.value}</div>
                                <div class="kpi-detail">{kpi.detail}</div>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </section>
    }
}

#[component]
fn Clients(run: RwSignal<RunView>) -> impl IntoView {
    view! {
        <h3>"Clients"</h3>
        <div class="table-scroll">
            <table id="clients">
                <thead>
                    <tr>
                        <th>"client"</th>
                        <th>"state"</th>
                        <th>"platform"</th>
                        <th>"backend"</th>
                        <th>"device"</th>
                        <th class="num">"examples"</th>
                        <th class="num">"partition"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        run.with(model::client_rows)
                            .into_iter()
                            .map(|row| {
                                let id = row.client_id.clone();
                                view! {
                                    <tr data-client=id data-state=row.state>
                                        <td>{row.client_id}</td>
                                        <td>{row.state}</td>
                                        <td>{row.platform}</td>
                                        <td>{row.backend}</td>
                                        <td>{row.device}</td>
                                        <td class="num">{row.examples}</td>
                                        <td class="num">{row.partition}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
        <p class="panel-note" hidden=move || run.with(|r| !r.clients.is_empty())>
            "The client list is known only while a run is live."
        </p>
    }
}

#[component]
fn Cohorts(run: RwSignal<RunView>) -> impl IntoView {
    let evaluated = Memo::new(move |_| run.with(|r| model::last_evaluation(r).cloned()));
    let sort = RwSignal::new((ClientColumn::Accuracy, true));
    let header = move |column: ClientColumn, label: &'static str, numeric: bool| {
        view! {
            <th class:num=numeric>
                <button
                    class="sort"
                    data-column=label
                    on:click=move |_| {
                        sort.update(|(current, ascending)| {
                            if *current == column {
                                *ascending = !*ascending;
                            } else {
                                *current = column;
                                *ascending = true;
                            }
                        })
                    }
                >
                    {label}
                    {move || {
                        let (current, ascending) = sort.get();
                        if current != column {
                            ""
                        } else if ascending {
                            " ▲"
                        } else {
                            " ▼"
                        }
                    }}
                </button>
            </th>
        }
    };
    view! {
        <section id="cohorts">
            <h2>"Accuracy by cohort"</h2>
            <p class="panel-note" id="cohort-round">
                {move || match evaluated.get() {
                    Some(m) => format!("Global model after round {}.", m.round),
                    None => "No evaluated round yet.".to_owned(),
                }}
            </p>
            <div class="cohort-grid">
                <div>
                    <h3>"Per class (test split)"</h3>
                    <table id="per-class">
                        <thead>
                            <tr>
                                <th>"label"</th>
                                <th class="num">"correct"</th>
                                <th class="num">"accuracy"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                evaluated
                                    .get()
                                    .map(|m| m.per_class)
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|class| {
                                        let accuracy = class.accuracy();
                                        view! {
                                            <tr data-label=class.label>
                                                <td>{class.label}</td>
                                                <td class="num">{format!("{} / {}", class.correct, class.total)}</td>
                                                <td class="num">{accuracy.map_or("–".to_owned(), units::percent)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
                <div>
                    <h3>"Disparity across clients (training data)"</h3>
                    <dl id="disparity" class="stats">
                        {move || {
                            let clients = evaluated.get().map(|m| m.clients).unwrap_or_default();
                            match cohort::disparity(&clients) {
                                Some(d) => view! {
                                    <div><dt>"clients"</dt><dd>{d.clients}</dd></div>
                                    <div><dt>"mean"</dt><dd>{units::percent(d.mean)}</dd></div>
                                    <div><dt>"worst decile"</dt><dd id="worst-decile">{units::percent(d.worst_decile)}</dd></div>
                                    <div><dt>"std dev"</dt><dd>{format!("{:.2} points", d.std_dev * 100.0)}</dd></div>
                                    <div><dt>"worst / best"</dt><dd>{format!("{} / {}", units::percent(d.worst), units::percent(d.best))}</dd></div>
                                }
                                .into_any(),
                                None => view! { <div><dt>"clients"</dt><dd>"not evaluated"</dd></div> }.into_any(),
                            }
                        }}
                    </dl>
                    <h3>"By client size (training data)"</h3>
                    <table id="size-deciles">
                        <thead>
                            <tr>
                                <th>"decile"</th>
                                <th class="num">"examples"</th>
                                <th class="num">"clients"</th>
                                <th class="num">"accuracy"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                let clients = evaluated.get().map(|m| m.clients).unwrap_or_default();
                                cohort::size_deciles(&clients)
                                    .into_iter()
                                    .map(|d| {
                                        view! {
                                            <tr>
                                                <td>{d.decile}</td>
                                                <td class="num">{format!("{}–{}", d.min_examples, d.max_examples)}</td>
                                                <td class="num">{d.clients}</td>
                                                <td class="num">{units::percent(d.accuracy)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </tbody>
                    </table>
                    <h3>"By client group (training data)"</h3>
                    <table id="groups">
                        <thead>
                            <tr>
                                <th>"platform / backend"</th>
                                <th class="num">"clients"</th>
                                <th class="num">"accuracy"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                let clients = evaluated.get().map(|m| m.clients).unwrap_or_default();
                                cohort::by_group(&clients)
                                    .into_iter()
                                    .map(|g| {
                                        view! {
                                            <tr>
                                                <td>{g.group}</td>
                                                <td class="num">{g.clients}</td>
                                                <td class="num">{units::percent(g.accuracy)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
            </div>
            <h3>"Per client (worst served first)"</h3>
            <p class="panel-note">
                "The global model on each client's training partition, evaluated by the server; clients training on their own data are not included."
            </p>
            <div class="table-scroll">
                <table id="per-client">
                    <thead>
                        <tr>
                            {header(ClientColumn::Client, "client", false)}
                            {header(ClientColumn::Group, "group", false)}
                            {header(ClientColumn::Examples, "examples", true)}
                            {header(ClientColumn::Accuracy, "accuracy", true)}
                            {header(ClientColumn::Loss, "loss", true)}
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let (column, ascending) = sort.get();
                            let clients: Vec<ClientAccuracy> =
                                evaluated.get().map(|m| m.clients).unwrap_or_default();
                            model::sort_clients(&clients, column, ascending)
                                .into_iter()
                                .map(|c| {
                                    let group = c.group();
                                    let id = c.client_id.clone();
                                    view! {
                                        <tr data-client=id data-accuracy=c.accuracy.to_string()>
                                            <td>{c.client_id}</td>
                                            <td>{group}</td>
                                            <td class="num">{c.examples}</td>
                                            <td class="num">{units::percent(c.accuracy)}</td>
                                            <td class="num">{format!("{:.4}", c.loss)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Rounds(run: RwSignal<RunView>) -> impl IntoView {
    view! {
        <section id="round-table">
            <h2>"Rounds"</h2>
            <div class="table-scroll">
                <table id="rounds">
                    <thead>
                        <tr>
                            <th class="num">"round"</th>
                            <th class="num">"sampled"</th>
                            <th class="num">"completed"</th>
                            <th class="num">"late"</th>
                            <th class="num">"disconnected"</th>
                            <th class="num">"uplink"</th>
                            <th class="num">"downlink"</th>
                            <th class="num">"uplink uncompressed"</th>
                            <th class="num">"accuracy"</th>
                            <th class="num">"took"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            run.with(|r| r.rounds.iter().rev().cloned().collect::<Vec<_>>())
                                .into_iter()
                                .map(|m| {
                                    let disconnected = m.disconnected();
                                    view! {
                                        <tr
                                            data-round=m.round
                                            data-bytes-up=m.bytes_up
                                            data-bytes-down=m.bytes_down
                                        >
                                            <td class="num">{m.round}</td>
                                            <td class="num">{m.sampled}</td>
                                            <td class="num">{m.completed}</td>
                                            <td class="num">{m.late}</td>
                                            <td class="num">{disconnected}</td>
                                            <td class="num bytes-up">{units::bytes(m.bytes_up)}</td>
                                            <td class="num bytes-down">{units::bytes(m.bytes_down)}</td>
                                            <td class="num">{units::bytes(m.bytes_up_uncompressed)}</td>
                                            <td class="num">{m.test_accuracy.map_or("–".to_owned(), units::percent)}</td>
                                            <td class="num">{units::seconds(m.duration_s)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn PastRuns(
    runs: RwSignal<Vec<Listing>>,
    current: RwSignal<RunView>,
    compare: RwSignal<Option<Compare>>,
) -> impl IntoView {
    view! {
        <section id="past-runs">
            <h2>"Runs"</h2>
            <div class="table-scroll">
                <table id="runs">
                    <thead>
                        <tr>
                            <th>"run"</th>
                            <th>"status"</th>
                            <th class="num">"rounds"</th>
                            <th class="num">"accuracy"</th>
                            <th>"strategy"</th>
                            <th>"model"</th>
                            <th class="num">"seed"</th>
                            <th></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let shown_run_id = current.with(|r| r.header.as_ref().map(|h| h.run_id.clone()));
                            let compared_run_id = compare.with(|c| c.as_ref().map(|c| c.run_id.clone()));
                            let live = current.with(|r| {
                                r.header.as_ref().map(|h| {
                                    (h.run_id.clone(), r.status().word(), r.rounds.len(), model::last_evaluation(r).and_then(|m| m.test_accuracy))
                                })
                            });
                            runs.get()
                                .into_iter()
                                .map(|mut listing| {
                                    // The run on screen is more current than the list fetched at load.
                                    if let Some((id, status, rounds, accuracy)) = &live
                                        && *id == listing.run_id
                                    {
                                        listing.status = (*status).to_owned();
                                        listing.rounds = *rounds;
                                        listing.last_accuracy = *accuracy;
                                    }
                                    let id = listing.run_id.clone();
                                    let open = Query { run: Some(id.clone()), compare: None }.to_search();
                                    let against = shown_run_id.clone().filter(|s| *s != id).map(|s| {
                                        Query { run: Some(s), compare: Some(id.clone()) }.to_search()
                                    });
                                    let is_shown = shown_run_id.as_deref() == Some(id.as_str());
                                    let is_compared = compared_run_id.as_deref() == Some(id.as_str());
                                    view! {
                                        <tr data-run=id.clone() class:shown=is_shown class:compared=is_compared>
                                            <td><a href=format!("/dashboard/{open}")>{id.clone()}</a></td>
                                            <td>{listing.status.clone()}</td>
                                            <td class="num">{listing.rounds}</td>
                                            <td class="num">{listing.last_accuracy.map_or("–".to_owned(), units::percent)}</td>
                                            <td>{listing.strategy.clone().unwrap_or_default()}</td>
                                            <td>{listing.model.clone().unwrap_or_default()}</td>
                                            <td class="num">{listing.seed.map(|s| s.to_string()).unwrap_or_default()}</td>
                                            <td>
                                                {against.map(|search| view! {
                                                    <a class="compare" href=format!("/dashboard/{search}")>"compare"</a>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
