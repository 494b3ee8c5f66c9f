//! The protocol's refusals: late and replayed messages, a server that asks
//! for both secrets of one client, tampered bundles, rounds that fall below
//! the threshold, and a parameter set that would wrap.

use std::collections::BTreeMap;

use starling_proto::{SecureProtocol, SecureReply, SecureRequest};
use starling_secagg::{
    ClientPhase, FixedPoint, MaskingClient, MaskingServer, Ring, SecAggError, SecureParams,
    ServerPhase, two_server,
};

fn params(clients: u32, threshold: u32) -> SecureParams {
    SecureParams {
        protocol: SecureProtocol::SecAgg,
        clients,
        threshold,
        neighbours: clients - 1,
        ring_bits: 32,
        value_bits: 16,
        clip_range: 1.0,
        max_weight: 100,
        weighted: true,
        len: 3,
        noise: None,
        min_survivors: 0,
    }
}

struct Round {
    server: MaskingServer,
    clients: BTreeMap<u32, MaskingClient>,
    replies: BTreeMap<u32, SecureReply>,
}

/// Starts a round and collects every advertisement.
fn start(params: &SecureParams, round: u32) -> Round {
    let mut server = MaskingServer::new(params.clone(), round, 1).expect("the step succeeds");
    let mut clients = BTreeMap::new();
    let mut replies = BTreeMap::new();
    for slot in 1..=params.clients {
        let input = vec![u64::from(slot); params.len + 2];
        let (client, advert) =
            MaskingClient::new(&params.setup(slot, None), round, input).expect("the step succeeds");
        server
            .receive(slot, advert.clone())
            .expect("the step succeeds");
        replies.insert(slot, advert);
        clients.insert(slot, client);
    }
    Round {
        server,
        clients,
        replies,
    }
}

impl Round {
    /// Closes the phase and lets every client answer.
    fn step(&mut self) -> BTreeMap<u32, SecureRequest> {
        let requests = self.server.advance().expect("the step succeeds");
        self.replies.clear();
        for (slot, request) in &requests {
            let reply = self
                .clients
                .get_mut(slot)
                .expect("the client answers")
                .on_request(request.clone())
                .expect("the client answers");
            self.server
                .receive(*slot, reply.clone())
                .expect("the step succeeds");
            self.replies.insert(*slot, reply);
        }
        requests
    }
}

