"""Bootstrap intervals over seeds and outcomes, and the onset step."""

from __future__ import annotations

import math

import numpy as np

from rhem.evals.stats import bootstrap_rate, onset_step


def test_constant_outcomes_have_a_point_interval() -> None:
    assert bootstrap_rate([np.ones(20), np.ones(5)]) == (1.0, 1.0, 1.0)


def test_interval_holds_the_point_and_widens_with_seed_spread() -> None:
    agree = [np.r_[np.ones(10), np.zeros(10)]] * 3
    differ = [np.ones(20), np.zeros(20), np.r_[np.ones(10), np.zeros(10)]]
    for groups in (agree, differ):
        rate, lo, hi = bootstrap_rate(groups)
        assert lo <= rate <= hi
        assert math.isclose(rate, 0.5)
    assert np.subtract(*bootstrap_rate(differ)[2:0:-1]) > np.subtract(*bootstrap_rate(agree)[2:0:-1])


def test_same_seed_gives_the_same_interval() -> None:
    groups = [np.r_[np.ones(3), np.zeros(7)], np.r_[np.ones(6), np.zeros(4)]]
    assert bootstrap_rate(groups, seed=1) == bootstrap_rate(groups, seed=1)


def test_missing_outcomes_are_dropped_not_counted() -> None:
    assert bootstrap_rate([np.array([1.0, np.nan, 1.0])]) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_rate([np.array([np.nan]), np.array([])]))


def test_onset_is_the_first_step_above_two_percent() -> None:
    assert onset_step(np.array([1, 2, 3]), np.array([0.0, 0.03, 0.5])) == 2
    assert onset_step(np.array([1, 2]), np.array([0.0, 0.02])) is None
