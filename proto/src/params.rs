//! Model parameters as they travel: a flat `f32` buffer plus the name and
//! shape of each tensor in it, so that an update can be checked against the
//! global model before it is used.

use serde::{Deserialize, Serialize};

/// Name and shape of one tensor inside a [`ParamSet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Dotted module path, for example `hidden.weight`.
    pub name: String,
    /// Dimensions, outermost first.
    pub shape: Vec<u32>,
}

impl TensorSpec {
    /// Number of scalar values in the tensor.
    pub fn numel(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    /// Like [`TensorSpec::numel`], `None` when the product overflows.
    fn checked_numel(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |total, &d| total.checked_mul(d as usize))
    }
}

/// A model's parameters (or an update to them): tensor specs in a fixed
/// order and the values of all tensors concatenated in that order.
///
/// Keeping the values contiguous lets aggregation, compression and masking
/// work on one slice instead of walking a tensor list. Decoding checks the
/// length like [`ParamSet::new`], so a received set is always consistent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawParamSet")]
pub struct ParamSet {
    specs: Vec<TensorSpec>,
    values: Vec<f32>,
}

/// The unchecked wire form of a [`ParamSet`].
#[derive(Deserialize)]
struct RawParamSet {
    specs: Vec<TensorSpec>,
    values: Vec<f32>,
}

impl TryFrom<RawParamSet> for ParamSet {
    type Error = ParamError;

    fn try_from(raw: RawParamSet) -> Result<Self, ParamError> {
        ParamSet::new(raw.specs, raw.values)
    }
}

/// Why a [`ParamSet`] could not be built or does not match another one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The specs describe a different number of values than were given.
    #[error("parameter set has {actual} values but its tensor specs describe {expected}")]
    LengthMismatch {
        /// Values the specs call for.
        expected: usize,
        /// Values present.
        actual: usize,
    },
    /// The shapes describe more values than fit in memory.
    #[error("tensor shapes describe more values than a usize can count")]
    ShapeOverflow,
    /// Two parameter sets disagree on tensor names or shapes.
    #[error("tensor {index} mismatch: expected {expected}, got {actual}")]
    SpecMismatch {
        /// Position of the first differing tensor.
        index: usize,
        /// The expected tensor, as `name[shape]`.
        expected: String,
        /// The tensor found, as `name[shape]`.
        actual: String,
    },
    /// A value is NaN or infinite.
    #[error("value {index} (in tensor `{tensor}`) is not finite: {value}")]
    NonFinite {
        /// Position in the flat buffer.
        index: usize,
        /// Name of the tensor holding the value.
        tensor: String,
        /// The offending value.
        value: f32,
    },
}

impl ParamSet {
    /// Builds a parameter set, checking that `values` has exactly the length
    /// the specs describe.
    pub fn new(specs: Vec<TensorSpec>, values: Vec<f32>) -> Result<Self, ParamError> {
        let expected = specs
            .iter()
            .try_fold(0usize, |total, spec| {
                total.checked_add(spec.checked_numel()?)
            })
            .ok_or(ParamError::ShapeOverflow)?;
        if expected != values.len() {
            return Err(ParamError::LengthMismatch {
                expected,
                actual: values.len(),
            });
        }
        Ok(Self { specs, values })
    }

    /// A parameter set with the given layout and every value zero.
    pub fn zeros(specs: Vec<TensorSpec>) -> Self {
        let len = specs.iter().map(TensorSpec::numel).sum();
        Self {
            specs,
            values: vec![0.0; len],
        }
    }

    /// Tensor names and shapes, in buffer order.
    pub fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    /// All values, tensor after tensor.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Mutable access to the values; the layout cannot change through it.
    pub fn values_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// Splits into specs and the flat buffer.
    pub fn into_parts(self) -> (Vec<TensorSpec>, Vec<f32>) {
        (self.specs, self.values)
    }

    /// Total number of scalar parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the set holds no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Iterates over `(spec, values)` pairs, one per tensor.
    pub fn tensors(&self) -> impl Iterator<Item = (&TensorSpec, &[f32])> {
        let mut offset = 0;
        self.specs.iter().map(move |spec| {
            let end = offset + spec.numel();
            let slice = &self.values[offset..end];
            offset = end;
            (spec, slice)
        })
    }

