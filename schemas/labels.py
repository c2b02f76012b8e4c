"""Class-label comparison shared by the join, the engine and the simulator.

Predictions and labels may carry a class as bool, int or string. `True` and `1` (and `False`
and `0`) name the same class, as they do in most model outputs; strings match exactly, so
`"1"` is not `1`. A float is never a class label (the schemas reject it).
"""

from __future__ import annotations

from schemas.joined import ClassLabel


def class_key(value: ClassLabel) -> tuple[str, str]:
    """A hashable, type-aware key: bools fold onto ints, strings stay strings.

    >>> class_key(True) == class_key(1)
    True
    >>> class_key("1") == class_key(1)
    False
    """
    if isinstance(value, bool):
        return ("int", str(int(value)))
    if isinstance(value, int):
        return ("int", str(value))
    return ("str", value)


def same_class(a: ClassLabel, b: ClassLabel) -> bool:
    """True when two class labels name the same class (see `class_key`)."""
    return class_key(a) == class_key(b)
