//! Accuracy by cohort (per true label, per client, per client-size decile
//! and per client group of platform and backend) and the disparity of the
//! global model's accuracy across clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Test accuracy for one true label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// The label (digit).
    pub label: u8,
    /// Test examples of this label classified correctly.
    pub correct: u64,
    /// Test examples of this label.
    pub total: u64,
}

impl ClassAccuracy {
    /// Fraction correct; `None` when the label has no examples.
    pub fn accuracy(&self) -> Option<f64> {
        (self.total > 0).then(|| self.correct as f64 / self.total as f64)
    }
}

/// The global model evaluated on one client's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientAccuracy {
    /// Client id.
    pub client_id: String,
    /// Runtime the client reported (`edge`, `browser`, `sim`).
    pub platform: String,
    /// Compute backend the client reported (`flex-cpu`, `wgpu-webgpu`).
    pub backend: String,
    /// Examples evaluated.
    pub examples: u64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy. A diverged model's NaN or infinite loss is
    /// written as JSON `null` and read back as NaN.
    #[serde(deserialize_with = "nan_when_null")]
    pub loss: f64,
}

/// Reads a number, or `null` (how serde_json writes a non-finite f64) as
/// NaN, so that one diverged round does not make a whole run unreadable.
fn nan_when_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

impl ClientAccuracy {
    /// Returns the client's group, `platform / backend`, e.g.
    /// `browser / wgpu-webgpu`.
    pub fn group(&self) -> String {
        format!("{} / {}", self.platform, self.backend)
    }
}

/// Returns a copy of `clients` sorted worst-served first, by lowest
/// accuracy, then highest loss, then client id.
pub fn worst_first(clients: &[ClientAccuracy]) -> Vec<ClientAccuracy> {
    let mut sorted = clients.to_vec();
    sorted.sort_by(|a, b| {
        a.accuracy
            .total_cmp(&b.accuracy)
            .then(b.loss.total_cmp(&a.loss))
            .then(a.client_id.cmp(&b.client_id))
    });
    sorted
}

/// Spread of the global model's accuracy across clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disparity {
    /// Clients evaluated.
    pub clients: usize,
    /// Unweighted mean of the clients' accuracies.
    pub mean: f64,
    /// Population standard deviation of the clients' accuracies.
    pub std_dev: f64,
    /// Mean accuracy of the worst-served tenth of the clients (at least one).
    pub worst_decile: f64,
    /// The lowest client accuracy.
    pub worst: f64,
    /// The highest client accuracy.
    pub best: f64,
}

/// Computes the disparity across `clients`. Returns `None` when `clients`
/// is empty.
pub fn disparity(clients: &[ClientAccuracy]) -> Option<Disparity> {
    if clients.is_empty() {
        return None;
    }
    let mut accuracies: Vec<f64> = clients.iter().map(|c| c.accuracy).collect();
    accuracies.sort_by(f64::total_cmp);
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    let variance = accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n;
    let tenth = accuracies.len().div_ceil(10);
    let worst_decile = accuracies[..tenth].iter().sum::<f64>() / tenth as f64;
    Some(Disparity {
        clients: accuracies.len(),
        mean,
        std_dev: variance.sqrt(),
        worst_decile,
        worst: accuracies[0],
        best: accuracies[accuracies.len() - 1],
    })
}

/// Accuracy of the clients in one size decile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeDecile {
    /// Decile number from 1 (smallest clients) to 10. There are fewer
    /// deciles when there are fewer than ten clients.
    pub decile: usize,
    /// Minimum example count of a client in the decile.
    pub min_examples: u64,
    /// Maximum example count of a client in the decile.
    pub max_examples: u64,
    /// Clients in the decile.
    pub clients: usize,
    /// Example-weighted accuracy over the decile's clients.
    pub accuracy: f64,
}

/// Splits clients by size (example count) into ten deciles of nearly equal
/// client count, smallest first, and computes each decile's
/// example-weighted accuracy.
pub fn size_deciles(clients: &[ClientAccuracy]) -> Vec<SizeDecile> {
    let mut sorted: Vec<&ClientAccuracy> = clients.iter().collect();
    sorted.sort_by(|a, b| {
        a.examples
            .cmp(&b.examples)
            .then(a.client_id.cmp(&b.client_id))
    });
    let bins = sorted.len().min(10);
    (0..bins)
        .map(|bin| {
            let start = bin * sorted.len() / bins;
            let end = (bin + 1) * sorted.len() / bins;
            let members = &sorted[start..end];
            SizeDecile {
                decile: bin + 1,
                min_examples: members[0].examples,
                max_examples: members[members.len() - 1].examples,
                clients: members.len(),
                accuracy: weighted_accuracy(members.iter().copied()),
            }
        })
        .collect()
}

/// Accuracy of the clients in one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupAccuracy {
    /// The group, see [`ClientAccuracy::group`].
    pub group: String,
    /// Clients in the group.
    pub clients: usize,
    /// Total examples across the group's clients.
    pub examples: u64,
    /// Example-weighted accuracy over the group's clients.
    pub accuracy: f64,
}

