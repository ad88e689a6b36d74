//! Checking an output for NaN and infinities without a branch per value.

/// Whether every value is finite, in one vectorised pass: `v * 0` is 0 for a finite value and NaN
/// otherwise, summed over 16 independent lanes.
pub fn all_finite(data: &[f32]) -> bool {
    let mut lanes = [0.0f32; 16];
    let chunks = data.chunks_exact(16);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v * 0.0;
        }
    }
    lanes.iter().chain(tail).all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::all_finite;

    #[test]
    fn finds_any_non_finite_value() {
        let mut data = vec![1.5f32; 37];
        assert!(all_finite(&data));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 15, 16, 36] {
                data[at] = bad;
                assert!(!all_finite(&data), "{bad} at {at}");
                data[at] = 1.5;
            }
        }
    }
}
