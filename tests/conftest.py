"""Shared fixtures live in tests/support/; each module there is a pytest plugin."""

pytest_plugins = [
    "tests.support.opentrain_sim",
    "tests.support.slack_sim",
    "tests.support.redis_server",
    "tests.support.bot_harness",
]