/// Computes the example-weighted accuracy of each client group, sorted by
/// group name.
pub fn by_group(clients: &[ClientAccuracy]) -> Vec<GroupAccuracy> {
    let mut groups: BTreeMap<String, Vec<&ClientAccuracy>> = BTreeMap::new();
    for client in clients {
        groups.entry(client.group()).or_default().push(client);
    }
    groups
        .into_iter()
        .map(|(group, members)| GroupAccuracy {
            group,
            clients: members.len(),
            examples: members.iter().map(|c| c.examples).sum(),
            accuracy: weighted_accuracy(members.iter().copied()),
        })
        .collect()
}

/// Computes the example-weighted accuracy. Falls back to the unweighted
/// mean when no client has examples, and returns 0 for no clients.
fn weighted_accuracy<'a>(clients: impl Iterator<Item = &'a ClientAccuracy> + Clone) -> f64 {
    let examples: u64 = clients.clone().map(|c| c.examples).sum();
    if examples == 0 {
        let (sum, count) = clients.fold((0.0, 0usize), |(s, n), c| (s + c.accuracy, n + 1));
        return if count == 0 { 0.0 } else { sum / count as f64 };
    }
    clients.map(|c| c.accuracy * c.examples as f64).sum::<f64>() / examples as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverged_client_loss_reads_back_as_nan() {
        let line = r#"{"client_id":"a","platform":"sim","backend":"flex-cpu","examples":3,"accuracy":0.1,"loss":null}"#;
        let read: ClientAccuracy = serde_json::from_str(line).unwrap();
        assert!(read.loss.is_nan());
        assert_eq!(read.accuracy, 0.1);
    }

    fn client(id: &str, examples: u64, accuracy: f64) -> ClientAccuracy {
        ClientAccuracy {
            client_id: id.to_owned(),
            platform: "edge".to_owned(),
            backend: "flex-cpu".to_owned(),
            examples,
            accuracy,
            loss: 1.0 - accuracy,
        }
    }

    #[test]
    fn disparity_of_four_clients() {
        let clients = [
            client("a", 10, 0.5),
            client("b", 10, 0.7),
            client("c", 10, 0.9),
            client("d", 10, 0.9),
        ];
        let d = disparity(&clients).unwrap();
        assert_eq!(d.clients, 4);
        assert!((d.mean - 0.75).abs() < 1e-12);
        // The deviations are -0.25, -0.05, 0.15 and 0.15, so the variance is
        // 0.11 / 4.
        assert!((d.std_dev - (0.11f64 / 4.0).sqrt()).abs() < 1e-12);
        // A tenth of four clients rounds up to one client, the worst at 0.5.
        assert!((d.worst_decile - 0.5).abs() < 1e-12);
        assert_eq!(d.worst, 0.5);
        assert_eq!(d.best, 0.9);
        assert_eq!(disparity(&[]), None);
    }

    #[test]
    fn worst_decile_of_twenty_clients() {
        let clients: Vec<_> = (0..20)
            .map(|i| client(&format!("c{i:02}"), 5, i as f64 / 20.0))
            .collect();
        let d = disparity(&clients).unwrap();
        // The two worst clients have accuracies 0.0 and 0.05.
        assert!((d.worst_decile - 0.025).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn worst_first_breaks_ties_by_loss_then_id() {
        let mut tied = client("b", 1, 0.5);
        tied.loss = 2.0;
        let clients = [client("c", 1, 0.9), client("a", 1, 0.5), tied];
        let order: Vec<_> = worst_first(&clients)
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
    }

    #[test]
    fn size_deciles_weight_by_examples() {
        let clients: Vec<_> = (1..=20)
            .map(|i| client(&format!("c{i:02}"), i * 10, if i <= 2 { 0.2 } else { 0.8 }))
            .collect();
        let deciles = size_deciles(&clients);
        assert_eq!(deciles.len(), 10);
        assert_eq!(deciles[0].clients, 2);
        assert_eq!(deciles[0].min_examples, 10);
        assert_eq!(deciles[0].max_examples, 20);
        assert!((deciles[0].accuracy - 0.2).abs() < 1e-12);
        assert_eq!(deciles[9].max_examples, 200);
        assert!((deciles[9].accuracy - 0.8).abs() < 1e-12);

        let few = size_deciles(&clients[..3]);
        assert_eq!(few.len(), 3);
        assert!(size_deciles(&[]).is_empty());
    }

    #[test]
    fn by_group_weights_by_examples() {
        let mut tab = client("tab", 300, 0.6);
        tab.platform = "browser".to_owned();
        tab.backend = "wgpu-webgpu".to_owned();
        let clients = [client("e1", 100, 1.0), client("e2", 300, 0.6), tab];
        let groups = by_group(&clients);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].group, "browser / wgpu-webgpu");
        assert_eq!(groups[1].group, "edge / flex-cpu");
        assert_eq!(groups[1].clients, 2);
        assert!((groups[1].accuracy - 0.7).abs() < 1e-12);
    }

    #[test]
    fn class_accuracy_of_empty_label() {
        let empty = ClassAccuracy {
            label: 3,
            correct: 0,
            total: 0,
        };
        assert_eq!(empty.accuracy(), None);
    }
}
