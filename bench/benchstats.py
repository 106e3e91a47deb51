# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the bench reports share: quantiles of samples, linear between the two nearest ranks (as
numpy's default), the same in every table of bench/README.md."""


def quantile(v, p=0.5):
    """The p-quantile (0 <= p <= 1) of the values v; NaN if there are none."""
    v = sorted(v)
    if not v:
        return float('nan')
    k = (len(v) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
