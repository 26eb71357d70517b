from __future__ import annotations

import math

import pytest

from roots.eval.stats import mean_interval, paired_difference


def test_mean_interval_hand_worked():
    # mean 2, standard error 1/sqrt(3), t(0.975, 2 dof) = 4.302653 -> half width 2.484138
    iv = mean_interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.n == 3
    assert iv.low == pytest.approx(2 - 2.484138, abs=1e-5) and iv.high == pytest.approx(2 + 2.484138, abs=1e-5)
    assert iv.excludes(-1.0) and not iv.excludes(0.0)


def test_one_value_has_no_interval_and_excludes_nothing():
    iv = mean_interval([4.2])
    assert not iv.defined and not iv.excludes(0.0)
    assert iv.to_dict()["low"] is None and "no interval" in str(iv)
    with pytest.raises(ValueError):
        mean_interval([])


def test_paired_difference_agrees_with_paired_t_test():
    from scipy import stats

    a = [4.10, 4.21, 4.05, 4.17]
    b = [4.30, 4.33, 4.29, 4.35]
    diff = paired_difference(a, b)
    assert diff.mean == pytest.approx(-0.185)
    # the 95% interval excludes 0 exactly when the two-sided paired t-test has p < 0.05
    assert diff.excludes(0.0) and diff.high < 0
    assert bool(stats.ttest_rel(a, b).pvalue < 0.05)
    noisy = paired_difference([4.1, 4.5, 4.0], [4.3, 4.2, 4.25])
    assert not noisy.excludes(0.0) and stats.ttest_rel([4.1, 4.5, 4.0], [4.3, 4.2, 4.25]).pvalue >= 0.05
    same = paired_difference([1.0, 2.0], [1.0, 2.0])
    assert same.low == same.high == 0.0 and not same.excludes(0.0)
    assert not math.isnan(same.mean)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [1.0, 2.0])
