//! Clipping of a client's update to an L2 norm bound C, the step of
//! DP-FedAvg that bounds what one client can change in the sum (its
//! sensitivity). Flat clipping bounds the whole update. Per-layer clipping
//! bounds each of L layers by C / √L, so the whole update is still within C.

use crate::error::PrivacyError;

/// Outcome of clipping one vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clipped {
    /// L2 norm before clipping.
    pub norm: f64,
    /// True when the vector was scaled down.
    pub clipped: bool,
}

/// Scales `values` down to L2 norm `clip_norm` when its norm is above it.
/// A vector within the bound, the zero vector included, is left as it is.
/// The result's norm, computed in f64 from the stored f32 values, never
/// exceeds `clip_norm`.
pub fn clip_flat(values: &mut [f32], clip_norm: f64) -> Result<Clipped, PrivacyError> {
    check_clip_norm(clip_norm)?;
    check_finite(values)?;
    Ok(clip_checked(values, clip_norm))
}

/// Clips each layer (consecutive runs of `layer_sizes` values) to
/// `clip_norm / √L` for L layers, so the whole update stays within
/// `clip_norm`. Returns what happened to each layer.
pub fn clip_per_layer(
    values: &mut [f32],
    layer_sizes: &[usize],
    clip_norm: f64,
) -> Result<Vec<Clipped>, PrivacyError> {
    check_clip_norm(clip_norm)?;
    check_finite(values)?;
    let total: usize = layer_sizes.iter().sum();
    if total != values.len() || layer_sizes.is_empty() {
        return Err(PrivacyError::LayerMismatch {
            layers: total,
            values: values.len(),
        });
    }
    let per_layer = clip_norm / (layer_sizes.len() as f64).sqrt();
    let mut start = 0;
    Ok(layer_sizes
        .iter()
        .map(|&size| {
            let layer = &mut values[start..start + size];
            start += size;
            clip_checked(layer, per_layer)
        })
        .collect())
}

/// L2 norm in f64.
pub fn l2_norm(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

fn clip_checked(values: &mut [f32], clip_norm: f64) -> Clipped {
    let norm = l2_norm(values);
    if norm <= clip_norm {
        return Clipped {
            norm,
            clipped: false,
        };
    }
    let mut factor = clip_norm / norm;
    let original: Vec<f32> = values.to_vec();
    // Rounding to f32 can leave the norm a hair above the bound, so the
    // factor shrinks until it is not (one or two steps in the tests).
    loop {
        for (value, &before) in values.iter_mut().zip(&original) {
            *value = (f64::from(before) * factor) as f32;
        }
        if l2_norm(values) <= clip_norm {
            break;
        }
        factor *= 1.0 - 1e-7;
    }
    Clipped {
        norm,
        clipped: true,
    }
}

fn check_clip_norm(clip_norm: f64) -> Result<(), PrivacyError> {
    if clip_norm.is_finite() && clip_norm > 0.0 {
        Ok(())
    } else {
        Err(PrivacyError::InvalidClipNorm(clip_norm))
    }
}

fn check_finite(values: &[f32]) -> Result<(), PrivacyError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PrivacyError::NonFiniteValue {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn clip_flat_six_eight_to_three_four() {
        let mut values = [6.0, 8.0];
        let clipped = clip_flat(&mut values, 5.0).unwrap();
        assert_eq!(values, [3.0, 4.0]);
        assert_eq!(clipped.norm, 10.0);
        assert!(clipped.clipped);
    }

    #[test]
    fn clip_flat_leaves_zero_and_small_updates() {
        let mut zero = [0.0f32; 4];
        let clipped = clip_flat(&mut zero, 1.0).unwrap();
        assert_eq!(zero, [0.0; 4]);
        assert_eq!(clipped.norm, 0.0);
        assert!(!clipped.clipped);
        let mut small = [0.3f32, -0.4];
        clip_flat(&mut small, 1.0).unwrap();
        assert_eq!(small, [0.3, -0.4]);
        // Exactly at the bound is within it.
        let mut edge = [3.0f32, 4.0];
        assert!(!clip_flat(&mut edge, 5.0).unwrap().clipped);
    }

    #[test]
    fn clip_flat_rejects_bad_input() {
        let mut values = [1.0f32, f32::NAN];
        assert!(matches!(
            clip_flat(&mut values, 1.0),
            Err(PrivacyError::NonFiniteValue { index: 1, .. })
        ));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                clip_flat(&mut [1.0], bad),
                Err(PrivacyError::InvalidClipNorm(_))
            ));
        }
    }

    #[test]
    fn clip_per_layer_bounds_layers() {
        // Two layers: each bounded by 5 / √2.
        let mut values = [6.0f32, 8.0, 0.1, 0.1];
        let layers = clip_per_layer(&mut values, &[2, 2], 5.0).unwrap();
        assert!(layers[0].clipped);
        assert!(!layers[1].clipped);
        assert!(l2_norm(&values[..2]) <= 5.0 / 2f64.sqrt());
        assert_eq!(&values[2..], &[0.1, 0.1]);
        assert!(l2_norm(&values) <= 5.0);
        assert!(matches!(
            clip_per_layer(&mut values, &[3], 5.0),
            Err(PrivacyError::LayerMismatch {
                layers: 3,
                values: 4
            })
        ));
    }

    proptest! {
        #[test]
        fn clip_flat_never_exceeds_the_bound(
            values in proptest::collection::vec(-1e6f32..1e6, 1..200),
            clip_norm in 1e-3f64..1e3,
        ) {
            let mut clipped = values.clone();
            let outcome = clip_flat(&mut clipped, clip_norm).unwrap();
            prop_assert!(l2_norm(&clipped) <= clip_norm);
            if !outcome.clipped {
                prop_assert_eq!(clipped, values);
            }
        }
    }
}
