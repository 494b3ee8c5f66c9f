//! A whole secure round, timed: n clients and the server in one thread,
//! one after another, as the Flower comparison in docs/benchmarks.md runs
//! them. Each client has an update of 100,000 `f32` values, made before
//! the clock starts, as Flower's script makes its clients' vectors. A
//! client advertises keys, shares them, and quantizes and masks the update
//! when the masked input is due. The edge and browser clients do the same,
//! and Flower's client does it in its collect-masked-vectors stage. Every
//! message goes through the wire codec both ways, because Flower's times
//! include its protobuf encoding. The printed time is the sum of all client
//! and server work, as the median of three runs.
//!
//! `cargo bench -p starling-secagg --bench rounds [-- FILTER]`, where
//! FILTER keeps the cases whose name contains it (`sparse`, `all-to-all`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use starling_proto::{
    ClientMessage, DEFAULT_MAX_MESSAGE_BYTES, SecureProtocol, SecureReply, SecureRequest,
    ServerMessage, decode_client, decode_server, encode_client, encode_server,
};
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
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_default();
    println!("n = {clients}, {len} parameters, 32-bit ring, 22-bit values, one thread");
    for case in cases.into_iter().filter(|case| case.name.contains(&filter)) {
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
        let mut runs: Vec<(Duration, Duration)> =
            (0..REPEATS).map(|_| run(&params, case.dropped)).collect();
        let totals: Vec<String> = runs
            .iter()
            .map(|(clients, server)| format!("{:.3}", (*clients + *server).as_secs_f64()))
            .collect();
        runs.sort_by_key(|(clients, server)| *clients + *server);
        let (client_time, server_time) = runs[REPEATS / 2];
        println!(
            "{:<50} median {:>7.3} s  (clients {:.3} s, server {:.3} s; runs {})",
            case.name,
            (client_time + server_time).as_secs_f64(),
            client_time.as_secs_f64(),
            server_time.as_secs_f64(),
            totals.join(", ")
        );
    }
}

/// Runs of each case; the median is reported. The first run of a process
/// also pays for growing the heap.
const REPEATS: usize = 3;

fn run(params: &SecureParams, dropped: usize) -> (Duration, Duration) {
    let fixed = FixedPoint::new(params);
    let values: Vec<f32> = (0..params.len)
        .map(|i| ((i % 200) as f32 - 100.0) / 50.0)
        .collect();
    // Each client owns a copy of its training output, as a real client does.
    let mut updates: Vec<Vec<f32>> = (0..params.clients).map(|_| values.clone()).collect();
    let mut client_time = Duration::ZERO;
    let mut server_time = Duration::ZERO;
    let mut server = MaskingServer::new(params.clone(), 1, 7).expect("valid parameters");
    let mut clients = BTreeMap::new();
    for slot in 1..=params.clients {
        let update = updates.pop().expect("one update per client");
        let start = Instant::now();
        let setup = params.setup(slot, None);
        let (client, advert) =
            MaskingClient::with_update(&setup, 1, update, fixed, 1, u64::from(slot))
                .expect("client");
        let frame = to_server(advert);
        client_time += start.elapsed();
        let start = Instant::now();
        server
            .receive(slot, from_client(&frame))
            .expect("advertisement");
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
        let requests: Vec<(u32, Vec<u8>)> = server
            .advance()
            .expect("enough clients")
            .into_iter()
            .map(|(slot, request)| (slot, to_client(request)))
            .collect();
        server_time += start.elapsed();
        for (slot, request) in requests {
            let Some(client) = clients.get_mut(&slot) else {
                continue;
            };
            let start = Instant::now();
            let reply = client.on_request(from_server(&request)).expect("reply");
            let frame = to_server(reply);
            client_time += start.elapsed();
            let start = Instant::now();
            server.receive(slot, from_client(&frame)).expect("accepted");
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

/// Encodes a client's reply as the frame it sends.
fn to_server(reply: SecureReply) -> Vec<u8> {
    encode_client(&ClientMessage::Secure(reply)).expect("encodable")
}

/// Decodes a client's frame into the reply the server receives.
fn from_client(frame: &[u8]) -> SecureReply {
    match decode_client(frame, DEFAULT_MAX_MESSAGE_BYTES).expect("decodable") {
        ClientMessage::Secure(reply) => reply,
        other => panic!("not a secure reply: {other:?}"),
    }
}

/// Encodes a server request as the frame it sends.
fn to_client(request: SecureRequest) -> Vec<u8> {
    encode_server(&ServerMessage::Secure(request)).expect("encodable")
}

/// Decodes the server's frame into the request a client receives.
fn from_server(frame: &[u8]) -> SecureRequest {
    match decode_server(frame, DEFAULT_MAX_MESSAGE_BYTES).expect("decodable") {
        ServerMessage::Secure(request) => request,
        other => panic!("not a secure request: {other:?}"),
    }
}