    /// Checks that `other` has the same tensor names and shapes, in order;
    /// errors call `self` expected and `other` actual.
    pub fn check_layout(&self, other: &[TensorSpec]) -> Result<(), ParamError> {
        compare_layouts(&self.specs, other)
    }
    /// Returns the first non-finite value, if any.
    pub fn check_finite(&self) -> Result<(), ParamError> {
        let Some(index) = self.values.iter().position(|v| !v.is_finite()) else {
            return Ok(());
        };
        Err(ParamError::NonFinite {
            index,
            tensor: self.tensor_name_at(index).to_owned(),
            value: self.values[index],
        })
    }

    fn tensor_name_at(&self, index: usize) -> &str {
        let mut end = 0;
        for spec in &self.specs {
            end += spec.numel();
            if index < end {
                return &spec.name;
            }
        }
        "?"
    }
}

/// Checks that `actual` has the tensor names and shapes of `expected`, in
/// order, and names the first difference.
pub fn compare_layouts(expected: &[TensorSpec], actual: &[TensorSpec]) -> Result<(), ParamError> {
    let count = expected.len().max(actual.len());
    for index in 0..count {
        let want = expected.get(index);
        let got = actual.get(index);
        if want != got {
            return Err(ParamError::SpecMismatch {
                index,
                expected: describe(want),
                actual: describe(got),
            });
        }
    }
    Ok(())
}

fn describe(spec: Option<&TensorSpec>) -> String {
    match spec {
        Some(spec) => format!("{}{:?}", spec.name, spec.shape),
        None => "nothing".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[u32]) -> TensorSpec {
        TensorSpec {
            name: name.to_owned(),
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn new_rejects_wrong_length() {
        let err = ParamSet::new(vec![spec("w", &[2, 3])], vec![0.0; 5]).unwrap_err();
        assert_eq!(
            err,
            ParamError::LengthMismatch {
                expected: 6,
                actual: 5
            }
        );
    }

    #[test]
    fn decoding_rejects_inconsistent_length() {
        let good = ParamSet::new(vec![spec("w", &[2])], vec![1.0, 2.0]).unwrap();
        let bytes = postcard::to_allocvec(&good).unwrap();
        assert_eq!(postcard::from_bytes::<ParamSet>(&bytes).unwrap(), good);
        // Same specs, three values: the raw form encodes, the checked form
        // must refuse it.
        #[derive(Serialize)]
        struct Raw {
            specs: Vec<TensorSpec>,
            values: Vec<f32>,
        }
        let bad = Raw {
            specs: vec![spec("w", &[2])],
            values: vec![1.0, 2.0, 3.0],
        };
        let bytes = postcard::to_allocvec(&bad).unwrap();
        assert!(postcard::from_bytes::<ParamSet>(&bytes).is_err());
    }

    #[test]
    fn overflowing_shape_is_rejected() {
        let err =
            ParamSet::new(vec![spec("w", &[u32::MAX, u32::MAX, u32::MAX])], vec![]).unwrap_err();
        assert_eq!(err, ParamError::ShapeOverflow);
    }

    #[test]
    fn tensors_split_the_buffer_in_order() {
        let set =
            ParamSet::new(vec![spec("w", &[2]), spec("b", &[1])], vec![1.0, 2.0, 3.0]).unwrap();
        let parts: Vec<_> = set
            .tensors()
            .map(|(s, v)| (s.name.clone(), v.to_vec()))
            .collect();
        assert_eq!(parts[0], ("w".to_owned(), vec![1.0, 2.0]));
        assert_eq!(parts[1], ("b".to_owned(), vec![3.0]));
    }

    #[test]
    fn layout_check_names_first_difference() {
        let set = ParamSet::zeros(vec![spec("w", &[2]), spec("b", &[1])]);
        let err = set
            .check_layout(&[spec("w", &[2]), spec("b", &[2])])
            .unwrap_err();
        assert!(err.to_string().contains("tensor 1 mismatch"), "{err}");
        assert!(set.check_layout(&[spec("w", &[2])]).is_err());
        assert!(set.check_layout(set.specs()).is_ok());
    }

    #[test]
    fn finite_check_reports_tensor_and_index() {
        let set = ParamSet::new(
            vec![spec("w", &[2]), spec("b", &[2])],
            vec![1.0, 2.0, 3.0, f32::NAN],
        )
        .unwrap();
        match set.check_finite().unwrap_err() {
            ParamError::NonFinite { index, tensor, .. } => {
                assert_eq!(index, 3);
                assert_eq!(tensor, "b");
            }
            other => panic!("unexpected error {other}"),
        }
    }
}
