//! DP-FedAvg on the server (McMahan et al. 2018): Poisson sampling of the
//! population, clipping every accepted update again, Gaussian noise on the
//! sum, division by the expected cohort, the RDP accountant, adaptive
//! clipping, and the budget that stops the run.
//!
//! Sampling and noise draw from the operating system's randomness, never
//! from the run seed: noise that anyone can regenerate from `config.toml`
//! protects nothing, and the amplification by sampling assumes that the
//! cohort is secret. Runs with privacy are therefore not bit-reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use starling_privacy::{AdaptiveClipping, PrivacyError, RdpAccountant, SkellamNoise};
use starling_proto::{Clipping, FinishReason};
use starling_runlog::{PrivacyRound, RunHeader};

use crate::config::{ConfigError, PrivacyConfig, RunConfig};

/// The privacy state of a run.
#[derive(Debug)]
pub struct Privacy {
    config: PrivacyConfig,
    /// z of the whole round, as the accountant counts it.
    noise_multiplier: f64,
    /// z left for the update sum once adaptive clipping's count has its
    /// share; equal to `noise_multiplier` without adaptive clipping.
    update_multiplier: f64,
    /// σ_b of the noise on the unclipped count; 0 without adaptive
    /// clipping.
    count_stddev: f64,
    population: usize,
    accountant: RdpAccountant,
    clip_norm: f64,
    adaptive: Option<AdaptiveClipping>,
    rng: StdRng,
    /// With secure aggregation the clients add Skellam noise themselves,
    /// and the accountant counts the Skellam mechanism.
    distributed: bool,
    /// Values in the model, which set the rounding bound of distributed
    /// noise.
    model_len: usize,
}

/// The outcome of the noised aggregation of one round.
#[derive(Debug)]
pub struct NoisedMean {
    /// (sum of clipped updates + noise) / (q * N).
    pub mean: Vec<f32>,
    /// Accepted updates the server had to scale down to C, because the
    /// client did not clip (or compression moved it above C).
    pub server_clipped: usize,
}

