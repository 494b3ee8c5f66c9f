//! SecAgg and SecAgg+ end to end in one process: n clients and a server
//! exchange every phase's messages, a share of the clients drops at a
//! chosen phase, and the unmasked sum must equal the plaintext sum of the
//! survivors' inputs bit for bit, or the round must abort cleanly when a
//! secret has fewer than threshold shares left.

use std::collections::{BTreeMap, BTreeSet};

use starling_proto::SecureProtocol;
use starling_secagg::{
    Graph, MaskingClient, MaskingServer, Ring, SecAggError, SecureParams, default_threshold,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum DropAt {
    /// After advertising keys, before sharing them.
    Advertised,
    /// After sharing keys, before sending the masked input.
    Shared,
    /// After sending the masked input, before unmasking.
    Masked,
}

fn params(protocol: SecureProtocol, clients: u32, len: usize) -> SecureParams {
    let neighbours = match protocol {
        SecureProtocol::SecAggPlus => starling_secagg::default_neighbours(clients),
        _ => clients - 1,
    };
    let shares = (neighbours + 1).min(clients);
    SecureParams {
        protocol,
        clients,
        threshold: default_threshold(shares),
        neighbours,
        ring_bits: 32,
        value_bits: 16,
        clip_range: 1.0,
        max_weight: 1 << 8,
        weighted: true,
        len,
        noise: None,
        min_survivors: 0,
    }
}

/// A deterministic input per slot covering the whole value range.
fn input(slot: u32, len: usize, ring: Ring) -> Vec<u64> {
    (0..len + 2)
        .map(|i| {
            (u64::from(slot) * 0x9e37_79b9 + i as u64 * 0x85eb_ca6b).wrapping_mul(0x2545_f491)
                & ring.mask()
        })
        .collect()
}

/// Which slots drop: every k-th from a slot that depends on the seed.
fn dropped(clients: u32, fraction: f64, seed: u32) -> BTreeSet<u32> {
    let count = (f64::from(clients) * fraction).round() as u32;
    (0..count)
        .map(|i| (seed + i * 7919) % clients + 1)
        .scan(BTreeSet::new(), |seen, mut slot| {
            while seen.contains(&slot) {
                slot = slot % clients + 1;
            }
            seen.insert(slot);
            Some(slot)
        })
        .collect()
}

/// Runs one round; returns the sum, or the error that aborted it.
fn run(
    params: &SecureParams,
    drop_at: DropAt,
    gone: &BTreeSet<u32>,
) -> (Result<Vec<u64>, SecAggError>, BTreeSet<u32>) {
    let ring = Ring::new(params.ring_bits).expect("the step succeeds");
    let round = 4;
    let mut server = MaskingServer::new(params.clone(), round, 99).expect("the step succeeds");
    let mut clients = BTreeMap::new();
    for slot in 1..=params.clients {
        let setup = params.setup(slot, None);
        let (client, advert) = MaskingClient::new(&setup, round, input(slot, params.len, ring))
            .expect("the step succeeds");
        server.receive(slot, advert).expect("the step succeeds");
        clients.insert(slot, client);
    }
    let mut contributed: BTreeSet<u32> = clients.keys().copied().collect();
    let phases = [DropAt::Advertised, DropAt::Shared, DropAt::Masked];
    for phase in phases {
        if phase == drop_at {
            for slot in gone {
                clients.remove(slot);
            }
        }
        let requests = match server.advance() {
            Ok(requests) => requests,
            Err(err) => return (Err(err), contributed),
        };
        for (slot, request) in requests {
            let Some(client) = clients.get_mut(&slot) else {
                continue;
            };
            match client.on_request(request) {
                Ok(reply) => server.receive(slot, reply).expect("the step succeeds"),
                // A client with too few neighbours left stops, as a
                // real one would; it counts as a dropout.
                Err(SecAggError::BelowThreshold { .. }) => {
                    clients.remove(&slot);
                }
                Err(err) => panic!("slot {slot}: {err}"),
            }
        }
        if phase == DropAt::Shared {
            contributed = clients.keys().copied().collect();
        }
    }
    (server.finish().map(|(sum, _)| sum), contributed)
}

fn plain_sum(slots: &BTreeSet<u32>, len: usize, ring: Ring) -> Vec<u64> {
    let mut sum = vec![0u64; len + 2];
    for &slot in slots {
        ring.add_assign(&mut sum, &input(slot, len, ring));
    }
    sum
}

fn check(protocol: SecureProtocol, clients: u32, len: usize) {
    check_with(params(protocol, clients, len));
}

fn check_with(params: SecureParams) {
    let (protocol, clients, len) = (params.protocol, params.clients, params.len);
    let ring = Ring::new(params.ring_bits).expect("the step succeeds");
    let mut aborted = 0;
    let cases = [DropAt::Advertised, DropAt::Shared, DropAt::Masked]
        .into_iter()
        .flat_map(|at| [0.1, 0.2, 0.3].map(|fraction| (at, fraction)))
        .chain([(DropAt::Masked, 0.0)]);
    {
        for (drop_at, fraction) in cases {
            let gone = dropped(clients, fraction, clients / 3);
            let (result, contributed) = run(&params, drop_at, &gone);
            match result {
                Ok(sum) => assert_eq!(
                    sum,
                    plain_sum(&contributed, len, ring),
                    "{protocol} n = {clients}, len = {len}, {drop_at:?}, {fraction}"
                ),
                Err(SecAggError::BelowThreshold { .. }) => {
                    assert!(
                        short_neighbourhood(&params, drop_at, &gone),
                        "{protocol} n = {clients}, {drop_at:?}, {fraction}: aborted although \
                         every neighbourhood kept the threshold"
                    );
                    aborted += 1;
                }
                Err(err) => panic!("{protocol} n = {clients}, {drop_at:?}, {fraction}: {err}"),
            }
        }
    }
    assert!(
        aborted < 10,
        "{protocol} n = {clients}: every round aborted"
    );
    if protocol == SecureProtocol::SecAgg {
        assert_eq!(
            aborted, 0,
            "SecAgg with a majority threshold never aborts here"
        );
    }
}

/// Whether the drop leaves some secret with fewer than threshold holders:
/// a remaining client whose closed neighbourhood kept fewer than t
/// members, or a client dropped after sharing keys whose remaining
/// neighbours are fewer than t. Only then may a round abort.
fn short_neighbourhood(params: &SecureParams, drop_at: DropAt, gone: &BTreeSet<u32>) -> bool {
    let slots: Vec<u32> = (1..=params.clients).collect();
    let graph = match params.protocol {
        SecureProtocol::SecAggPlus => Graph::regular(&slots, params.neighbours, 99),
        _ => Graph::complete(&slots),
    };
    let t = params.threshold as usize;
    let remaining = |slot: &u32| !gone.contains(slot);
    let short_client = slots
        .iter()
        .filter(|s| remaining(s))
        .any(|&slot| graph.of(slot).filter(|p| remaining(p)).count() + 1 < t);
    let short_dropped = drop_at == DropAt::Shared
        && gone
            .iter()
            .any(|&slot| graph.of(slot).filter(|p| remaining(p)).count() < t);
    short_client || short_dropped
}

#[test]
fn secagg_ten_clients() {
    check(SecureProtocol::SecAgg, 10, 1);
    check(SecureProtocol::SecAgg, 10, 10_000);
}

#[test]
fn secagg_fifty_clients() {
    check(SecureProtocol::SecAgg, 50, 1);
    check(SecureProtocol::SecAgg, 50, 10_000);
}

#[test]
fn secagg_hundred_clients() {
    check(SecureProtocol::SecAgg, 100, 1);
    check(SecureProtocol::SecAgg, 100, 10_000);
}

#[test]
fn secagg_plus_sparse_graphs() {
    for clients in [10, 50, 100] {
        check(SecureProtocol::SecAggPlus, clients, 1);
        check(SecureProtocol::SecAggPlus, clients, 10_000);
    }
}

#[test]
fn even_share_counts_per_client() {
    // Seven neighbours plus the client itself: eight shares each.
    for clients in [10, 50] {
        let mut p = params(SecureProtocol::SecAggPlus, clients, 100);
        p.neighbours = 7;
        p.threshold = 5;
        check_with(p);
    }
    // All-to-all with an even number of clients.
    let mut p = params(SecureProtocol::SecAgg, 12, 100);
    p.threshold = 7;
    check_with(p);
}
