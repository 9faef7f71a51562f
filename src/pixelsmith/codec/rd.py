"""Bjontegaard delta rate (VCEG-M33, 2001): the mean rate difference between two
rate-distortion curves at equal quality, the standard one-number codec comparison.

Each curve is log(rate) as a function of quality (PSNR, dB), interpolated over its points; the
two are integrated over the quality range they share, and the mean log-rate gap becomes a
percentage: ``exp(mean gap) - 1``. Negative means the tested codec needs fewer bits. Two
interpolations: ``"pchip"``, piecewise cubic Hermite (monotone, no overshoot; what JVET's
common-test-condition tools use), and ``"cubic"``, the original single cubic polynomial fit.
"""

from __future__ import annotations

import numpy as np


def _curve(rates, quality) -> tuple[np.ndarray, np.ndarray]:
    rates = np.asarray(rates, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    if rates.shape != quality.shape or rates.ndim != 1 or len(rates) < 2:
        raise ValueError("a curve needs two equal-length 1-D arrays of at least 2 points")
    if (rates <= 0).any() or not np.isfinite(rates).all() or not np.isfinite(quality).all():
        raise ValueError("rates must be positive and finite, qualities finite")
    order = np.argsort(quality)
    quality, log_rate = quality[order], np.log(rates[order])
    if (np.diff(quality) <= 0).any():
        raise ValueError("a curve's qualities must be distinct")
    return quality, log_rate


def _integral(quality: np.ndarray, log_rate: np.ndarray, low: float, high: float,
              method: str) -> float:
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator

        return float(PchipInterpolator(quality, log_rate).integrate(low, high))
    if method == "cubic":
        if len(quality) < 4:
            raise ValueError("the cubic fit needs at least 4 points per curve")
        antiderivative = np.polyint(np.polyfit(quality, log_rate, 3))
        return float(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))
    raise ValueError(f"method must be 'pchip' or 'cubic', not {method!r}")


def bd_rate(rate_ref, quality_ref, rate_test, quality_test, method: str = "pchip") -> float:
    """BD-rate of the test curve against the reference, in percent (negative = better).

    ``rate_*`` in any positive unit (bits per pixel), ``quality_*`` in dB; the points of a
    curve may come in any order. Raises ValueError when the curves share no quality range.
    """
    q_ref, r_ref = _curve(rate_ref, quality_ref)
    q_test, r_test = _curve(rate_test, quality_test)
    low, high = max(q_ref[0], q_test[0]), min(q_ref[-1], q_test[-1])
    if high <= low:
        raise ValueError("the two curves do not overlap in quality")
    gap = (_integral(q_test, r_test, low, high, method)
           - _integral(q_ref, r_ref, low, high, method)) / (high - low)
    return float((np.exp(gap) - 1.0) * 100.0)
