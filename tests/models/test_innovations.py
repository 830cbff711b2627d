"""Innovations against scipy.stats, closed forms, numerical integrals and direct sums."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from coincast.errors import CoincastError
from coincast.models.innovations import (
    Empirical,
    Normal,
    StudentT,
    innovation_from_dict,
    var_es,
)

PS = np.array([0.001, 0.01, 0.025, 0.05, 0.1, 0.5])


def _es_by_integral(pdf, q: float, p: float) -> float:
    """E[Z | Z <= q] as the integral of z pdf(z) below q, over p: independent of any formula."""
    return integrate.quad(lambda z: z * pdf(z), -np.inf, q)[0] / p


def test_normal_against_scipy_and_closed_form():
    z = Normal()
    assert np.allclose(z.quantile(PS), stats.norm.ppf(PS))
    assert np.allclose(z.es(PS), -stats.norm.pdf(stats.norm.ppf(PS)) / PS)
    for p in (0.01, 0.05):
        assert z.es(p) == pytest.approx(_es_by_integral(stats.norm.pdf, stats.norm.ppf(p), p))
    assert z.cdf(0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("nu", [2.5, 4.0, 8.0, 30.0])
def test_student_t_is_standardized_and_matches_scipy(nu):
    z = StudentT(nu)
    scale = np.sqrt((nu - 2) / nu)
    dist = stats.t(nu, scale=scale)  # the standardized t, built independently
    assert dist.var() == pytest.approx(1.0)
    assert np.allclose(z.quantile(PS), dist.ppf(PS))
    assert np.allclose(z.cdf([-2.0, 0.0, 1.3]), dist.cdf([-2.0, 0.0, 1.3]))
    # the closed form of the standard t's ES, scaled, and the integral of the scaled density
    tp = stats.t.ppf(PS, nu)
    closed = -scale * (nu + tp**2) / (nu - 1) * stats.t.pdf(tp, nu) / PS
    assert np.allclose(z.es(PS), closed)
    for p in (0.01, 0.05):
        assert z.es(p) == pytest.approx(_es_by_integral(dist.pdf, dist.ppf(p), p), rel=1e-6)


def test_student_t_tends_to_normal():
    assert StudentT(1e6).es(0.05) == pytest.approx(Normal().es(0.05), rel=1e-4)


@pytest.mark.parametrize("nu", [2.0, 1.5, float("nan"), float("inf")])
def test_student_t_needs_nu_above_two(nu):
    with pytest.raises(CoincastError, match=r"nu .* must be a number > 2"):
        StudentT(nu)


def test_empirical_against_direct_computation():
    sample = np.random.default_rng(3).standard_t(5, size=777)
    z = Empirical(sample)
    for p in (0.01, 0.05, 0.1, 0.5):
        q = np.quantile(sample, p)
        assert z.quantile(p) == pytest.approx(q)
        assert z.es(p) == pytest.approx(sample[sample <= q].mean())
    assert np.allclose(z.es(PS), [sample[sample <= np.quantile(sample, p)].mean() for p in PS])
    for x in (-1.0, 0.0, 2.0):
        assert z.cdf(x) == pytest.approx(np.mean(sample <= x))


def test_empirical_es_at_the_smallest_value_is_that_value():
    z = Empirical(np.array([3.0, -2.0, 1.0, 0.0]))
    assert z.es(1e-9) == pytest.approx(-2.0)


def test_empirical_drops_non_finite_and_needs_two():
    assert len(Empirical(np.array([1.0, np.nan, -1.0, np.inf])).z) == 2
    with pytest.raises(CoincastError, match="at least 2 finite"):
        Empirical(np.array([1.0, np.nan]))


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_p_must_be_inside_zero_one(p):
    with pytest.raises(CoincastError, match=r"p \(.*\) must lie strictly between 0 and 1"):
        Normal().quantile(p)


def test_var_es_scales_the_innovation():
    mean, variance = np.array([0.001, -0.002]), np.array([0.0004, 0.0009])
    q, es = var_es(mean, variance, StudentT(5), 0.01)
    assert np.allclose(q, mean + np.sqrt(variance) * StudentT(5).quantile(0.01))
    assert np.allclose(es, mean + np.sqrt(variance) * StudentT(5).es(0.01))
    assert (es < q).all() and (q < 0).all()


def test_var_es_exceedances_on_simulated_returns():
    """Returns drawn from the model itself breach VaR about p of the time."""
    rng = np.random.default_rng(0)
    sigma = 0.01 * np.exp(rng.normal(size=20_000) / 2)
    r = sigma * rng.standard_normal(len(sigma))
    q, es = var_es(0.0, sigma**2, Normal(), 0.05)
    assert np.mean(r < q) == pytest.approx(0.05, abs=0.005)
    hit = r < q
    assert np.mean(r[hit]) == pytest.approx(np.mean(es[hit]), rel=0.05)


def test_var_es_rejects_negative_variance():
    with pytest.raises(CoincastError, match="variance must be >= 0"):
        var_es(0.0, -1.0, Normal(), 0.05)


@pytest.mark.parametrize("z", [Normal(), StudentT(4.5), Empirical(np.linspace(-3, 3, 11))])
def test_round_trip_through_dict(z):
    back = innovation_from_dict(z.to_dict())
    assert type(back) is type(z) and back.name == z.name
    assert np.allclose(back.quantile(PS), z.quantile(PS))


def test_unknown_innovation_name():
    with pytest.raises(CoincastError, match="unknown innovation 'skewt'"):
        innovation_from_dict({"name": "skewt"})
