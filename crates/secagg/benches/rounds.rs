//! A whole secure round, timed: n clients and the server in one thread,
//! one after another, as the Flower comparison in docs/benchmarks.md runs
//! them. Each client encodes 100,000 `f32` values, then every phase runs;
//! the printed time is the sum of all client and server work.
//!
//! `cargo bench -p starling-secagg --bench rounds`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use starling_proto::SecureProtocol;
use starling_secagg::{FixedPoint, MaskingClient, MaskingServer, SecureParams};

struct Case {
    name: &'static str,
    protocol: SecureProtocol,
    neighbours: u32,
    threshold: u32,
    dropped: usize,
}

fn main() {
    let clients = 100u32;
    let len = 100_000;
    let cases = [
        Case {
            name: "sparse, 7 shares, no dropout",
            protocol: SecureProtocol::SecAggPlus,
            neighbours: 6,
            threshold: 4,
            dropped: 0,
        },
        Case {
            name: "sparse, 7 shares, 10% drop after share-keys",
            protocol: SecureProtocol::SecAggPlus,
            neighbours: 6,
            threshold: 4,
            dropped: 10,
        },
        Case {
            name: "all-to-all, 100 shares, no dropout",
            protocol: SecureProtocol::SecAgg,
            neighbours: 99,
            threshold: 51,
            dropped: 0,
        },
        Case {
            name: "all-to-all, 100 shares, 10% drop after share-keys",
            protocol: SecureProtocol::SecAgg,
            neighbours: 99,
            threshold: 51,
            dropped: 10,
        },
    ];
    println!("n = {clients}, {len} parameters, 32-bit ring, 22-bit values, one thread");
    for case in cases {
        let params = SecureParams {
            protocol: case.protocol,
            clients,
            threshold: case.threshold,
            neighbours: case.neighbours,
            ring_bits: 32,
            value_bits: 22,
            clip_range: 8.0,
            max_weight: 1,
            weighted: false,
            len,
            noise: None,
            min_survivors: 0,
        };
        let (client_time, server_time) = run(&params, case.dropped);
        println!(
            "{:<50} total {:>7.3} s  (clients {:.3} s, server {:.3} s)",
            case.name,
            (client_time + server_time).as_secs_f64(),
            client_time.as_secs_f64(),
            server_time.as_secs_f64()
        );
    }
}

fn run(params: &SecureParams, dropped: usize) -> (Duration, Duration) {
    let fixed = FixedPoint::new(params);
    let values: Vec<f32> = (0..params.len)
        .map(|i| ((i % 200) as f32 - 100.0) / 50.0)
        .collect();
    let mut client_time = Duration::ZERO;
    let mut server_time = Duration::ZERO;
    let mut server = MaskingServer::new(params.clone(), 1, 7).expect("valid parameters");
    let mut clients = BTreeMap::new();
    for slot in 1..=params.clients {
        let start = Instant::now();
        let encoded = fixed
            .encode(&values, 1, u64::from(slot))
            .expect("finite values");
        let (client, advert) =
            MaskingClient::new(&params.setup(slot, None), 1, encoded.values).expect("client");
        client_time += start.elapsed();
        let start = Instant::now();
        server.receive(slot, advert).expect("advertisement");
        server_time += start.elapsed();
        clients.insert(slot, client);
    }
    for phase in 0..3 {
        if phase == 1 {
            // Drop the last `dropped` clients after they shared their keys.
            for slot in params.clients + 1 - dropped as u32..=params.clients {
                clients.remove(&slot);
            }
        }
        let start = Instant::now();
        let requests = server.advance().expect("enough clients");
        server_time += start.elapsed();
        for (slot, request) in requests {
            let Some(client) = clients.get_mut(&slot) else {
                continue;
            };
            let start = Instant::now();
            let reply = client.on_request(request).expect("reply");
            client_time += start.elapsed();
            let start = Instant::now();
            server.receive(slot, reply).expect("accepted");
            server_time += start.elapsed();
        }
    }
    let start = Instant::now();
    let (sum, participation) = server.finish().expect("unmasked");
    let decoded = fixed.decode(&sum, params.len).expect("decoded");
    server_time += start.elapsed();
    assert_eq!(participation.survivors, params.clients as usize - dropped);
    assert_eq!(decoded.total_weight, participation.survivors as u64);
    let expected = f64::from(values[1]) * participation.survivors as f64;
    assert!((decoded.sum[1] - expected).abs() < 1e-3 * participation.survivors as f64);
    (client_time, server_time)
}
