"""The numbers of an experiment, as pure functions of plain data.

`scores[label][case_id]` is the list of a variant's scores on a case (one per
repeat). A case's winner is the variant with the highest mean score; equal
means (within `TIE_EPS`) are a tie. Next to the A/B pattern's confidence label
(a share of wins) stand two honest statistics: an exact two-sided sign test
over the decided cases, and a bootstrap 95 % interval of the mean per-case
score difference."""
from __future__ import annotations

import math
import random
from statistics import fmean
from typing import Any, Mapping, Sequence

TIE_EPS = 1e-9
RESAMPLES = 2000
SEED = 20240611

Scores = Mapping[str, Mapping[Any, Sequence[float]]]


def case_means(scores: Scores) -> dict[str, dict[Any, float]]:
    """Each variant's mean score per case, over the repeats that were scored."""
    return {label: {case: fmean(values) for case, values in per_case.items() if values} for label, per_case in scores.items()}


def case_winner(means: Mapping[str, float]) -> str | None:
    """The label with the highest mean, or None for a tie at the top."""
    if not means:
        return None
    ranked = sorted(means.items(), key=lambda item: item[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= TIE_EPS:
        return None
    return ranked[0][0]


def case_winners(means: Mapping[str, Mapping[Any, float]], labels: Sequence[str]) -> dict[Any, str | None]:
    """The winner of every case that every variant has a score for."""
    cases = set.intersection(*(set(means.get(label, {})) for label in labels)) if labels else set()
    return {case: case_winner({label: means[label][case] for label in labels}) for case in sorted(cases, key=str)}


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided sign test: how likely a split at least this lopsided is if
    both variants were equally good (each decided case a fair coin). Ties are
    left out, as the sign test prescribes."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def confidence_label(leader_wins: int, decided: int) -> str:
    """The A/B pattern's label: HIGH when the leader wins > 70 % of the decided
    cases, MEDIUM for 60–70 %, LOW below 60 % (or with nothing decided)."""
    if decided == 0:
        return "LOW"
    share = leader_wins / decided
    if share > 0.7 + 1e-12:
        return "HIGH"
    if share >= 0.6 - 1e-12:
        return "MEDIUM"
    return "LOW"


def bootstrap_interval(differences: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                       level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of `differences` (cases resampled
    with replacement); seeded, so the same data gives the same interval."""
    if not differences:
        return None
    rng = random.Random(seed)
    n = len(differences)
    means = sorted(fmean(rng.choices(differences, k=n)) for _ in range(resamples))
    low_index = int(math.floor((1 - level) / 2 * resamples))
    high_index = min(resamples - 1, int(math.ceil((1 + level) / 2 * resamples)) - 1)
    return means[low_index], means[high_index]


def compare(means: Mapping[str, Mapping[Any, float]], baseline: str, challenger: str) -> dict[str, Any]:
    """Challenger against baseline over the cases both have scores for."""
    cases = sorted(set(means.get(baseline, {})) & set(means.get(challenger, {})), key=str)
    wins = losses = ties = 0
    differences = []
    for case in cases:
        diff = means[challenger][case] - means[baseline][case]
        differences.append(diff)
        if abs(diff) <= TIE_EPS:
            ties += 1
        elif diff > 0:
            wins += 1
        else:
            losses += 1
    decided = wins + losses
    leader = challenger if wins > losses else baseline if losses > wins else None
    leader_wins = max(wins, losses)
    interval = bootstrap_interval(differences)
    p_value = sign_test_p(wins, losses)
    return {
        "baseline": baseline,
        "challenger": challenger,
        "cases": len(cases),
        "wins": {challenger: wins, baseline: losses},
        "ties": ties,
        "decided": decided,
        "leader": leader,
        "leader_share": (leader_wins / decided) if decided and leader else None,
        "confidence": confidence_label(leader_wins, decided) if leader else "LOW",
        "p_value": p_value,
        "mean_difference": fmean(differences) if differences else None,
        "interval": list(interval) if interval else None,
        "explanation": explain(baseline, challenger, wins, losses, ties, p_value, interval),
    }


def explain(baseline: str, challenger: str, wins: int, losses: int, ties: int, p_value: float,
            interval: tuple[float, float] | None) -> str:
    """The comparison in plain words, for the experiment page."""
    decided = wins + losses
    if decided == 0:
        return f"{challenger} and {baseline} tied on every case: no difference to report."
    leader, trailer, lead = (challenger, baseline, wins) if wins >= losses else (baseline, challenger, losses)
    words = [f"{leader} won {lead} of {decided} decided cases against {trailer}" + (f" ({ties} tied)." if ties else ".")]
    words.append(
        f"If the two were equally good, a split at least this lopsided would happen with probability {p_value:.3g} (sign test)"
        + ("; that is unlikely to be chance." if p_value < 0.05 else "; that could well be chance — more cases would tell.")
    )
    if interval:
        low, high = interval
        where = "excludes 0, so the difference is" if low > 0 or high < 0 else "includes 0, so the difference is not"
        words.append(
            f"{challenger} minus {baseline} in mean score per case lies between {low:+.3f} and {high:+.3f} "
            f"(bootstrap 95 % interval); the interval {where} clearly established."
        )
    return " ".join(words)


def summarize(scores: Scores, labels: Sequence[str]) -> dict[str, Any]:
    """Per-case winners, win rates, ties and each variant compared with the first (the baseline)."""
    means = case_means(scores)
    winners = case_winners(means, labels)
    cases = len(winners)
    ties = sum(1 for winner in winners.values() if winner is None)
    wins = {label: sum(1 for winner in winners.values() if winner == label) for label in labels}
    rates = {label: (wins[label] / cases if cases else 0.0) for label in labels}
    decided = cases - ties
    leader = max(labels, key=lambda label: wins[label]) if labels and decided else None
    if leader is not None and sum(1 for label in labels if wins[label] == wins[leader]) > 1:
        leader = None  # level on wins: nobody leads
    comparisons = [compare(means, labels[0], label) for label in labels[1:]]
    return {
        "cases": cases,
        "ties": ties,
        "tie_rate": ties / cases if cases else 0.0,
        "wins": wins,
        "win_rates": rates,
        "leader": leader,
        "confidence": comparisons[0]["confidence"] if len(labels) == 2 else (confidence_label(wins[leader], decided) if leader else "LOW"),
        "comparisons": comparisons,
        "winners": winners,
        "means": means,
    }


def variant_metrics(trials: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean score, pass rate, latency, tokens and cost over one variant's scored trials."""
    scored = [t for t in trials if t.get("score") is not None]

    def mean(key: str) -> float | None:
        values = [t[key] for t in scored if t.get(key) is not None]
        return fmean(values) if values else None

    return {
        "trials": len(scored),
        "errors": sum(1 for t in scored if t.get("error")),
        "mean_score": mean("score"),
        "pass_rate": (sum(1 for t in scored if t.get("passed")) / len(scored)) if scored else None,
        "mean_latency_ms": mean("latency_ms"),
        "mean_tokens": mean("tokens"),
        "mean_cost_usd": mean("cost_usd"),
        "total_cost_usd": sum(t.get("cost_usd") or 0.0 for t in scored),
    }
