"""The agents' spend policy (`AGENT_POLICY_FILE`): how much each agent may ask for, and how.

```yaml
default:                  # every agent in AGENT_TOKENS
  maxPerRequestUsd: 1000  # what the human would confirm: a hire's total incl. fees,
                          # a fund or payout amount, the escrow a contract end settles
  maxPerDayUsd: 5000      # rolling 24 h of the agent's pending + confirmed requests
  maxPerWeekUsd: 20000    # rolling 7 days
  requestsPerMinute: 30   # every authenticated request counts
  allowedTypes: [hire, fund, payout, end]
  allowedJobs: []         # empty: any job
  overLimit: deny         # deny | ask (an admin allows once in Slack)
agents:
  labeler: {maxPerDayUsd: 1500, overLimit: ask}
```

Without a file the built-in default above applies to every agent: an agent
token is never unlimited. The file is validated once, at startup (and by
`python -m bot doctor`); an error names the agent and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bot.money import format_usd, parse_amount

RequestType = Literal["hire", "fund", "payout", "end"]
REQUEST_TYPES: tuple[RequestType, ...] = ("hire", "fund", "payout", "end")
OverLimit = Literal["deny", "ask"]
# Far above any sane policy; only a guard against a typo of three extra zeros.
POLICY_MAX_USD = Decimal("100000000")


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file, the agent and the field."""


def _usd(value: object) -> Decimal:
    # YAML gives ints and floats; both go through the same strict rules as typed amounts.
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a USD amount like 1500 or 1500.50")
    return parse_amount(str(value), POLICY_MAX_USD)


Usd = Annotated[Decimal, BeforeValidator(_usd)]


class Limits(BaseModel):
    """One block of the file: every field optional, so an agent's block overrides the default."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    max_per_request_usd: Usd | None = None
    max_per_day_usd: Usd | None = None
    max_per_week_usd: Usd | None = None
    requests_per_minute: Annotated[int, Field(ge=1, le=10_000)] | None = None
    allowed_types: list[RequestType] | None = None
    allowed_jobs: (
        list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")]] | None
    ) = None
    over_limit: OverLimit | None = None


class AgentPolicy(BaseModel):
    """The limits that apply to one agent, every field decided."""

    model_config = ConfigDict(frozen=True)

    max_per_request_usd: Decimal
    max_per_day_usd: Decimal
    max_per_week_usd: Decimal
    requests_per_minute: int
    allowed_types: tuple[RequestType, ...]
    allowed_jobs: tuple[str, ...]  # empty: any job
    over_limit: OverLimit

    def describe(self) -> list[str]:
        """The policy in short lines, for `/opentrain policy` and the doctor."""
        jobs = ", ".join(self.allowed_jobs) if self.allowed_jobs else "any"
        return [
            f"{format_usd(self.max_per_request_usd)} per request",
            f"{format_usd(self.max_per_day_usd)} per 24 h",
            f"{format_usd(self.max_per_week_usd)} per 7 days",
            f"{self.requests_per_minute} requests a minute",
            f"types: {', '.join(self.allowed_types)}",
            f"jobs: {jobs}",
            "over a limit: " + ("ask an admin" if self.over_limit == "ask" else "refuse"),
        ]


BUILT_IN = AgentPolicy(
    max_per_request_usd=Decimal("1000"),
    max_per_day_usd=Decimal("5000"),
    max_per_week_usd=Decimal("20000"),
    requests_per_minute=30,
    allowed_types=REQUEST_TYPES,
    allowed_jobs=(),
    over_limit="deny",
)


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Limits = Limits()
    agents: dict[str, Limits] = Field(default_factory=dict)


class SpendPolicy:
    """Every agent's effective policy: built-in defaults ← the file's `default` ← its own block."""

    def __init__(self, file: PolicyFile | None = None, *, source: str | None = None) -> None:
        self._file = file or PolicyFile()
        self.source = source  # the file it came from; None for the built-in default

    def for_agent(self, agent: str) -> AgentPolicy:
        merged = BUILT_IN.model_dump()
        for block in (self._file.default, self._file.agents.get(agent)):
            if block is not None:
                merged.update(block.model_dump(exclude_none=True))
        return AgentPolicy.model_validate(merged)

    @property
    def named_agents(self) -> list[str]:
        return sorted(self._file.agents)


def load_policy(path: Path | None, agents: Mapping[str, object]) -> SpendPolicy:
    """The policy in `path` (None: the built-in default); PolicyError says what is wrong.

    `agents` are the names in AGENT_TOKENS: a block for any other name is a typo
    that would silently leave the real agent on the default, so it is refused.
    """
    if path is None:
        return SpendPolicy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"AGENT_POLICY_FILE {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise PolicyError(f"AGENT_POLICY_FILE {path}: not valid YAML{line}") from None
    try:
        file = PolicyFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise PolicyError(f"AGENT_POLICY_FILE {path}: {_first_problem(exc)}") from None
    unknown = [name for name in file.agents if name not in agents]
    if unknown:
        raise PolicyError(
            f"AGENT_POLICY_FILE {path}: agents.{unknown[0]}: no agent of that name in AGENT_TOKENS"
        )
    return SpendPolicy(file, source=str(path))


def _first_problem(exc: ValidationError) -> str:
    """`agents.labeler.maxPerDayUsd: …` — where, in the file's own words, and what."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the file"
    problem = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        problem = "unknown field"
    return f"{where}: {problem}"
