"""Writes rdp_quadrature.json: per-step RDP of the Poisson-subsampled
Gaussian mechanism at fractional orders, by numerical integration.

Run with mpmath 1.3.0: python3 rdp_quadrature.py
"""

import json

import mpmath as mp

mp.mp.dps = 40

# (sampling rate q, noise multiplier s, order): sampling rates above 0.5,
# noise multipliers from 0.3 to 1000, orders near 1.
CASES = [
    (0.5, 100.0, 1.1),
    (0.9, 0.3, 3.3),
    (0.001, 0.3, 1.1),
    (0.5, 0.5, 10.9),
    (0.99, 2.0, 1.7),
    (0.3, 0.4, 7.5),
    (0.02, 5.0, 1.2),
    (0.7, 1.0, 2.5),
    (0.5, 1000.0, 1.5),
    (0.999, 0.5, 1.3),
    (1e-5, 0.7, 1.9),
    (0.25, 20.0, 5.5),
]


def rdp_per_step(q, s, order):
    """ln(A) / (order - 1), A = E_{x~N(0,s^2)}[((1-q) + q e^{(2x-1)/(2s^2)})^order]."""
    q, s, order = mp.mpf(q), mp.mpf(s), mp.mpf(order)

    def integrand(x):
        ratio = (1 - q) + q * mp.exp((2 * x - 1) / (2 * s * s))
        return mp.npdf(x, 0, s) * ratio**order

    # The two mixture parts are equal at z0; the integrand changes shape there.
    z0 = s * s * mp.log((1 - q) / q) + mp.mpf(1) / 2
    inner = sorted({-40 * s, z0 - 10 * s, z0, z0 + 10 * s, 40 * s + order})
    moment = mp.quad(integrand, [-mp.inf, *inner, mp.inf])
    return mp.log(moment) / (order - 1)


def main():
    cases = []
    for q, s, order in CASES:
        value = rdp_per_step(q, s, order)
        cases.append(
            {
                "q": q,
                "noise_multiplier": s,
                "order": order,
                "rdp_per_step": float(value),
                "rdp_per_step_30_digits": mp.nstr(value, 30),
            }
        )
    document = {
        "description": (
            "Per-step RDP of the Poisson-subsampled Gaussian mechanism at fractional "
            "orders, in regimes the opacus reference cases do not cover (sampling rates "
            "above 0.5, noise multipliers from 0.3 to 1000). Each value is "
            "ln(A)/(order-1), A = E_{x~N(0,s^2)}[((1-q)+q*exp((2x-1)/(2 s^2)))^order], "
            "integrated by mpmath.quad at 40 decimal digits over intervals split at "
            "-40s, z0 - 10s, z0, z0 + 10s and 40s + order, where z0 = s^2 ln((1-q)/q) + 1/2. "
            "Written by rdp_quadrature.py."
        ),
        "generated_with": {"mpmath": mp.__version__},
        "rdp_per_step_cases": cases,
    }
    with open("rdp_quadrature.json", "w") as file:
        json.dump(document, file, indent=2)
        file.write("\n")


if __name__ == "__main__":
    main()
