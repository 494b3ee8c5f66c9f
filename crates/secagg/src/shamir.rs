//! Shamir t-of-n secret sharing over the P-256 scalar field (a prime field
//! of order just below 2^256). A share's x-coordinate is the holder's slot,
//! so slot numbers start at 1; reconstruction uses exactly threshold-many
//! shares with Lagrange coefficients at 0.

use p256::Scalar;
use p256::elliptic_curve::PrimeField;

use crate::{SecAggError, random};

/// Splits `secret` into one share per slot in `slots` so that any
/// `threshold` of them recover it and fewer reveal nothing.
pub fn split(secret: &Scalar, threshold: usize, slots: &[u32]) -> Result<Vec<Scalar>, SecAggError> {
    if threshold == 0 || threshold > slots.len() {
        return Err(SecAggError::Params(format!(
            "a threshold of {threshold} cannot be met by {} shares",
            slots.len()
        )));
    }
    if slots.contains(&0) {
        return Err(SecAggError::Params(
            "slot 0 would hold the secret itself".into(),
        ));
    }
    let mut coefficients = Vec::with_capacity(threshold);
    coefficients.push(*secret);
    for _ in 1..threshold {
        coefficients.push(random::scalar()?);
    }
    Ok(slots
        .iter()
        .map(|&slot| evaluate(&coefficients, Scalar::from(u64::from(slot))))
        .collect())
}

/// Horner's rule.
fn evaluate(coefficients: &[Scalar], x: Scalar) -> Scalar {
    coefficients
        .iter()
        .rev()
        .fold(Scalar::ZERO, |acc, coefficient| acc * x + coefficient)
}

/// The Lagrange coefficients at x = 0 for a set of distinct slots; reusable
/// for every secret shared among the same slots.
#[derive(Clone, Debug)]
pub struct Lagrange {
    slots: Vec<u32>,
    coefficients: Vec<Scalar>,
}

impl Lagrange {
    /// Coefficients for `slots`, which must be distinct and non-zero.
    pub fn at_zero(slots: &[u32]) -> Result<Self, SecAggError> {
        let mut sorted = slots.to_vec();
        sorted.sort_unstable();
        if sorted.first() == Some(&0) || sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(SecAggError::Protocol(format!(
                "shares must come from distinct non-zero slots, got {slots:?}"
            )));
        }
        let xs: Vec<Scalar> = slots.iter().map(|&s| Scalar::from(u64::from(s))).collect();
        // c_j = Π_{m≠j} x_m / (x_m − x_j); the denominators are inverted
        // together with one field inversion (Montgomery's trick).
        let mut numerators = Vec::with_capacity(xs.len());
        let mut denominators = Vec::with_capacity(xs.len());
        for (j, xj) in xs.iter().enumerate() {
            let mut num = Scalar::ONE;
            let mut den = Scalar::ONE;
            for (m, xm) in xs.iter().enumerate() {
                if m != j {
                    num *= xm;
                    den *= *xm - xj;
                }
            }
            numerators.push(num);
            denominators.push(den);
        }
        let inverses = batch_invert(&denominators)?;
        let coefficients = numerators
            .iter()
            .zip(&inverses)
            .map(|(num, inv)| *num * inv)
            .collect();
        Ok(Self {
            slots: slots.to_vec(),
            coefficients,
        })
    }

    /// The slots these coefficients are for, in order.
    pub fn slots(&self) -> &[u32] {
        &self.slots
    }

    /// The secret from the shares held by [`Lagrange::slots`], in the same
    /// order.
    pub fn combine(&self, shares: &[Scalar]) -> Scalar {
        self.coefficients
            .iter()
            .zip(shares)
            .fold(Scalar::ZERO, |acc, (c, y)| acc + *c * y)
    }
}

fn batch_invert(values: &[Scalar]) -> Result<Vec<Scalar>, SecAggError> {
    let mut prefix = Vec::with_capacity(values.len());
    let mut acc = Scalar::ONE;
    for value in values {
        prefix.push(acc);
        acc *= value;
    }
    let mut inverse = Option::<Scalar>::from(acc.invert())
        .ok_or_else(|| SecAggError::Protocol("duplicate share slots".into()))?;
    let mut out = vec![Scalar::ZERO; values.len()];
    for i in (0..values.len()).rev() {
        out[i] = inverse * prefix[i];
        inverse *= values[i];
    }
    Ok(out)
}

