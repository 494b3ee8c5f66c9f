//! The live feed of a run. Every [`LiveEvent`] is numbered, stored in memory
//! and broadcast. A subscriber gets the events after a sequence number it
//! names and then the new ones. Both are taken under one lock, so no event
//! falls between the history and the live part. A subscriber that falls
//! behind is cut off and resumes from its last number, again without gaps.

use std::sync::{Arc, Mutex, MutexGuard};

use starling_runlog::{LiveEvent, Sequenced};
use tokio::sync::broadcast;

/// Maximum live events queued per subscriber before it counts as lagging.
const LIVE_QUEUE: usize = 1024;

/// Numbered events of one run. Clones share the history, so cloning is
/// cheap.
#[derive(Clone, Debug)]
pub struct Feed {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    history: Mutex<Vec<Arc<Sequenced>>>,
    live: broadcast::Sender<Arc<Sequenced>>,
}

/// Result of [`Feed::subscribe`]: the events a subscriber missed and a
/// receiver for the ones still to come.
#[derive(Debug)]
pub struct Subscription {
    /// Events after the requested sequence number, in order.
    pub missed: Vec<Arc<Sequenced>>,
    /// Events published after `missed` was taken.
    pub live: broadcast::Receiver<Arc<Sequenced>>,
    /// True when the run has already ended, i.e. the last event in the
    /// history is `Finished` and nothing more will come.
    pub ended: bool,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

impl Feed {
    /// Creates an empty feed.
    pub fn new() -> Self {
        let (live, _) = broadcast::channel(LIVE_QUEUE);
        Self {
            inner: Arc::new(Inner {
                history: Mutex::new(Vec::new()),
                live,
            }),
        }
    }

    fn history(&self) -> MutexGuard<'_, Vec<Arc<Sequenced>>> {
        // The lock guards only a Vec push, which a panic cannot leave
        // half-written, so a poisoned lock is safe to reuse.
        self.inner
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Numbers, stores and broadcasts `event`, and returns its sequence
    /// number.
    pub fn publish(&self, event: LiveEvent) -> u64 {
        let mut history = self.history();
        let seq = history.len() as u64 + 1;
        let item = Arc::new(Sequenced { seq, event });
        history.push(Arc::clone(&item));
        // A send error only means that no subscriber is connected.
        let _ = self.inner.live.send(item);
        seq
    }

    /// Returns the events after `after` (0 for all) and a receiver for the
    /// live ones from then on.
    pub fn subscribe(&self, after: u64) -> Subscription {
        let history = self.history();
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(history.len());
        let missed = history[start..].to_vec();
        let ended = history
            .last()
            .is_some_and(|last| matches!(last.event, LiveEvent::Finished(_)));
        Subscription {
            missed,
            live: self.inner.live.subscribe(),
            ended,
        }
    }

    /// Returns the number of events published so far.
    pub fn len(&self) -> u64 {
        self.history().len() as u64
    }

    /// Returns true before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(id: &str) -> LiveEvent {
        LiveEvent::ClientLeft {
            client_id: id.to_owned(),
        }
    }

    #[tokio::test]
    async fn subscribe_returns_history_then_live() {
        let feed = Feed::new();
        feed.publish(left("a"));
        feed.publish(left("b"));
        let mut sub = feed.subscribe(1);
        assert_eq!(sub.missed.len(), 1);
        assert_eq!(sub.missed[0].seq, 2);
        assert!(!sub.ended);
        assert_eq!(feed.publish(left("c")), 3);
        assert_eq!(sub.live.recv().await.unwrap().seq, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lagging_subscriber_resumes_without_gaps() {
        let feed = Feed::new();
        let writer = {
            let feed = feed.clone();
            tokio::spawn(async move {
                for i in 0..5000 {
                    feed.publish(left(&i.to_string()));
                    if i % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        let mut seen: Vec<u64> = Vec::new();
        let mut sub = feed.subscribe(0);
        let mut resumed = 0;
        loop {
            seen.extend(sub.missed.drain(..).map(|item| item.seq));
            match sub.live.try_recv() {
                Ok(item) => seen.push(item.seq),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    resumed += 1;
                    sub = feed.subscribe(seen.last().copied().unwrap_or(0));
                }
                Err(_) if writer.is_finished() && seen.len() == 5000 => break,
                Err(_) => tokio::task::yield_now().await,
            }
        }
        let expected: Vec<u64> = (1..=5000).collect();
        assert_eq!(seen, expected, "resumed {resumed} times");
    }

    #[test]
    fn subscribe_past_end_misses_nothing() {
        let feed = Feed::new();
        feed.publish(left("a"));
        assert!(feed.subscribe(99).missed.is_empty());
        assert_eq!(feed.len(), 1);
    }
}
