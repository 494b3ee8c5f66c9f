//! How the dashboard is addressed: `/dashboard/` follows the run the server
//! executes (or shows the newest run when none is running),
//! `?run=<id>` opens a given run and `?compare=<id>` overlays another
//! run's curves on the same axes.

use serde::Deserialize;

/// A run as `/api/runs` lists it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Listing {
    /// Run id.
    pub run_id: String,
    /// `running`, `finished`, `stopped`, `failed` or `incomplete`.
    pub status: String,
    /// Why it ended.
    pub reason: Option<String>,
    /// Rounds recorded.
    pub rounds: usize,
    /// Last test accuracy.
    pub last_accuracy: Option<f64>,
    /// Strategy.
    pub strategy: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Seed.
    pub seed: Option<u64>,
}

/// The page's query: which run to show and which to compare with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `?run=`: the run to show.
    pub run: Option<String>,
    /// `?compare=`: the run whose curves are overlaid.
    pub compare: Option<String>,
}

impl Query {
    /// Reads `?run=` and `?compare=` from a URL query string (with or
    /// without its leading `?`), ignoring empty values. Values are taken as
    /// they are: run ids never need percent-encoding.
    pub fn parse(search: &str) -> Self {
        let mut query = Self::default();
        for pair in search.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() {
                continue;
            }
            match key {
                "run" => query.run = Some(value.to_owned()),
                "compare" => query.compare = Some(value.to_owned()),
                _ => {}
            }
        }
        query
    }

    /// The query string for this query, `?run=a&compare=b`, or empty.
    pub fn to_search(&self) -> String {
        let mut parts = Vec::new();
        if let Some(run) = &self.run {
            parts.push(format!("run={run}"));
        }
        if let Some(compare) = &self.compare {
            parts.push(format!("compare={compare}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// What to show given the runs list: the run asked for, else the running
/// one, else the newest. `None` when there is no run at all.
pub fn choose_run<'a>(query: &Query, runs: &'a [Listing]) -> Option<&'a Listing> {
    if let Some(wanted) = &query.run {
        return runs.iter().find(|run| &run.run_id == wanted);
    }
    runs.iter()
        .find(|run| run.status == "running")
        .or_else(|| runs.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(id: &str, status: &str) -> Listing {
        Listing {
            run_id: id.to_owned(),
            status: status.to_owned(),
            reason: None,
            rounds: 0,
            last_accuracy: None,
            strategy: None,
            model: None,
            seed: None,
        }
    }

    #[test]
    fn queries_round_trip() {
        let query = Query::parse("?run=a-1&compare=b.2&x=3");
        assert_eq!(query.run.as_deref(), Some("a-1"));
        assert_eq!(query.compare.as_deref(), Some("b.2"));
        assert_eq!(query.to_search(), "?run=a-1&compare=b.2");
        assert_eq!(Query::parse(""), Query::default());
        assert_eq!(Query::parse("?run=&compare").to_search(), "");
    }

    #[test]
    fn the_running_run_is_shown_by_default() {
        let runs = [
            listing("c", "finished"),
            listing("b", "running"),
            listing("a", "failed"),
        ];
        assert_eq!(choose_run(&Query::default(), &runs).unwrap().run_id, "b");
        let asked = Query::parse("?run=a");
        assert_eq!(choose_run(&asked, &runs).unwrap().run_id, "a");
        assert!(choose_run(&Query::parse("?run=zz"), &runs).is_none());
        let ended = [listing("c", "finished"), listing("a", "failed")];
        assert_eq!(choose_run(&Query::default(), &ended).unwrap().run_id, "c");
        assert!(choose_run(&Query::default(), &[]).is_none());
    }
}
