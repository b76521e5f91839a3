"""One precondition, checked: what was found and, when it fails, how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["serve", "socket"]
# Doctor's own calls fail fast: a person is waiting for the verdict.
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    link: str | None = None
    required: bool = True  # a failing optional check is a warning, not a failure


def verdict(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.required)
