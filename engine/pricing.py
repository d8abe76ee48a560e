"""Prices in USD per million tokens (input, output). A model not listed costs 0
and the step says so; add yours here or set prices on a credential later."""
from __future__ import annotations

PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o4-mini": (1.10, 4.40),
    # The fake server the tests and benchmarks run answers as this model.
    "fake-model": (1.00, 2.00),
    "demo": (0.0, 0.0),
}


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    price = PRICES_PER_MILLION.get(model)
    if price is None:
        # Dated snapshots ("gpt-4o-2024-08-06") cost what their family costs.
        family = max((name for name in PRICES_PER_MILLION if model.startswith(name + "-")), key=len, default=None)
        price = PRICES_PER_MILLION.get(family) if family else None
    if price is None:
        return 0.0
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