#[test]
fn replies_from_another_round_or_phase_are_refused() {
    let p = params(4, 3);
    let mut old = start(&p, 1);
    old.step();
    let stale_share = old.replies[&1].clone();
    let mut round = start(&p, 2);
    let advert = round.replies[&1].clone();
    // A replayed advertisement, and a share bundle from round 1.
    let err = round.server.receive(1, advert).unwrap_err();
    assert!(err.to_string().contains("already replied"), "{err}");
    let err = round.server.receive(2, stale_share).unwrap_err();
    assert!(
        err.to_string().contains("for round 1 arrived in round 2"),
        "{err}"
    );
    round.step();
    // A late advertisement once the server collects shares.
    let err = round
        .server
        .receive(
            3,
            SecureReply::AdvertiseKeys {
                round: 2,
                enc_key: vec![],
                mask_key: vec![],
            },
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("while the server collects share-keys"),
        "{err}"
    );
    // A request for round 1 reaching a client in round 2.
    let err = round
        .clients
        .get_mut(&1)
        .unwrap()
        .on_request(SecureRequest::Unmask {
            round: 1,
            survivors: vec![1],
            dropped: vec![],
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("round 1 while in round 2"),
        "{err}"
    );
    round.step();
    round.step();
    let (sum, participation) = round.server.finish().unwrap();
    assert_eq!(sum, vec![10; 5]);
    assert_eq!(participation.survivors, 4);
}

#[test]
fn a_client_never_reveals_both_secrets_of_a_peer() {
    let p = params(4, 3);
    let mut round = start(&p, 1);
    round.step();
    round.step();
    let client = round.clients.get_mut(&1).unwrap();
    assert_eq!(client.phase(), ClientPhase::Masked);
    let err = client
        .on_request(SecureRequest::Unmask {
            round: 1,
            survivors: vec![1, 2, 3],
            dropped: vec![3, 4],
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("both the mask seed and the secret key of slot 3"),
        "{err}"
    );
    // Asking for a seed share of a peer it never heard of is refused too.
    let err = client
        .on_request(SecureRequest::Unmask {
            round: 1,
            survivors: vec![1, 2, 3, 4, 5],
            dropped: vec![],
        })
        .unwrap_err();
    assert!(err.to_string().contains("holds shares of"), "{err}");
    // A proper request is answered once; a second one is refused.
    let proper = SecureRequest::Unmask {
        round: 1,
        survivors: vec![1, 2, 3],
        dropped: vec![4],
    };
    client.on_request(proper.clone()).unwrap();
    let err = client.on_request(proper).unwrap_err();
    assert!(
        err.to_string().contains("unexpected unmask request"),
        "{err}"
    );
}

#[test]
fn a_tampered_bundle_is_detected() {
    let p = params(3, 2);
    let mut round = start(&p, 1);
    round.step();
    let mut requests = round.server.advance().unwrap();
    let SecureRequest::MaskedInput { shares, .. } = requests.get_mut(&2).unwrap() else {
        panic!("expected masked-input requests");
    };
    let last = shares[0].ciphertext.len() - 1;
    shares[0].ciphertext[last] ^= 1;
    let from = shares[0].from;
    let err = round
        .clients
        .get_mut(&2)
        .unwrap()
        .on_request(requests[&2].clone())
        .unwrap_err();
    assert_eq!(err, SecAggError::BadCiphertext { from, to: 2 });
}

#[test]
fn too_few_survivors_abort_without_unmasking() {
    // Five clients, threshold 3: three drop before sending masked input.
    let p = params(5, 3);
    let mut round = start(&p, 1);
    round.step();
    let requests = round.server.advance().unwrap();
    for slot in [1, 2] {
        let reply = round
            .clients
            .get_mut(&slot)
            .unwrap()
            .on_request(requests[&slot].clone())
            .unwrap();
        round.server.receive(slot, reply).unwrap();
    }
    let err = round.server.advance().unwrap_err();
    assert_eq!(
        err,
        SecAggError::BelowThreshold {
            phase: "masked-input",
            have: 2,
            need: 3
        }
    );
    assert_eq!(round.server.phase(), ServerPhase::Done);
    assert!(round.server.finish().is_err());
}

#[test]
fn too_few_reveals_abort_before_any_mask_is_removed() {
    let p = params(5, 3);
    let mut round = start(&p, 1);
    round.step();
    round.step();
    let requests = round.server.advance().unwrap();
    for slot in [1, 2] {
        let reply = round
            .clients
            .get_mut(&slot)
            .unwrap()
            .on_request(requests[&slot].clone())
            .unwrap();
        round.server.receive(slot, reply).unwrap();
    }
    let err = round.server.finish().unwrap_err();
    assert!(matches!(
        err,
        SecAggError::BelowThreshold {
            phase: "unmask",
            have: 2,
            need: 3
        }
    ));
}

#[test]
fn a_wrapping_ring_is_refused_before_the_round() {
    let mut p = params(10, 6);
    p.value_bits = 13;
    p.max_weight = (1 << 17) - 1;
    p.ring_bits = 32;
    let err = MaskingServer::new(p, 1, 0).unwrap_err();
    assert!(err.to_string().contains("need 34 bits"), "{err}");
}

#[test]
fn a_masked_vector_reveals_nothing_obvious_and_the_mean_decodes() {
    let p = params(3, 2);
    let fixed = FixedPoint::new(&p);
    let ring = Ring::new(p.ring_bits).unwrap();
    let values = [[0.25f32, -0.5, 1.0], [0.5, 0.5, -1.0], [-0.75, 0.0, 0.5]];
    let mut server = MaskingServer::new(p.clone(), 1, 1).unwrap();
    let mut clients = BTreeMap::new();
    for slot in 1..=3u32 {
        let encoded = fixed
            .encode(&values[slot as usize - 1], 1, u64::from(slot))
            .unwrap();
        let (client, advert) = MaskingClient::new(&p.setup(slot, None), 1, encoded.values).unwrap();
        server.receive(slot, advert).unwrap();
        clients.insert(slot, client);
    }
    for _ in 0..3 {
        for (slot, request) in server.advance().unwrap() {
            let reply = clients.get_mut(&slot).unwrap().on_request(request).unwrap();
            if let SecureReply::MaskedInput { masked, .. } = &reply {
                let unpacked = ring.unpack(masked, 5).unwrap();
                // The weight element of a plain input is 1; masked it is not.
                assert_ne!(unpacked[3], 1);
            }
            server.receive(slot, reply).unwrap();
        }
    }
    let (sum, _) = server.finish().unwrap();
    let decoded = fixed.decode(&sum, 3).unwrap();
    assert_eq!(decoded.total_weight, 3);
    let step = fixed.step();
    for (i, expected) in [0.0, 0.0, 0.5].iter().enumerate() {
        assert!(
            (decoded.sum[i] - expected).abs() <= 3.0 * step,
            "{i}: {}",
            decoded.sum[i]
        );
    }
}

#[test]
fn deferred_quantizing_matches_upfront_encoding() {
    // Clients that keep their update quantize it at the masked-input phase.
    // The unmasked sum must equal, bit for bit, the sum of the same updates
    // encoded up front with the same weights and seeds.
    let p = params(3, 2);
    let fixed = FixedPoint::new(&p);
    let ring = Ring::new(p.ring_bits).unwrap();
    let values = [[0.25f32, -0.5, 1.0], [2.0, 0.5, -1.0], [-0.75, 0.1, -3.0]];
    let mut server = MaskingServer::new(p.clone(), 1, 1).unwrap();
    let mut clients = BTreeMap::new();
    let mut expected = vec![0u64; p.len + 2];
    for slot in 1..=3u32 {
        let update = values[slot as usize - 1].to_vec();
        let (weight, seed) = (u64::from(slot) * 10, u64::from(slot) + 40);
        let encoded = fixed.encode(&update, weight, seed).unwrap();
        ring.add_assign(&mut expected, &encoded.values);
        let (client, advert) =
            MaskingClient::with_update(&p.setup(slot, None), 1, update, fixed, weight, seed)
                .unwrap();
        assert_eq!(client.clipped(), None);
        server.receive(slot, advert).unwrap();
        clients.insert(slot, client);
    }
    for _ in 0..3 {
        for (slot, request) in server.advance().unwrap() {
            let reply = clients.get_mut(&slot).unwrap().on_request(request).unwrap();
            server.receive(slot, reply).unwrap();
        }
    }
    let (sum, _) = server.finish().unwrap();
    assert_eq!(sum, expected);
    // One value of client 2 and one of client 3 lie outside [-1, 1].
    let clipped: Vec<Option<u64>> = clients.values().map(MaskingClient::clipped).collect();
    assert_eq!(clipped, [Some(0), Some(1), Some(1)]);
    assert_eq!(fixed.decode(&sum, 3).unwrap().clipped, 2);

    let err = MaskingClient::with_update(&p.setup(1, None), 1, vec![0.0, f32::NAN], fixed, 1, 0)
        .unwrap_err();
    assert!(
        matches!(err, SecAggError::NonFinite { index: 1, .. }),
        "{err}"
    );
}

#[test]
fn two_server_sum_survives_dropouts() {
    let ring = Ring::new(20).unwrap();
    let mut mask_server = two_server::MaskServer::new(2).unwrap();
    let key = mask_server.public_key().to_vec();
    let mut aggregate = vec![0u64; 2];
    let mut sealed = Vec::new();
    // Four clients split their inputs; client 4 drops before its share
    // reaches the aggregator, so neither server counts it.
    for slot in 1..=4u32 {
        let mut share = ring.pack(&[u64::from(slot), 100 * u64::from(slot)]);
        let seed = two_server::split(ring, &mut share, &key, 7, slot).unwrap();
        if slot == 4 {
            continue;
        }
        ring.add_packed(&mut aggregate, &share).unwrap();
        sealed.push((slot, seed));
    }
    let masks = mask_server.mask_sum("run", 7, ring, 2, &sealed).unwrap();
    ring.add_assign(&mut aggregate, &masks);
    assert_eq!(aggregate, vec![6, 600]);
}

#[test]
fn a_round_below_the_survivor_floor_is_not_unmasked() {
    // Threshold 3 of 5, but the round unmasks only with 4 inputs or more.
    let mut p = params(5, 3);
    p.min_survivors = 4;
    let mut round = start(&p, 1);
    round.step();
    let requests = round.server.advance().unwrap();
    for slot in [1, 2, 3] {
        let reply = round
            .clients
            .get_mut(&slot)
            .unwrap()
            .on_request(requests[&slot].clone())
            .unwrap();
        round.server.receive(slot, reply).unwrap();
    }
    let err = round.server.advance().unwrap_err();
    assert_eq!(
        err,
        SecAggError::BelowThreshold {
            phase: "masked-input",
            have: 3,
            need: 4
        }
    );
}
