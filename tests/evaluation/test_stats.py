"""evaluation/stats.py: the numbers a user reads off the experiment page."""
from __future__ import annotations

import math

import pytest

from evaluation import stats


@pytest.mark.parametrize(
    "wins, losses, expected",
    [
        (3, 0, 0.25),  # 2 × (1/2)^3
        (6, 0, 0.03125),  # 2 × (1/2)^6
        (10, 0, 2 / 1024),
        (8, 2, 2 * (1 + 10 + 45) / 1024),  # 0.109375, the textbook value for 8 of 10
        (2, 8, 2 * (1 + 10 + 45) / 1024),  # two-sided: symmetric
        (15, 5, 0.04138946533203125),  # binom.test(15, 20)$p.value in R
        (5, 5, 1.0),  # capped at 1
        (0, 0, 1.0),  # nothing decided: no evidence
        (1, 0, 1.0),
    ],
)
def test_sign_test_matches_the_exact_binomial(wins, losses, expected):
    assert stats.sign_test_p(wins, losses) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "leader_wins, decided, label",
    [
        (71, 100, "HIGH"),
        (70, 100, "MEDIUM"),  # exactly 70 % is not "> 70 %"
        (7, 10, "MEDIUM"),
        (60, 100, "MEDIUM"),  # exactly 60 % is MEDIUM
        (3, 5, "MEDIUM"),
        (59, 100, "LOW"),
        (1, 2, "LOW"),
        (3, 3, "HIGH"),
        (0, 0, "LOW"),
    ],
)
def test_confidence_label_at_the_boundaries(leader_wins, decided, label):
    assert stats.confidence_label(leader_wins, decided) == label


def test_a_case_is_a_tie_when_the_means_are_equal_within_1e_9():
    assert stats.case_winner({"A": 0.5, "B": 0.5 + 1e-10}) is None
    assert stats.case_winner({"A": 0.5, "B": 0.5 + 1e-6}) == "B"
    # Float noise from averaging repeats must not decide a case.
    means = stats.case_means({"A": {1: [0.1, 0.2]}, "B": {1: [0.15, 0.15]}})
    assert stats.case_winner({"A": means["A"][1], "B": means["B"][1]}) is None


def test_summary_counts_wins_ties_and_win_rates_over_all_cases():
    scores = {
        "A": {1: [1.0, 1.0], 2: [0.0, 0.0], 3: [0.5, 0.5], 4: [0.0, 1.0]},
        "B": {1: [0.0, 0.0], 2: [1.0, 1.0], 3: [0.5, 0.5], 4: [1.0, 1.0]},
    }
    summary = stats.summarize(scores, ["A", "B"])
    assert summary["winners"] == {1: "A", 2: "B", 3: None, 4: "B"}
    assert summary["wins"] == {"A": 1, "B": 2}
    assert summary["ties"] == 1 and summary["tie_rate"] == 0.25
    assert summary["win_rates"] == {"A": 0.25, "B": 0.5}
    assert summary["leader"] == "B"
    comparison = summary["comparisons"][0]
    assert comparison["wins"] == {"B": 2, "A": 1} and comparison["ties"] == 1
    # B wins 2 of 3 decided cases: 66.7 % → MEDIUM, and a sign test that says "could be chance".
    assert summary["confidence"] == "MEDIUM"
    assert comparison["p_value"] == pytest.approx(1.0)
    assert "could well be chance" in comparison["explanation"]


def test_all_ties_means_nobody_leads():
    summary = stats.summarize({"A": {1: [1.0]}, "B": {1: [1.0]}}, ["A", "B"])
    assert summary["leader"] is None and summary["confidence"] == "LOW"
    assert "tied on every case" in summary["comparisons"][0]["explanation"]


def test_cases_missing_for_a_variant_are_left_out():
    summary = stats.summarize({"A": {1: [1.0], 2: [1.0]}, "B": {1: [0.0]}}, ["A", "B"])
    assert summary["cases"] == 1 and summary["wins"] == {"A": 1, "B": 0}


def test_bootstrap_interval_is_deterministic_and_brackets_the_mean():
    differences = [0.1, 0.4, -0.2, 0.3, 0.5, 0.0, 0.2, 0.6]
    first = stats.bootstrap_interval(differences)
    assert first == stats.bootstrap_interval(differences)  # seeded: same data, same interval
    low, high = first
    assert low < sum(differences) / len(differences) < high
    assert stats.bootstrap_interval([0.25] * 5) == (0.25, 0.25)
    assert stats.bootstrap_interval([]) is None


def test_a_clear_win_has_an_interval_above_zero_and_says_so():
    scores = {"A": {c: [0.0] for c in range(8)}, "B": {c: [1.0] for c in range(8)}}
    comparison = stats.summarize(scores, ["A", "B"])["comparisons"][0]
    assert comparison["interval"] == [1.0, 1.0]
    assert comparison["p_value"] == pytest.approx(2 / 256)
    assert comparison["confidence"] == "HIGH"
    assert "unlikely to be chance" in comparison["explanation"] and "excludes 0" in comparison["explanation"]


def test_more_than_two_variants_are_each_compared_with_the_first():
    scores = {
        "A": {1: [0.5], 2: [0.5], 3: [0.5]},
        "B": {1: [1.0], 2: [1.0], 3: [1.0]},
        "C": {1: [0.0], 2: [0.0], 3: [1.0]},
    }
    summary = stats.summarize(scores, ["A", "B", "C"])
    assert [(c["baseline"], c["challenger"]) for c in summary["comparisons"]] == [("A", "B"), ("A", "C")]
    # Case 3: B and C both score 1.0 → a tie at the top; cases 1 and 2 go to B.
    assert summary["winners"] == {1: "B", 2: "B", 3: None}
    a_vs_c = summary["comparisons"][1]
    assert a_vs_c["wins"] == {"C": 1, "A": 2}
    assert a_vs_c["mean_difference"] == pytest.approx((-0.5 - 0.5 + 0.5) / 3)


def test_variant_metrics_average_latency_tokens_and_cost():
    metrics = stats.variant_metrics([
        {"score": 1.0, "passed": True, "latency_ms": 100, "tokens": 10, "cost_usd": 0.001, "error": ""},
        {"score": 0.0, "passed": False, "latency_ms": 300, "tokens": 30, "cost_usd": 0.003, "error": "run failed"},
    ])
    assert metrics["mean_score"] == 0.5 and metrics["pass_rate"] == 0.5
    assert metrics["mean_latency_ms"] == 200 and metrics["mean_tokens"] == 20
    assert math.isclose(metrics["mean_cost_usd"], 0.002) and math.isclose(metrics["total_cost_usd"], 0.004)
    assert metrics["errors"] == 1
