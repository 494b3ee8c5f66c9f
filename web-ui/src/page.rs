//! Dashboard URLs. `/dashboard/` follows the run that the server executes,
//! or shows the newest run when none is running. `?run=<id>` opens a given
//! run and `?compare=<id>` overlays another run's curves on the same axes.

pub use starling_runlog::RunListing as Listing;

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
    /// they are, without percent-decoding, because the runs API accepts only
    /// run ids of letters, digits, '-', '_' and '.'.
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

    /// Formats the query as a query string, `?run=a&compare=b`, or an empty
    /// string when neither is set.
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

/// Chooses the run to show from the runs list (newest first): the requested
/// run, else the running one, else the newest. Returns `None` when the
/// requested run is not in the list or the list is empty.
pub fn choose_run<'a>(query: &Query, runs: &'a [Listing]) -> Option<&'a Listing> {
    if let Some(requested) = &query.run {
        return runs.iter().find(|run| &run.run_id == requested);
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
    fn choose_run_defaults_to_running_run() {
        let runs = [
            listing("c", "finished"),
            listing("b", "running"),
            listing("a", "failed"),
        ];
        assert_eq!(choose_run(&Query::default(), &runs).unwrap().run_id, "b");
        let requested = Query::parse("?run=a");
        assert_eq!(choose_run(&requested, &runs).unwrap().run_id, "a");
        assert!(choose_run(&Query::parse("?run=zz"), &runs).is_none());
        let ended = [listing("c", "finished"), listing("a", "failed")];
        assert_eq!(choose_run(&Query::default(), &ended).unwrap().run_id, "c");
        assert!(choose_run(&Query::default(), &[]).is_none());
    }
}
