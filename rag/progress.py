"""One structured progress event for indexing, readable as the line it prints.

`Progress` is a str (the human line, exactly as before) that also carries `stage`, `done` and `total`,
so callbacks written for lines (print, ui.py's gr.Progress reporter) keep working unchanged, while new
ones (the CLI's tqdm bars) read the numbers instead of parsing them back out of the text.
"""

from __future__ import annotations

from collections.abc import Callable


class Progress(str):
    stage: str
    done: int
    total: int

    def __new__(cls, message: str, stage: str = "", done: int = 0, total: int = 0) -> Progress:
        event = super().__new__(cls, message)
        event.stage, event.done, event.total = stage, done, total
        return event

    @property
    def fraction(self) -> float | None:
        """done/total, or None for a message without counts."""
        return self.done / self.total if self.total else None


OnProgress = Callable[[Progress], None]  # also accepts any Callable[[str], None]


def as_progress(message: str) -> Progress:
    return message if isinstance(message, Progress) else Progress(message)
