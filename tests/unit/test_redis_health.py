"""Whether a Redis keeps the bot's data: the pure decision over what CONFIG GET (or INFO) said,
and how the doctor words it."""

from __future__ import annotations

import pytest

from bot.doctor.store import redis_health_checks
from bot.store.redis_health import RedisConfig, assess

NOPERM = "this user has no permissions to run the 'config|get' command"


def config(
    policy: str | None = "noeviction", aof: str | None = "no", save: str | None = ""
) -> RedisConfig:
    return RedisConfig(maxmemory_policy=policy, appendonly=aof, save=save)


def test_noeviction_with_an_append_only_file_is_all_right() -> None:
    health = assess(config(aof="yes"))
    assert (
        health.eviction.verdict == "ok" and health.eviction.detail == "maxmemory-policy noeviction"
    )
    assert health.persistence.verdict == "ok" and "appendonly yes" in health.persistence.detail
    assert health.refusal(allow_eviction=False) is None


@pytest.mark.parametrize(
    "policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl"]
)
def test_every_evicting_policy_is_refused_and_says_what_to_set(policy: str) -> None:
    health = assess(config(policy=policy, aof="yes"))
    assert health.eviction.verdict == "bad"
    refusal = health.refusal(allow_eviction=False)
    assert refusal is not None and "\n" not in refusal
    assert refusal.startswith(f"maxmemory-policy is {policy}: ")
    assert "set `maxmemory-policy noeviction` (redis.conf)" in refusal
    assert "`CONFIG SET maxmemory-policy noeviction`" in refusal
    assert "REDIS_ALLOW_EVICTION=true" in refusal


def test_redis_allow_eviction_lets_an_evicting_redis_through() -> None:
    assert assess(config(policy="allkeys-lru")).refusal(allow_eviction=True) is None


def test_rdb_save_rules_are_persistence_but_say_what_a_crash_loses() -> None:
    persistence = assess(config(save="3600 1 300 100")).persistence
    assert persistence.verdict == "ok"
    assert "save 3600 1 300 100" in persistence.detail and "appendonly yes" in persistence.detail


def test_no_persistence_is_bad_but_never_a_refusal() -> None:
    # What the test suite's redis-server runs with (--save "" --appendonly no).
    health = assess(config())
    assert health.persistence.verdict == "bad"
    assert health.persistence.fix is not None
    assert "`appendonly yes` (redis.conf)" in health.persistence.fix
    assert "`CONFIG SET appendonly yes`" in health.persistence.fix
    assert health.refusal(allow_eviction=False) is None


def test_config_refused_and_info_refused_leave_both_unknown_naming_what_must_be_true() -> None:
    health = assess(RedisConfig(config_refused=NOPERM))
    assert health.eviction.verdict == health.persistence.verdict == "unknown"
    assert health.eviction.detail == f"could not be checked (CONFIG GET is refused: {NOPERM})"
    assert health.eviction.fix is not None and "noeviction" in health.eviction.fix
    assert health.persistence.fix is not None and "appendonly yes" in health.persistence.fix
    assert health.refusal(allow_eviction=False) is None


def test_info_still_tells_the_policy_of_a_managed_redis_that_refuses_config() -> None:
    # ElastiCache's default is volatile-lru, which evicts exactly the once-keys and leases.
    health = assess(RedisConfig(maxmemory_policy="volatile-lru", config_refused=NOPERM))
    assert health.eviction.verdict == "bad" and "(from INFO: CONFIG is refused)" in (
        health.eviction.detail
    )
    assert health.eviction.fix is not None and "parameter group" in health.eviction.fix
    assert "CONFIG SET" not in health.eviction.fix
    # INFO shows an append-only file, never RDB rules: without one, persistence is unknown.
    assert health.persistence.verdict == "unknown"
    with_aof = assess(
        RedisConfig(maxmemory_policy="noeviction", appendonly="yes", config_refused=NOPERM)
    )
    assert with_aof.eviction.verdict == with_aof.persistence.verdict == "ok"


def test_a_config_answer_without_the_values_is_unknown_not_ok() -> None:
    health = assess(RedisConfig())
    assert health.eviction.verdict == health.persistence.verdict == "unknown"
    assert "CONFIG GET did not say" in health.eviction.detail


def test_the_doctor_fails_on_eviction_and_only_warns_about_persistence() -> None:
    eviction, persistence = redis_health_checks(
        assess(config(policy="allkeys-lru")), allow_eviction=False
    )
    assert (eviction.ok, eviction.required) == (False, True)
    assert eviction.fix is not None and eviction.fix.startswith("Set `maxmemory-policy noeviction`")
    assert (persistence.ok, persistence.required) == (False, False)
    assert persistence.fix is not None and persistence.fix.startswith("Set `appendonly yes`")


def test_the_doctor_only_warns_when_eviction_is_allowed_or_cannot_be_checked() -> None:
    [allowed, _] = redis_health_checks(assess(config(policy="allkeys-lru")), allow_eviction=True)
    assert (allowed.ok, allowed.required) == (False, False)
    assert "REDIS_ALLOW_EVICTION=true: the bot starts anyway" in allowed.detail
    unknown = redis_health_checks(assess(RedisConfig(config_refused=NOPERM)), allow_eviction=False)
    assert [(check.ok, check.required) for check in unknown] == [(False, False), (False, False)]


def test_the_doctor_passes_a_redis_that_keeps_its_data() -> None:
    checks = redis_health_checks(assess(config(aof="yes")), allow_eviction=False)
    assert [(check.name, check.ok) for check in checks] == [
        ("Redis eviction policy", True),
        ("Redis persistence", True),
    ]
