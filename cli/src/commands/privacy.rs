//! `starling privacy`: the RDP accountant on the command line. Given a
//! sampling rate, a noise multiplier and a number of rounds it prints the ε
//! spent for a δ; given a target ε instead of the noise multiplier it prints
//! the smallest noise multiplier that stays within it.

use anyhow::Context;
use clap::Args;
use starling_privacy::{RdpAccountant, calibrate_noise_multiplier};
use starling_runlog::units;

use crate::console;

/// Options of `starling privacy`.
#[derive(Args, Debug)]
pub struct PrivacyArgs {
    /// Probability q that a client takes part in a round (Poisson sampling).
    #[arg(long)]
    pub sampling_rate: f64,
    /// Noise standard deviation over the clipping norm (z).
    #[arg(
        long,
        conflicts_with = "target_epsilon",
        required_unless_present = "target_epsilon"
    )]
    pub noise_multiplier: Option<f64>,
    /// Print the noise multiplier that spends at most this ε instead.
    #[arg(long)]
    pub target_epsilon: Option<f64>,
    /// Rounds (steps of the mechanism).
    #[arg(long)]
    pub rounds: u64,
    /// δ of the (ε, δ) guarantee.
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
}

/// Prints ε, or the noise multiplier for a target ε.
pub fn run(args: PrivacyArgs) -> anyhow::Result<()> {
    console::text(&report(&args)?)
}

/// Builds the lines `starling privacy` prints.
fn report(args: &PrivacyArgs) -> anyhow::Result<String> {
    let (q, rounds, delta) = (args.sampling_rate, args.rounds, args.delta);
    let noise = match (args.noise_multiplier, args.target_epsilon) {
        (Some(noise), _) => noise,
        (None, Some(target)) => calibrate_noise_multiplier(target, delta, q, rounds)
            .with_context(|| format!("no noise multiplier reaches ε = {target}"))?,
        (None, None) => anyhow::bail!("give --noise-multiplier or --target-epsilon"),
    };
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(q, noise, rounds)
        .context("invalid mechanism")?;
    let spent = accountant.epsilon(delta).context("invalid δ")?;
    let classic = accountant.epsilon_classic(delta).context("invalid δ")?;
    let mut text = String::new();
    if let Some(target) = args.target_epsilon {
        text.push_str(&format!(
            "noise multiplier z = {noise:.6} keeps ε within {target} \
             (q = {q}, {rounds} rounds, δ = {})\n",
            units::delta(delta)
        ));
    }
    text.push_str(&format!(
        "ε = {:.6} at RDP order {} (q = {q}, z = {noise}, {rounds} rounds, δ = {})\n",
        spent.epsilon,
        spent.order,
        units::delta(delta)
    ));
    text.push_str(&format!(
        "the classic RDP conversion gives ε = {:.6} at order {}\n",
        classic.epsilon, classic.order
    ));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(noise: Option<f64>, target: Option<f64>) -> PrivacyArgs {
        PrivacyArgs {
            sampling_rate: 0.05,
            noise_multiplier: noise,
            target_epsilon: target,
            rounds: 1000,
            delta: 1e-5,
        }
    }

    #[test]
    fn report_epsilon_of_known_case() {
        let text = report(&args(Some(1.5), None)).unwrap();
        assert!(text.starts_with("ε = 6.018907 at RDP order 4.4 "), "{text}");
        assert!(text.contains("classic RDP conversion"), "{text}");
    }

    #[test]
    fn report_noise_within_target() {
        let text = report(&args(None, Some(6.0))).unwrap();
        assert!(text.starts_with("noise multiplier z = 1.5"), "{text}");
        let epsilon: f64 = text
            .lines()
            .nth(1)
            .and_then(|line| line.strip_prefix("ε = "))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap();
        assert!(epsilon <= 6.0, "{text}");
    }

    #[test]
    fn report_names_an_unreachable_target() {
        let err = report(&args(None, Some(1e-9))).unwrap_err();
        assert!(
            format!("{err:#}").contains("no noise multiplier reaches"),
            "{err:#}"
        );
    }
}
