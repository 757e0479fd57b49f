"""Solace wildcard matching (the reference for the tests): `*` one level or a level prefix,
`>` one or more trailing levels. https://docs.solace.com/Messaging/Wildcard-Charaters-Topic-Subs.htm"""

from __future__ import annotations


def matches(pattern: str, topic: str) -> bool:
    p, t = pattern.split("/"), topic.split("/")
    for i, level in enumerate(p):
        if level == ">" and i == len(p) - 1:
            return len(t) > i
        if i >= len(t):
            return False
        if level == "*":
            continue
        if level.endswith("*"):
            if not t[i].startswith(level[:-1]):
                return False
        elif level != t[i]:
            return False
    return len(t) == len(p)
