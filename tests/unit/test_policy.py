"""The agents' spend policy: the file, its validation, each agent's limits, the verdict."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.policy import BUILT_IN, PolicyError, load_policy
from bot.spend import Quote, Usage, check

AGENTS = {"labeler": object(), "planner": object()}
EXAMPLE = """\
default:
  maxPerRequestUsd: 1000
  maxPerDayUsd: 5000
  maxPerWeekUsd: 20000
  requestsPerMinute: 30
  allowedTypes: [hire, fund, payout, end]
  allowedJobs: []
  overLimit: deny
agents:
  labeler: {maxPerDayUsd: 1500, overLimit: ask}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_file_every_agent_has_the_built_in_limits() -> None:
    policy = load_policy(None, AGENTS)
    assert policy.for_agent("planner") == BUILT_IN
    assert policy.source is None
    assert BUILT_IN.max_per_request_usd == Decimal("1000")
    assert BUILT_IN.over_limit == "deny"


def test_an_agents_block_overrides_the_default_which_overrides_the_built_in(
    tmp_path: Path,
) -> None:
    policy = load_policy(write(tmp_path, EXAMPLE), AGENTS)
    labeler = policy.for_agent("labeler")
    assert labeler.max_per_day_usd == Decimal("1500")
    assert labeler.over_limit == "ask"
    assert labeler.max_per_week_usd == Decimal("20000")
    planner = policy.for_agent("planner")
    assert planner.max_per_day_usd == Decimal("5000") and planner.over_limit == "deny"
    assert policy.source == str(tmp_path / "policy.yaml")
    assert "$1,500.00 per 24 h" in labeler.describe()


def test_a_partial_default_keeps_the_built_in_for_the_rest(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "default: {allowedTypes: [fund]}\n"), AGENTS)
    limits = policy.for_agent("planner")
    assert limits.allowed_types == ("fund",)
    assert limits.max_per_request_usd == BUILT_IN.max_per_request_usd


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("agents:\n  labeler: {maxPerDayUsd: abc}\n", "agents.labeler.maxPerDayUsd: “abc”"),
        ("agents:\n  labeler: {maxPerDayUsd: '1,50'}\n", "Did you mean 1.50?"),
        ("agents:\n  labeler: {maxPerDayUsd: -5}\n", "more than $0"),
        ("agents:\n  labeler: {overLimit: maybe}\n", "agents.labeler.overLimit"),
        ("agents:\n  labeler: {allowedTypes: [hire, spend]}\n", "agents.labeler.allowedTypes.1"),
        ("agents:\n  labeler: {requestsPerMinute: 0}\n", "agents.labeler.requestsPerMinute"),
        ("agents:\n  labeler: {maxPerDay: 5}\n", "agents.labeler.maxPerDay: unknown field"),
        ("default: {allowedJobs: ['job 1']}\n", "default.allowedJobs.0"),
        ("agents:\n  labeller: {maxPerDayUsd: 5}\n", "agents.labeller: no agent of that name"),
        ("defaults: {}\n", "defaults: unknown field"),
        ("agents: [labeler]\n", "agents"),
        ("default: {maxPerDayUsd: 1\n", "not valid YAML at line"),
    ],
)
def test_a_bad_file_is_refused_naming_the_agent_and_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(write(tmp_path, text), AGENTS)
    assert problem in str(raised.value)
    assert str(raised.value).startswith("AGENT_POLICY_FILE ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "nope.yaml", AGENTS)


def test_an_empty_file_is_the_built_in_default(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, ""), AGENTS).for_agent("labeler") == BUILT_IN


# --- the verdict -----------------------------------------------------------------------

LIMITS = BUILT_IN.model_copy(
    update={
        "max_per_request_usd": Decimal("1000"),
        "max_per_day_usd": Decimal("1500"),
        "max_per_week_usd": Decimal("2000"),
        "allowed_types": ("hire", "fund"),
        "allowed_jobs": ("job_dashcam",),
    }
)
NONE_USED = Usage(requests_24h=0, used_24h=Decimal(0), used_7d=Decimal(0))


def quote(amount: str | None, *, kind: str = "fund", job: str | None = "job_dashcam") -> Quote:
    value = Decimal(amount) if amount is not None else None
    return Quote(kind, value, job, f"{kind}:ms_1", "fund milestone Batch 2")  # type: ignore[arg-type]


def test_within_every_limit_nothing_is_breached() -> None:
    assert check(LIMITS, quote("1000"), NONE_USED) is None
    used = Usage(requests_24h=3, used_24h=Decimal("500"), used_7d=Decimal("1000"))
    assert check(LIMITS, quote("1000"), used) is None  # exactly at both limits


