//! Who pairs with whom. SecAgg pairs every client with every other; SecAgg+
//! (Bell et al. 2020) pairs each client with k neighbours of a random
//! k-regular graph: a circulant graph (each client linked to the k/2 next
//! on both sides of a ring) over a random ordering of the clients, plus the
//! opposite client when k is odd. An odd k with an odd number of clients
//! has no k-regular graph; those clients get k + 1 neighbours.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Each slot's neighbours (never itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    neighbours: BTreeMap<u32, BTreeSet<u32>>,
}

impl Graph {
    /// Every slot paired with every other.
    pub fn complete(slots: &[u32]) -> Self {
        let all: BTreeSet<u32> = slots.iter().copied().collect();
        let neighbours = all
            .iter()
            .map(|&slot| {
                let mut others = all.clone();
                others.remove(&slot);
                (slot, others)
            })
            .collect();
        Self { neighbours }
    }

    /// A random graph of degree `degree` (see the module docs), drawn from
    /// `seed`; the complete graph when `degree` reaches n − 1.
    pub fn regular(slots: &[u32], degree: u32, seed: u64) -> Self {
        let n = slots.len();
        let degree = degree as usize;
        if degree + 1 >= n {
            return Self::complete(slots);
        }
        let mut order = slots.to_vec();
        order.sort_unstable();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut neighbours: BTreeMap<u32, BTreeSet<u32>> =
            slots.iter().map(|&slot| (slot, BTreeSet::new())).collect();
        let mut link = |a: u32, b: u32| {
            if a != b {
                neighbours.entry(a).or_default().insert(b);
                neighbours.entry(b).or_default().insert(a);
            }
        };
        for i in 0..n {
            for step in 1..=degree / 2 {
                link(order[i], order[(i + step) % n]);
            }
            if degree % 2 == 1 {
                link(order[i], order[(i + n.div_ceil(2)) % n]);
            }
        }
        Self { neighbours }
    }

    /// The neighbours of `slot`.
    pub fn of(&self, slot: u32) -> impl Iterator<Item = u32> + '_ {
        self.neighbours.get(&slot).into_iter().flatten().copied()
    }

    /// Whether `a` and `b` are neighbours.
    pub fn linked(&self, a: u32, b: u32) -> bool {
        self.neighbours.get(&a).is_some_and(|set| set.contains(&b))
    }

    /// Slots in the graph.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.neighbours.keys().copied()
    }

    /// Number of edges.
    pub fn edges(&self) -> usize {
        self.neighbours.values().map(BTreeSet::len).sum::<usize>() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: u32) -> Vec<u32> {
        (1..=n).collect()
    }

    #[test]
    fn regular_graphs_have_the_requested_degree() {
        for (n, k) in [(10u32, 6u32), (10, 7), (100, 14), (100, 7), (50, 12)] {
            let graph = Graph::regular(&slots(n), k, 42);
            for slot in graph.slots() {
                assert_eq!(
                    graph.of(slot).count(),
                    k as usize,
                    "n = {n}, k = {k}, slot {slot}"
                );
                for peer in graph.of(slot) {
                    assert!(graph.linked(peer, slot));
                }
            }
            assert_eq!(graph.edges(), (n * k / 2) as usize);
        }
    }

    #[test]
    fn odd_degree_with_odd_clients_rounds_up_for_some() {
        let graph = Graph::regular(&slots(11), 5, 1);
        for slot in graph.slots() {
            let degree = graph.of(slot).count();
            assert!(degree == 5 || degree == 6, "slot {slot}: {degree}");
        }
    }

    #[test]
    fn large_degree_is_the_complete_graph() {
        let graph = Graph::regular(&slots(5), 4, 3);
        assert_eq!(graph, Graph::complete(&slots(5)));
        assert_eq!(graph.edges(), 10);
    }

    #[test]
    fn seeds_change_the_graph() {
        assert_ne!(
            Graph::regular(&slots(30), 4, 1),
            Graph::regular(&slots(30), 4, 2)
        );
    }
}
