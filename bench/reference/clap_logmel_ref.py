#!/usr/bin/env python3
"""
An independent NumPy reference for CLAP's audio features as the seed computes them (Hugging Face's Python
`ClapFeatureExtractor`, truncation "rand_trunc", padding "repeatpad"), written from the published recipe rather
than from transformers.js (which src/modality/onnx/onnx-preprocess.ts uses), so the two share no code:

  * repeatpad: a clip shorter than `nb_max_samples` is repeated floor(max / len) times, then zero-padded to max.
    A longer clip is cut to `nb_max_samples` (HF picks a random offset; we pin offset 0, as our preprocessor does).
  * STFT: periodic Hann window of `fft_window_size` samples, frames every `hop_length` samples, centred (the signal
    is reflect-padded by fft_window_size // 2 on both sides), one-sided FFT of size fft_window_size, power |X|^2.
  * Mel filters as librosa's `filters.mel(htk=False, norm="slaney")`: Slaney's mel scale (linear below 1 kHz,
    logarithmic above), `feature_size` triangles between `frequency_min` and `frequency_max` Hz, each scaled by
    2 / (its bandwidth in Hz).
  * dB: 10 * log10(max(mel power, 1e-10)), reference 1.0, no top_db clipping; frames × mels.

Writes test/fixtures/clap-logmel-ref.json: per case the input samples (16-bit PCM, base64; the reference uses the
same values as floats), the config, the expected log-mel (float32, base64, [frames, mels]) and is_longer.

CLI: python3 bench/reference/clap_logmel_ref.py [OUT.json]   (needs numpy only)
"""

import base64
import json
import math
import sys

import numpy as np

CONFIG = {
    "feature_size": 64,
    "sampling_rate": 48000,
    "hop_length": 480,
    "fft_window_size": 1024,
    "frequency_min": 50,
    "frequency_max": 14000,
    # 0.2 s instead of CLAP's 10 s keeps the fixture small; the recipe does not depend on the length.
    "nb_max_samples": 9600,
}


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    linear = 3.0 * f / 200.0
    log_part = 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, linear)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    linear = 200.0 * m / 3.0
    log_part = 1000.0 * np.exp((m - 15.0) * (math.log(6.4) / 27.0))
    return np.where(m >= 15.0, log_part, linear)


def slaney_mel_filters(n_fft, n_mels, fmin, fmax, sr):
    """[n_fft // 2 + 1, n_mels] triangular filters, area-normalised (Slaney)."""
    bins = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
    filters = np.zeros((len(bins), n_mels))
    for m in range(n_mels):
        lo, centre, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - lo) / (centre - lo)
        falling = (hi - bins) / (hi - centre)
        filters[:, m] = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return filters


def log_mel(signal, c):
    n, hop = c["fft_window_size"], c["hop_length"]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)  # periodic Hann
    padded = np.pad(signal.astype(np.float64), (n // 2, n // 2), mode="reflect")
    frames = 1 + (len(padded) - n) // hop
    power = np.empty((frames, n // 2 + 1))
    for t in range(frames):
        spectrum = np.fft.rfft(padded[t * hop : t * hop + n] * window)
        power[t] = spectrum.real**2 + spectrum.imag**2
    mel = power @ slaney_mel_filters(n, c["feature_size"], c["frequency_min"], c["frequency_max"], c["sampling_rate"])
    return 10.0 * np.log10(np.maximum(mel, 1e-10))


def clap_features(samples, c):
    limit = c["nb_max_samples"]
    longer = len(samples) > limit
    if longer:
        samples = samples[:limit]
    elif len(samples) < limit:
        samples = np.tile(samples, limit // len(samples))
        samples = np.pad(samples, (0, limit - len(samples)))
    return log_mel(samples, c), longer


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/clap-logmel-ref.json"
    sr = CONFIG["sampling_rate"]
    rng = np.random.default_rng(13)
    cases = []
    for name, seconds in [("short: repeated twice, then zero-padded", 0.07), ("long: cut to the window, is_longer", 0.25)]:
        t = np.arange(int(seconds * sr)) / sr
        # A chirp from 200 Hz to 9 kHz over a low tone and a little noise: energy in most mel bands.
        chirp = np.sin(2 * np.pi * (200 * t + (8800 / (2 * seconds)) * t**2))
        signal = 0.4 * chirp + 0.2 * np.sin(2 * np.pi * 110 * t) + 0.02 * rng.standard_normal(len(t))
        pcm = np.round(signal * 32767).astype("<i2")
        mel, longer = clap_features(pcm.astype(np.float64) / 32767.0, CONFIG)
        cases.append({"name": name, "pcm16": base64.b64encode(pcm.tobytes()).decode(), "mel": b64(mel), "shape": list(mel.shape), "is_longer": longer})
    with open(out, "w") as f:
        json.dump({"config": CONFIG, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {out}: {[c['shape'] for c in cases]}")


if __name__ == "__main__":
    main()
