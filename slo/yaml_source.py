"""Parse YAML while remembering the line of every key, so spec errors can name it.

PyYAML's composer keeps a mark (line, column) on every node; we walk the node tree once, record
``key path -> line`` and refuse duplicate keys (which plain ``yaml.safe_load`` silently resolves
to the last one, hiding a typo'd override).

>>> data, lines = compose_yaml("slos:\\n  - name: a\\n    objective: 0.9\\n", "x.yaml")
>>> data
{'slos': [{'name': 'a', 'objective': 0.9}]}
>>> lines.line_of(("slos", 0, "objective")), lines.line_of(("slos", 0, "missing"))
(3, 2)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from slo.spec_errors import PathPart, SloSpecError, SpecProblem


class LineMap:
    """1-based line of each key path; unknown paths fall back to their nearest known parent."""

    __slots__ = ("_lines", "_loose")

    def __init__(self) -> None:
        self._lines: dict[tuple[PathPart, ...], int] = {}
        # Plain scalars that YAML 1.1 turns into a bool or an int the text does not plainly say
        # (`yes`, `on`, `0x1`, `1_0`, `12:30`): path -> the text as written.
        self._loose: dict[tuple[PathPart, ...], str] = {}

    def loose_reading(self, path: Sequence[PathPart]) -> str | None:
        """The text of the scalar at `path` when YAML read it as a bool or int it does not plainly
        spell (`yes` is True, `0x1` is 1); else None."""
        return self._loose.get(tuple(path))

    def set(self, path: tuple[PathPart, ...], line: int) -> None:
        self._lines.setdefault(path, line)

    def set_loose(self, path: tuple[PathPart, ...], text: str) -> None:
        self._loose[path] = text

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return self._lines.get((), None)


def _key_of(node: yaml.Node) -> PathPart:
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith(":int"):
            try:
                return int(node.value)
            except ValueError:
                return node.value
        return node.value
    return f"<{node.id}>"


def _walk(node: yaml.Node, path: tuple[PathPart, ...], lines: LineMap, source: str,
          problems: list[SpecProblem], depth: int = 0) -> None:
    if depth > 64:  # recursive aliases; the constructor reports them
        return
    lines.set(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[PathPart, int] = {}
        for key_node, value_node in node.value:
            key = _key_of(key_node)
            line = key_node.start_mark.line + 1
            if key == "<<":
                _walk(value_node, path, lines, source, problems, depth + 1)
                continue
            if key in first_seen:
                problems.append(SpecProblem(source, line, path + (key,),
                                            f"duplicate key (first given at line {first_seen[key]})"))
                continue
            first_seen[key] = line
            lines.set(path + (key,), line)
            _walk(value_node, path + (key,), lines, source, problems, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, source, problems, depth + 1)
    elif isinstance(node, yaml.ScalarNode) and node.style is None and _reads_loosely(node):
        lines.set_loose(path, node.value)


_PLAIN_BOOL = ("true", "false")
_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


def _reads_loosely(node: yaml.ScalarNode) -> bool:
    if node.tag.endswith(":bool"):
        return node.value.lower() not in _PLAIN_BOOL
    if node.tag.endswith(":int"):
        return _PLAIN_INT.fullmatch(node.value) is None
    return False


def _syntax_error(err: yaml.YAMLError, source: str) -> SloSpecError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"invalid YAML: {what}" + (f" ({context})" if context else "")
    return SloSpecError([SpecProblem(source, line, (), message)])


def compose_documents(text: str, source: str) -> list[tuple[Any, LineMap]]:
    """Every YAML document in ``text`` as (data, line map); raise SloSpecError on bad YAML."""
    loader = yaml.SafeLoader(text)
    out: list[tuple[Any, LineMap]] = []
    problems: list[SpecProblem] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            lines = LineMap()
            if node is None:
                continue
            _walk(node, (), lines, source, problems)
            out.append((loader.construct_document(node), lines))
    except yaml.YAMLError as err:
        raise _syntax_error(err, source) from None
    finally:
        loader.dispose()
    if problems:
        raise SloSpecError(problems)
    return out


def compose_yaml(text: str, source: str) -> tuple[Any, LineMap]:
    """The single YAML document in ``text`` (None when empty) and its line map."""
    docs = compose_documents(text, source)
    if len(docs) > 1:
        raise SloSpecError([SpecProblem(source, None, (),
                                        f"expected one YAML document, found {len(docs)}")])
    return docs[0] if docs else (None, LineMap())
