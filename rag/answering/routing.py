"""Which answerer writes which kind of answer: the lookup over routes.json's routes (pure, no I/O).

routes.json maps "shape/language" (factoid/zh, open/en, …) to "auto", "model" or "extractive", and
"*/language" to the route of the kinds its fitting run had too few cases of (scripts/choose_routing.py).
Kept apart from rag/answering/model.py, which reads routes.json when imported (and refuses a bad route), so
that the fitting script still runs and can rewrite the file.
"""

from __future__ import annotations

from collections.abc import Mapping


def route_for(routes: Mapping[str, str], shape: str, language: str) -> str:
    """Which answerer writes a `shape` answer in `language`: the kind's own route, else its language's ("*/en":
    kinds the fitting run had too few of), else "auto"."""
    return routes.get(f"{shape}/{language}") or routes.get(f"*/{language}") or "auto"