impl Privacy {
    /// Builds the state for `config`; `None` when the run has no
    /// `[privacy]` table. Calibrates z when a target ε is set.
    pub fn new(config: &RunConfig) -> Result<Option<Self>, ConfigError> {
        let Some(privacy) = &config.privacy else {
            return Ok(None);
        };
        let invalid =
            |field: &'static str, value: String, err: PrivacyError| ConfigError::Invalid {
                field,
                value,
                reason: err.to_string(),
            };
        let population = privacy.population.unwrap_or(0) as usize;
        let noise_multiplier = match (privacy.noise_multiplier, privacy.target_epsilon) {
            (Some(z), _) => z,
            (None, Some(target)) => starling_privacy::calibrate_noise_multiplier(
                target,
                privacy.delta,
                privacy.sampling_rate,
                u64::from(config.rounds),
            )
            .map_err(|err| invalid("privacy.target_epsilon", target.to_string(), err))?,
            (None, None) => {
                return Err(ConfigError::Invalid {
                    field: "privacy.noise_multiplier",
                    value: "unset".to_owned(),
                    reason: "set noise_multiplier or target_epsilon".to_owned(),
                });
            }
        };
        let expected = privacy.sampling_rate * population as f64;
        let (adaptive, count_stddev, update_multiplier) = match privacy.target_quantile {
            Some(quantile) => {
                let count_stddev = privacy.count_stddev.unwrap_or(expected / 20.0);
                let update_multiplier =
                    starling_privacy::update_noise_multiplier(noise_multiplier, count_stddev)
                        .map_err(|err| {
                            invalid("privacy.count_stddev", count_stddev.to_string(), err)
                        })?;
                let adaptive =
                    AdaptiveClipping::new(privacy.clip_norm, quantile, privacy.clip_learning_rate)
                        .map_err(|err| {
                            invalid("privacy.target_quantile", quantile.to_string(), err)
                        })?;
                (Some(adaptive), count_stddev, update_multiplier)
            }
            None => (None, 0.0, noise_multiplier),
        };
        Ok(Some(Self {
            config: privacy.clone(),
            noise_multiplier,
            update_multiplier,
            count_stddev,
            population,
            accountant: RdpAccountant::new(),
            clip_norm: privacy.clip_norm,
            adaptive,
            rng: StdRng::from_os_rng(),
            distributed: matches!(config.secure_protocol(), Ok(Some(_))),
            model_len: 0,
        }))
    }

    /// Sets the model size, which distributed noise needs.
    pub fn with_model_len(mut self, len: usize) -> Self {
        self.model_len = len;
        self
    }

    /// The expected cohort q·N that DP-FedAvg divides by.
    pub fn expected_clients(&self) -> f64 {
        self.config.sampling_rate * self.population as f64
    }

    /// The Skellam noise of a secure round whose sum covers at least
    /// `min_clients` clients: together they add noise of standard deviation
    /// z·Δ2, and every further client adds more.
    pub fn skellam(&self, min_clients: usize) -> Result<SkellamNoise, PrivacyError> {
        SkellamNoise::for_round(
            self.clip_norm,
            self.noise_multiplier,
            min_clients,
            self.model_len,
        )
    }

    /// Records one step of this run's mechanism in `accountant`: the
    /// subsampled Gaussian, or with distributed noise the Skellam mechanism
    /// with total noise `mu` (the least a round can add when `None`).
    fn record(&self, accountant: &mut RdpAccountant, mu: Option<f64>) -> Result<(), PrivacyError> {
        if !self.distributed {
            return accountant.record_step(self.config.sampling_rate, self.noise_multiplier);
        }
        let noise = self.skellam(1)?;
        let mu = mu.unwrap_or(noise.lambda);
        accountant.record_skellam(mu, noise.l2_bound, noise.l1_bound(self.model_len))
    }

    /// Counts a secure round with distributed noise: `survivors` clients
    /// each added Sk(λ, λ). A round that released nothing (refused or
    /// aborted) is counted too, at the least noise a round can have, which
    /// only overstates ε.
    pub fn finish_secure_round(
        &mut self,
        noise: Option<&SkellamNoise>,
        survivors: usize,
    ) -> Result<PrivacyRound, PrivacyError> {
        let mu = noise.map(|noise| noise.lambda * survivors as f64);
        let mut accountant = self.accountant.clone();
        self.record(&mut accountant, mu)?;
        self.accountant = accountant;
        let spent = self.accountant.epsilon(self.config.delta)?;
        Ok(PrivacyRound {
            epsilon: spent.epsilon,
            delta: self.config.delta,
            epsilon_budget: self.config.epsilon_budget,
            noise_multiplier: self.noise_multiplier,
            clip_norm: self.clip_norm,
            sampling_rate: self.config.sampling_rate,
            clients_clipped: 0,
        })
    }

    /// Returns the noise multiplier z the accountant counts per round.
    pub fn noise_multiplier(&self) -> f64 {
        self.noise_multiplier
    }

    /// Returns the clipping that clients apply in the next round.
    pub fn clipping(&self) -> Clipping {
        Clipping {
            norm: self.clip_norm,
            per_layer: self.config.per_layer,
        }
    }

    /// Picks each of `known` clients independently with probability q.
    /// An empty cohort is a valid outcome: the round still adds noise and
    /// still counts.
    pub fn sample(&mut self, known: &[String]) -> Vec<String> {
        let rate = self.config.sampling_rate;
        known
            .iter()
            .filter(|_| self.rng.random_bool(rate))
            .cloned()
            .collect()
    }

    /// Fails with the finish reason when one more round would take ε above
    /// the budget.
    pub fn check_budget(&self) -> Result<(), FinishReason> {
        let Some(budget) = self.config.epsilon_budget else {
            return Ok(());
        };
        let mut next = self.accountant.clone();
        let spent_next = self
            .record(&mut next, None)
            .and_then(|()| next.epsilon(self.config.delta))
            .map_err(|err| FinishReason::Failed(format!("privacy accounting failed: {err}")))?;
        if spent_next.epsilon > budget {
            let epsilon = self.spent().map_or(0.0, |spent| spent.epsilon);
            return Err(FinishReason::PrivacyBudget { epsilon, budget });
        }
        Ok(())
    }

    /// Clips each delta to C on the server (a client that did not clip
    /// cannot raise the sensitivity), sums them, adds Gaussian noise of
    /// standard deviation z·C and divides by the expected cohort q·N.
    pub fn noised_mean<'a>(
        &mut self,
        len: usize,
        deltas: impl Iterator<Item = &'a [f32]>,
    ) -> Result<NoisedMean, PrivacyError> {
        let mut sum = vec![0.0f32; len];
        let mut scratch = vec![0.0f32; len];
        let mut server_clipped = 0;
        for delta in deltas {
            scratch.copy_from_slice(delta);
            if starling_privacy::clip_flat(&mut scratch, self.clip_norm)?.clipped {
                server_clipped += 1;
            }
            for (total, value) in sum.iter_mut().zip(&scratch) {
                *total += value;
            }
        }
        let stddev = self.update_multiplier * self.clip_norm;
        let expected = self.config.sampling_rate * self.population as f64;
        starling_privacy::noised_mean(&mut sum, stddev, expected, &mut self.rng)?;
        Ok(NoisedMean {
            mean: sum,
            server_clipped,
        })
    }

    /// Counts the round in the accountant, moves C when it adapts, and
    /// returns the round's privacy record. `unclipped` is the number of
    /// accepted clients whose update was within C, and `clipped` the number
    /// scaled down.
    pub fn finish_round(
        &mut self,
        unclipped: usize,
        clipped: usize,
    ) -> Result<PrivacyRound, PrivacyError> {
        let round_clip_norm = self.clip_norm;
        self.accountant
            .record_step(self.config.sampling_rate, self.noise_multiplier)?;
        if let Some(adaptive) = &mut self.adaptive {
            let noise = starling_privacy::gaussian(self.count_stddev, &mut self.rng)?;
            let expected = self.config.sampling_rate * self.population as f64;
            self.clip_norm = adaptive.update(unclipped, noise, expected)?;
        }
        let spent = self.accountant.epsilon(self.config.delta)?;
        Ok(PrivacyRound {
            epsilon: spent.epsilon,
            delta: self.config.delta,
            epsilon_budget: self.config.epsilon_budget,
            noise_multiplier: self.noise_multiplier,
            clip_norm: round_clip_norm,
            sampling_rate: self.config.sampling_rate,
            clients_clipped: clipped,
        })
    }

    /// Returns the ε spent so far; `None` before the first round.
    fn spent(&self) -> Option<starling_privacy::PrivacySpent> {
        if self.accountant.rdp().iter().all(|&rdp| rdp == 0.0) {
            return None;
        }
        self.accountant.epsilon(self.config.delta).ok()
    }

    /// Writes the run's privacy settings into its header.
    pub fn describe(&self, header: &mut RunHeader) {
        header.privacy = Some(starling_runlog::summary::PrivacySettings {
            delta: self.config.delta,
            epsilon_budget: self.config.epsilon_budget,
            noise_multiplier: self.noise_multiplier,
            clip_norm: self.config.clip_norm,
        });
    }

    /// Replaces the OS-seeded generator with a seeded one, for tests.
    #[cfg(test)]
    fn with_seed(mut self, seed: u64) -> Self {
        self.rng = StdRng::seed_from_u64(seed);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(privacy: PrivacyConfig) -> RunConfig {
        RunConfig {
            rounds: 10,
            privacy: Some(privacy),
            ..RunConfig::default()
        }
    }

    fn base() -> PrivacyConfig {
        PrivacyConfig {
            noise_multiplier: Some(1.0),
            population: Some(100),
            sampling_rate: 0.1,
            ..PrivacyConfig::default()
        }
    }

    #[test]
    fn no_table_means_no_privacy() {
        assert!(Privacy::new(&RunConfig::default()).unwrap().is_none());
    }

    #[test]
    fn poisson_sample_sizes_match_rate() {
        let mut privacy = Privacy::new(&config(base())).unwrap().unwrap().with_seed(3);
        let known: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
        let sizes: Vec<usize> = (0..1000).map(|_| privacy.sample(&known).len()).collect();
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        // Binomial(100, 0.1): mean 10, standard error of the mean 0.095.
        assert!((mean - 10.0).abs() < 0.5, "mean cohort {mean}");
        let mut tiny = Privacy::new(&config(PrivacyConfig {
            sampling_rate: 0.001,
            ..base()
        }))
        .unwrap()
        .unwrap()
        .with_seed(3);
        let empty = (0..100)
            .filter(|_| tiny.sample(&known[..10]).is_empty())
            .count();
        assert!(empty > 90, "{empty} empty cohorts of 100");
    }

    #[test]
    fn noise_free_mean_clips_and_divides() {
        let mut privacy = Privacy::new(&config(PrivacyConfig {
            clip_norm: 5.0,
            ..base()
        }))
        .unwrap()
        .unwrap();
        privacy.update_multiplier = 0.0;
        // [6, 8] has norm 10 and becomes [3, 4]; [1, 0] stays. The expected
        // cohort is 0.1 * 100 = 10.
        let deltas = [vec![6.0, 8.0], vec![1.0, 0.0]];
        let noised = privacy
            .noised_mean(2, deltas.iter().map(Vec::as_slice))
            .unwrap();
        assert_eq!(noised.server_clipped, 1);
        assert!((noised.mean[0] - 0.4).abs() < 1e-6, "{:?}", noised.mean);
        assert!((noised.mean[1] - 0.4).abs() < 1e-6, "{:?}", noised.mean);
    }

    #[test]
    fn empty_round_still_adds_noise() {
        let mut privacy = Privacy::new(&config(base())).unwrap().unwrap();
        let noised = privacy.noised_mean(1000, std::iter::empty()).unwrap();
        assert!(noised.mean.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn distributed_budget_counts_the_least_noise_a_round_can_have() {
        let dim = 1000;
        let worst = SkellamNoise::for_round(1.0, 2.0, 1, dim).unwrap();
        let mut reference = RdpAccountant::new();
        let l1 = worst.l1_bound(dim);
        for _ in 0..3 {
            reference
                .record_skellam(worst.lambda, worst.l2_bound, l1)
                .unwrap();
        }
        let three = reference.epsilon(1e-5).unwrap().epsilon;
        reference
            .record_skellam(worst.lambda, worst.l2_bound, l1)
            .unwrap();
        let four = reference.epsilon(1e-5).unwrap().epsilon;
        let mut run = config(PrivacyConfig {
            noise_multiplier: Some(2.0),
            epsilon_budget: Some((three + four) / 2.0),
            ..base()
        });
        run.secure_aggregation = "secagg".to_owned();
        let mut privacy = Privacy::new(&run).unwrap().unwrap().with_model_len(dim);
        // Each round sums exactly its threshold of 5 clients, the least
        // noise it can have: z·Δ2 in total.
        for _ in 0..3 {
            privacy.check_budget().unwrap();
            let noise = privacy.skellam(5).unwrap();
            assert!((noise.lambda * 5.0 - worst.lambda).abs() < 1e-6 * worst.lambda);
            let record = privacy.finish_secure_round(Some(&noise), 5).unwrap();
            assert!(record.epsilon > 0.0);
        }
        let Err(FinishReason::PrivacyBudget { epsilon, .. }) = privacy.check_budget() else {
            panic!("the fourth round should exceed the budget");
        };
        assert!(
            (epsilon - three).abs() < 1e-9 * three,
            "{epsilon} against {three}"
        );
        // More survivors add more noise and spend less.
        let mut more = Privacy::new(&run).unwrap().unwrap().with_model_len(dim);
        let noise = more.skellam(5).unwrap();
        let spent = more.finish_secure_round(Some(&noise), 9).unwrap().epsilon;
        let mut least = Privacy::new(&run).unwrap().unwrap().with_model_len(dim);
        let at_threshold = least.finish_secure_round(Some(&noise), 5).unwrap().epsilon;
        assert!(spent < at_threshold, "{spent} against {at_threshold}");
    }

    #[test]
    fn budget_allows_exactly_the_rounds_it_covers() {
        let mut reference = RdpAccountant::new();
        reference.record_steps(0.1, 1.0, 3).unwrap();
        let three = reference.epsilon(1e-5).unwrap().epsilon;
        reference.record_step(0.1, 1.0).unwrap();
        let four = reference.epsilon(1e-5).unwrap().epsilon;
        let mut privacy = Privacy::new(&config(PrivacyConfig {
            epsilon_budget: Some((three + four) / 2.0),
            ..base()
        }))
        .unwrap()
        .unwrap();
        for _ in 0..3 {
            privacy.check_budget().unwrap();
            privacy.finish_round(0, 0).unwrap();
        }
        let Err(FinishReason::PrivacyBudget { epsilon, budget }) = privacy.check_budget() else {
            panic!("the fourth round should exceed the budget");
        };
        assert!((epsilon - three).abs() < 1e-12);
        assert!(epsilon <= budget);
    }

    #[test]
    fn target_epsilon_is_calibrated_and_never_overspent() {
        let privacy = Privacy::new(&config(PrivacyConfig {
            noise_multiplier: None,
            target_epsilon: Some(2.0),
            ..base()
        }))
        .unwrap()
        .unwrap();
        let mut accountant = RdpAccountant::new();
        accountant
            .record_steps(0.1, privacy.noise_multiplier(), 10)
            .unwrap();
        assert!(accountant.epsilon(1e-5).unwrap().epsilon <= 2.0);
    }

    #[test]
    fn adaptive_clipping_shrinks_norm() {
        let mut privacy = Privacy::new(&config(PrivacyConfig {
            target_quantile: Some(0.5),
            count_stddev: Some(1.0),
            ..base()
        }))
        .unwrap()
        .unwrap();
        assert!(privacy.update_multiplier > privacy.noise_multiplier());
        // Every one of 10 expected clients was unclipped: b̄ ≈ 1 > γ, so C
        // shrinks (up to the count noise of σ_b = 1, a tenth of the cohort).
        let before = privacy.clipping().norm;
        let record = privacy.finish_round(10, 0).unwrap();
        assert_eq!(record.clip_norm, before);
        assert!(privacy.clipping().norm < before);
    }
}
