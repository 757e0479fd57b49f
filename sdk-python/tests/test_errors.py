"""The exception classes are the core's stable error kinds: one class per kind, same codes and
the same hierarchy (``ddiscord._native.error_kinds()`` is the core's list)."""

from __future__ import annotations

import builtins

import ddiscord
from ddiscord import _native, errors


def test_every_kind_has_its_class_with_the_listed_bases() -> None:
    for code, name, parent, builtin, doc in _native.error_kinds():
        cls = getattr(errors, name, None)
        assert isinstance(cls, type), f"ddiscord.errors has no class {name} for kind {code}"
        assert issubclass(cls, errors.DDiscordError)
        assert cls.code == code, name
        assert name in errors.__all__ and name in ddiscord.__all__, name
        assert getattr(ddiscord, name) is cls
        expected: list[type] = []
        if parent is not None:
            expected.append(getattr(errors, parent))
        else:
            expected.append(errors.DDiscordError)
        if builtin is not None:
            expected.append(getattr(builtins, builtin))
        assert list(cls.__bases__) == expected, f"{name}: {cls.__bases__} != {expected}"
        assert doc


def test_no_class_without_a_kind() -> None:
    listed = {name for _, name, _, _, _ in _native.error_kinds()}
    defined = {name for name in errors.__all__ if name != "DDiscordError"}
    assert defined == listed


def test_native_errors_raise_the_kind_class() -> None:
    try:
        _native.validate_pattern("discord//x")
    except ddiscord.PatternError as e:
        assert e.code == "INVALID_PATTERN"
        assert isinstance(e, ddiscord.DDiscordError) and isinstance(e, ValueError)
    else:
        raise AssertionError("an empty level is not a valid pattern")
