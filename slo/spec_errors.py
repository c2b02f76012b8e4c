"""The error raised for an invalid SLO file, and the helpers that make it point at the line.

One message per problem: ``file:line: key.path: what is wrong``, so an editor or CI log jumps
straight to it. All problems found are kept in `SloSpecError.problems`; `str()` lists them in
line order (the first line alone is the usual one-problem case).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PathPart = str | int


def format_path(path: Sequence[PathPart]) -> str:
    """Render a key path the way users read it in YAML.

    >>> format_path(("slos", 0, "objective"))
    'slos[0].objective'
    >>> format_path(())
    '(top level)'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` hint for a close spelling, else an empty string.

    >>> did_you_mean("objectve", ["objective", "window"])
    " (did you mean 'objective'?)"
    >>> did_you_mean("zzz", ["objective"])
    ''
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One problem: where (source, 1-based line, key path) and what."""

    source: str
    line: int | None
    path: tuple[PathPart, ...]
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        if self.path:
            return f"{where}: {format_path(self.path)}: {self.message}"
        return f"{where}: {self.message}"


class SloSpecError(ValueError):
    """An SLO file that cannot be used, with every problem found in it.

    >>> err = SloSpecError([SpecProblem("slos.yaml", 7, ("slos", 0, "objective"),
    ...                                 "must be between 0 and 1 (got 1.5)")])
    >>> str(err)
    'slos.yaml:7: slos[0].objective: must be between 0 and 1 (got 1.5)'
    >>> err.line, err.path
    (7, 'slos[0].objective')
    """

    def __init__(self, problems: Sequence[SpecProblem]):
        if not problems:
            raise ValueError("SloSpecError needs at least one problem")
        ordered = sorted(problems, key=lambda p: (p.line if p.line is not None else 1 << 30))
        self.problems: tuple[SpecProblem, ...] = tuple(ordered)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def line(self) -> int | None:
        """Line of the first problem (1-based)."""
        return self.problems[0].line

    @property
    def path(self) -> str:
        """Key path of the first problem, as text."""
        return format_path(self.problems[0].path)