/// Recovers a secret from `(slot, share)` pairs, using exactly the first
/// `threshold` of them.
pub fn reconstruct(shares: &[(u32, Scalar)], threshold: usize) -> Result<Scalar, SecAggError> {
    if threshold == 0 || shares.len() < threshold {
        return Err(SecAggError::BelowThreshold {
            phase: "reconstruction",
            have: shares.len(),
            need: threshold,
        });
    }
    let used = &shares[..threshold];
    let slots: Vec<u32> = used.iter().map(|(slot, _)| *slot).collect();
    let values: Vec<Scalar> = used.iter().map(|(_, share)| *share).collect();
    Ok(Lagrange::at_zero(&slots)?.combine(&values))
}

/// A scalar as 32 big-endian bytes.
pub fn to_bytes(scalar: &Scalar) -> [u8; 32] {
    scalar.to_repr().into()
}

/// Parses 32 bytes as a canonical scalar.
pub fn from_bytes(bytes: &[u8]) -> Option<Scalar> {
    let array: [u8; 32] = bytes.try_into().ok()?;
    Option::from(Scalar::from_repr(array.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: u32) -> Vec<u32> {
        (1..=n).collect()
    }

    #[test]
    fn any_threshold_subset_recovers_the_secret() {
        let secret = random::scalar().unwrap();
        let all = slots(7);
        let shares = split(&secret, 4, &all).unwrap();
        let pairs: Vec<(u32, Scalar)> = all.iter().copied().zip(shares).collect();
        for start in 0..4 {
            let subset: Vec<_> = pairs[start..start + 4].to_vec();
            assert_eq!(reconstruct(&subset, 4).unwrap(), secret);
        }
        let scattered = vec![pairs[6], pairs[0], pairs[3], pairs[5]];
        assert_eq!(reconstruct(&scattered, 4).unwrap(), secret);
    }

    #[test]
    fn fewer_than_threshold_shares_give_another_value() {
        let secret = random::scalar().unwrap();
        let all = slots(5);
        let shares = split(&secret, 3, &all).unwrap();
        let pairs: Vec<(u32, Scalar)> = all.iter().copied().zip(shares).collect();
        assert!(matches!(
            reconstruct(&pairs[..2], 3),
            Err(SecAggError::BelowThreshold {
                have: 2,
                need: 3,
                ..
            })
        ));
        // Interpolating two shares as if the threshold were 2 gives a
        // different value: two points say nothing about a degree-2 secret.
        assert_ne!(reconstruct(&pairs[..2], 2).unwrap(), secret);
    }

    #[test]
    fn even_share_counts_work() {
        for n in [2u32, 4, 6, 8, 10] {
            let secret = random::scalar().unwrap();
            let all = slots(n);
            let threshold = n as usize / 2 + 1;
            let shares = split(&secret, threshold, &all).unwrap();
            let pairs: Vec<(u32, Scalar)> = all.iter().copied().zip(shares).rev().collect();
            assert_eq!(reconstruct(&pairs, threshold).unwrap(), secret, "n = {n}");
        }
    }

    #[test]
    fn duplicate_or_zero_slots_are_refused() {
        let secret = random::scalar().unwrap();
        assert!(split(&secret, 2, &[0, 1, 2]).is_err());
        assert!(split(&secret, 4, &[1, 2, 3]).is_err());
        let share = split(&secret, 2, &[1, 2]).unwrap();
        assert!(reconstruct(&[(1, share[0]), (1, share[0])], 2).is_err());
    }

    #[test]
    fn bytes_round_trip() {
        let scalar = random::scalar().unwrap();
        assert_eq!(from_bytes(&to_bytes(&scalar)), Some(scalar));
        assert_eq!(from_bytes(&[0xff; 32]), None);
        assert_eq!(from_bytes(&[1; 31]), None);
    }
}
