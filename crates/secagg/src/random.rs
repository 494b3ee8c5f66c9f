//! Randomness from the operating system (the browser's crypto API on
//! wasm32), for keys, mask seeds and polynomial coefficients.

use p256::Scalar;
use p256::elliptic_curve::PrimeField;

use crate::SecAggError;

/// Fills `buf` from the system CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), SecAggError> {
    getrandom::fill(buf).map_err(|err| SecAggError::Random(err.to_string()))
}

/// 32 bytes from the system CSPRNG, to seed a generator.
pub fn seed() -> Result<[u8; 32], SecAggError> {
    let mut bytes = [0u8; 32];
    fill(&mut bytes)?;
    Ok(bytes)
}

/// A uniformly random element of the P-256 scalar field.
pub fn scalar() -> Result<Scalar, SecAggError> {
    loop {
        let mut bytes = [0u8; 32];
        fill(&mut bytes)?;
        // Values at or above the group order (probability below 2^-32)
        // are drawn again, so the result is uniform.
        if let Some(scalar) = Option::<Scalar>::from(Scalar::from_repr(bytes.into())) {
            return Ok(scalar);
        }
    }
}
