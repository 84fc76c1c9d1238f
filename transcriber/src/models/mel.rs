//! The Slaney-style mel filterbank whisper.cpp expects in its model file (librosa's
//! `filters.mel(sr=16000, n_fft=400, n_mels=80)`, htk=False, norm='slaney').

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `n_mels` rows of `n_fft / 2 + 1` weights, row-major.
pub fn filterbank(sample_rate_hz: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_hz: Vec<f64> = (0..bins)
        .map(|k| k as f64 * f64::from(sample_rate_hz) / n_fft as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(f64::from(sample_rate_hz) / 2.0));
    let mel_hz: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut weights = Vec::with_capacity(n_mels * bins);
    for i in 0..n_mels {
        let (left, center, right) = (mel_hz[i], mel_hz[i + 1], mel_hz[i + 2]);
        let norm = 2.0 / (right - left);
        for &f in &fft_hz {
            let lower = (f - left) / (center - left);
            let upper = (right - f) / (right - center);
            weights.push((lower.min(upper).max(0.0) * norm) as f32);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_librosa_values() {
        let w = filterbank(16_000, 400, 80);
        assert_eq!(w.len(), 80 * 201);
        // Values of librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) at [0, 1], [79, 199], [79, 200].
        assert!((w[1] - 0.024_862_59).abs() < 1e-6, "{}", w[1]);
        assert!(w[0].abs() < 1e-9);
        let last_row = &w[79 * 201..];
        assert!(last_row[200].abs() < 1e-6 && (last_row[199] - 0.000_448_76).abs() < 1e-6);
        assert!(last_row.iter().any(|&x| x > 0.0));
    }
}
