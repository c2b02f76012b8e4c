"""Turning a prediction's features into a row of numbers, with a bounded vocabulary.

Column 0 is the model's score (named ``__score__``); then one column per feature, in order of
first appearance. Numeric features are stored as they are; categorical ones (strings and
booleans, or names listed as categorical) as integer codes of a per-feature vocabulary capped at
`max_categories` (later values share one ``__other__`` code), so memory stays bounded whatever
the input. A feature's kind is fixed by its first non-null value unless configured. Missing,
null or mismatched values (a string in a numeric feature) are NaN, and mismatches are counted.

>>> codec = FeatureCodec(max_features=10, max_categories=3)
>>> codec.encode(0.9, {"amount": 12.5, "merchant": "grocery", "age": None})
[0.9, 12.5, 0.0, nan]
>>> codec.encode(None, {"merchant": "travel", "amount": "oops"})
[nan, nan, 1.0, nan]
>>> codec.columns, codec.kinds, codec.mismatched
(['__score__', 'amount', 'merchant', 'age'], ['numeric', 'numeric', 'categorical', None], 1)
>>> [codec.encode(0.5, {"merchant": m})[2] for m in ("fashion", "crypto", "grocery")]
[2.0, 2.0, 0.0]
>>> codec.category_names("merchant")
['grocery', 'travel', '__other__']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

NAN = float("nan")
SCORE = "__score__"   # the model score's column (a feature may be called "score")
OTHER = "__other__"


class FeatureCodec:
    """Column names, kinds and category vocabularies of one monitor (picklable, bounded)."""

    __slots__ = ("columns", "kinds", "index", "vocab", "max_features", "max_categories",
                 "categorical", "only", "ignored", "mismatched")

    def __init__(self, max_features: int = 100, max_categories: int = 64,
                 categorical: Iterable[str] = (), only: Iterable[str] | None = None):
        self.columns: list[str] = [SCORE]
        self.kinds: list[str | None] = ["numeric"]
        self.index: dict[str, int] = {}
        self.vocab: dict[str, dict[str, float]] = {}
        self.max_features = max_features
        self.max_categories = max_categories
        self.categorical = frozenset(categorical)
        self.only = None if only is None else frozenset(only)
        self.ignored = 0        # features dropped: not listed, or beyond max_features
        self.mismatched = 0     # values of the wrong kind (stored as missing)
        if only is not None:
            for name in only:
                self._add_column(name)

    def _add_column(self, name: str) -> int:
        self.index[name] = len(self.columns)
        self.columns.append(name)
        self.kinds.append("categorical" if name in self.categorical else None)
        return self.index[name]

    def encode(self, score: float | None, features: Mapping[str, Any] | None) -> list[float]:
        """The row for one prediction: score, then every known column (NaN where absent)."""
        row = [NAN] * len(self.columns)
        row[0] = NAN if score is None else float(score)
        for name, value in (features or {}).items():
            col = self.index.get(name)
            if col is None:
                if (self.only is not None or len(self.columns) - 1 >= self.max_features
                        or name == SCORE):
                    self.ignored += 1
                    continue
                col = self._add_column(name)
                row.append(NAN)
            row[col] = self._value(col, name, value)
        return row

    def _value(self, col: int, name: str, value: Any) -> float:
        if value is None:
            return NAN
        kind = self.kinds[col]
        if kind is None:
            kind = "numeric" if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else "categorical"
            self.kinds[col] = kind
        if kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.mismatched += 1
                return NAN
            number = float(value)
            return number if math.isfinite(number) else NAN
        return self._code(name, value)

    def _code(self, name: str, value: Any) -> float:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        vocab = self.vocab.setdefault(name, {})
        code = vocab.get(text)
        if code is None:
            if len(vocab) >= self.max_categories - 1 and text != OTHER:
                text = OTHER
                code = vocab.get(OTHER)
            if code is None:
                code = float(len(vocab))
                vocab[text] = code
        return code

    def category_names(self, name: str) -> list[str]:
        """The vocabulary of a categorical feature, in code order."""
        return list(self.vocab.get(name, {}))

    def kind(self, col: int) -> str | None:
        return self.kinds[col]

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