@pytest.mark.parametrize(
    ("amount", "usage", "rule", "used"),
    [
        ("1000.01", NONE_USED, "maxPerRequestUsd", None),
        (None, NONE_USED, "maxPerRequestUsd", None),  # unknown counts as over
        ("600", Usage(2, Decimal("900.01"), Decimal("900.01")), "maxPerDayUsd", "900.01"),
        ("600", Usage(2, Decimal("100"), Decimal("1400.01")), "maxPerWeekUsd", "1400.01"),
    ],
)
def test_amount_limits_are_askable(
    amount: str | None, usage: Usage, rule: str, used: str | None
) -> None:
    breach = check(LIMITS, quote(amount), usage)
    assert breach is not None and breach.rule == rule and breach.askable
    assert breach.used_usd == (Decimal(used) if used else None)
    assert breach.details()["reason"] == "policy_denied"
    assert breach.details()["requestedUsd"] == (f"{Decimal(amount):.2f}" if amount else None)


def test_types_and_jobs_outside_the_policy_are_never_askable() -> None:
    wrong_type = check(LIMITS, quote("10", kind="payout"), NONE_USED)
    assert wrong_type is not None and wrong_type.rule == "allowedTypes" and not wrong_type.askable
    wrong_job = check(LIMITS, quote("10", job="job_other"), NONE_USED)
    assert wrong_job is not None and wrong_job.rule == "allowedJobs" and not wrong_job.askable
    any_job = LIMITS.model_copy(update={"allowed_jobs": ()})
    assert check(any_job, quote("10", job=None), NONE_USED) is None


def test_a_breach_says_what_was_over_in_words() -> None:
    used = Usage(3, Decimal("1350"), Decimal("1350"))
    breach = check(LIMITS, quote("250"), used)
    assert breach is not None
    assert breach.describe() == (
        "$250.00 on top of $1,350.00 in 24 h is over its limit of $1,500.00"
    )


# --- the doctor and startup ---------------------------------------------------------------


def test_the_doctor_reports_the_policy_file(tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.doctor import settings_checks

    tokens = "labeler:labeler-token-0123456789abcdef"
    good = Settings(agent_tokens=tokens, agent_policy_file=write(tmp_path, EXAMPLE))
    [check] = [c for c in settings_checks(good, "serve") if c.name == "Agent spend policy"]
    assert check.ok and "labeler" in check.detail

    bad = Settings(
        agent_tokens=tokens,
        agent_policy_file=write(tmp_path, "agents:\n  labeler: {maxPerDayUsd: lots}\n"),
    )
    [check] = [c for c in settings_checks(bad, "serve") if c.name == "Agent spend policy"]
    assert not check.ok and "agents.labeler.maxPerDayUsd" in check.detail


def test_startup_refuses_a_bad_policy_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("AGENT_TOKENS", "labeler:labeler-token-0123456789abcdef")
    monkeypatch.setenv("AGENT_POLICY_FILE", str(write(tmp_path, "agents:\n  ghost: {}\n")))
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    message = str(exited.value)
    assert message.startswith("configuration error: AGENT_POLICY_FILE")
    assert "agents.ghost: no agent of that name" in message and "\n" not in message
    assert "labeler-token" not in message


# --- requests per minute ----------------------------------------------------------------


def test_requests_per_minute_slide_and_say_when_to_come_back() -> None:
    from bot.spend import Spending

    now = [1000.0]
    spending = Spending(store=None, clock=None, opentrain=None, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert [spending.count_request("a", 3) for _ in range(3)] == [None, None, None]
    now[0] += 20.5
    assert spending.count_request("a", 3) == 40  # the first leaves the window at 1060
    assert spending.count_request("b", 3) is None  # each agent has its own
    now[0] = 1060.0  # all three have left the window; the refused one was never counted
    assert [spending.count_request("a", 3) for _ in range(3)] == [None, None, None]
    assert spending.count_request("a", 3) == 60


def test_the_policy_view_fits_a_message_however_many_agents() -> None:
    from bot.cards.policy import AgentRow, policy_view

    rows = [
        AgentRow(f"agent{i}", BUILT_IN.describe(), 1, Decimal("10"), Decimal("20"))
        for i in range(60)
    ]
    message = policy_view(rows, source=None)
    assert len(message.blocks) <= 50
    assert "and 37 more agents" in str(message.blocks[-1].to_dict())
