"""Which answerer writes which kind of answer: the lookup over routes.json's routes (pure, no I/O).

routes.json maps "shape/language" (factoid/zh, open/en, …) to "auto", "model" or "extractive", and
"*/language" to the route of the kinds its fitting run had too few cases of (scripts/choose_routing.py);
"shape/language/text" and "*/language/text" route questions in `language` over passages written in `text` (step 76:
English questions over English text, whose fitting runs had only the Chinese article).
Kept apart from rag/answering/model.py, which reads routes.json when imported (and refuses a bad route), so
that the fitting script still runs and can rewrite the file.
"""

from __future__ import annotations

from collections.abc import Mapping


def route_for(routes: Mapping[str, str], shape: str, language: str, text: str | None = None) -> str:
    """Which answerer writes a `shape` answer in `language`: the kind's own route, else its language's ("*/en":
    kinds the fitting run had too few of), else "auto". With `text`, the language the passages are written in
    (`text_language`), a route for questions in `language` over such text ("factoid/en/en", "*/en/en") comes first:
    English questions were fitted over the Chinese article, and an English document is another case (README step
    76)."""
    keys = ([f"{shape}/{language}/{text}", f"*/{language}/{text}"] if text else []) + [f"{shape}/{language}",
                                                                                     f"*/{language}"]
    return next((routes[k] for k in keys if routes.get(k)), "auto")


def text_language(language: str, cross_language: bool) -> str | None:
    """The language of the passages an English question is asked over, for `route_for`: "zh" where its best sentence
    is mostly Chinese (the extractive analysis's `cross_language`), else "en"; None for a question in another
    language (its routes are its language's)."""
    if language != "en":
        return None
    return "zh" if cross_language else "en"
