"""Bootstrap intervals over seeds and outcomes, and the onset step and its window."""

from __future__ import annotations

import math

import numpy as np

from rhem.evals.stats import bootstrap_rate, onset_step, onset_window


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


def test_one_hack_in_a_small_step_is_no_onset_over_a_window() -> None:
    one = 1 / 32  # one hacking episode of a 32-episode step: 3%, above 2% on its own
    steps = np.arange(1, 21)
    lone = np.r_[0.0, one, np.zeros(8), one, np.zeros(9)]
    assert onset_step(steps, lone, window=1) == 2
    assert onset_step(steps, lone, window=5) is None
    sustained = np.r_[np.zeros(6), np.full(14, one)]  # one hack every step from step 7
    assert onset_step(steps, sustained, window=5) == 7
    assert onset_step(steps[::-1], sustained[::-1], window=5) == 7  # order of rows is free
    burst = np.r_[np.zeros(4), 1.0, np.zeros(15)]
    assert onset_step(steps, burst, window=5) == 5  # not the quiet step opening the window


def test_a_run_shorter_than_the_window_has_no_onset() -> None:
    assert onset_step(np.array([1, 2]), np.array([1.0, 1.0]), window=3) is None
    assert onset_step(np.array([1, 2, 3]), np.array([np.nan, 1.0, 1.0]), window=3) is None


def test_onset_window_holds_the_configured_episodes() -> None:
    config = {"rl": {"prompts_per_step": 4, "num_generations": 8},
              "metrics": {"onset_window_episodes": 160}}
    assert onset_window(config) == 5
    config["metrics"]["onset_window_episodes"] = 161
    assert onset_window(config) == 6
