"""Settings refuse unsafe values at startup, naming the setting and never quoting a secret.

The rules (DESIGN.md §7): a Slack signing secret, when set, is not blank; an OpenTrain
webhook secret has at least 16 characters; every agent token at least 24, under a name of
letters, digits, `_` and `-` (names show on cards), each name and token once;
OT_API_BASE_URL is an https origin (plain http only on loopback, where the simulators run).
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bot.__main__ import main
from bot.config import Settings
from bot.doctor import settings_checks

PLANNER = "planner-token-0123456789abcdef"
AUDITOR = "auditor-token-0123456789abcdef"


def problem(**values: object) -> tuple[str, str]:
    """The one problem Settings find in `values`: (setting, message)."""
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(values)
    [error] = caught.value.errors()
    return ".".join(str(part) for part in error["loc"]), str(error["msg"])


# --- SLACK_SIGNING_SECRET --------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", " ", "\t\n  "])
def test_a_blank_signing_secret_is_refused(secret: str) -> None:
    setting, message = problem(slack_signing_secret=secret)
    assert setting == "slack_signing_secret" and "empty" in message


@pytest.mark.parametrize("secret", [None, "x", "8f14e45fceea167a5a36dedd4bea2543"])
def test_an_unset_or_non_blank_signing_secret_is_accepted(secret: str | None) -> None:
    settings = Settings.model_validate({"slack_signing_secret": secret})
    value = settings.slack_signing_secret
    assert (value.get_secret_value() if value else None) == secret


# --- OT_WEBHOOK_SECRET -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "whsec_short", "x" * 15, " " * 20, "   whsec_12345678   "])
def test_a_webhook_secret_under_16_characters_is_refused(secret: str) -> None:
    setting, message = problem(ot_webhook_secret=secret)
    assert setting == "ot_webhook_secret" and "at least 16 characters" in message


@pytest.mark.parametrize("secret", [None, "x" * 16, "whsec_" + "0" * 48])
def test_an_unset_or_long_enough_webhook_secret_is_accepted(secret: str | None) -> None:
    settings = Settings.model_validate({"ot_webhook_secret": secret})
    value = settings.ot_webhook_secret
    assert (value.get_secret_value() if value else None) == secret


# --- AGENT_TOKENS ----------------------------------------------------------------------------


def test_agent_tokens_are_read_per_name() -> None:
    settings = Settings.model_validate({"agent_tokens": f" planner:{PLANNER} , auditor:{AUDITOR},"})
    tokens = {name: token.get_secret_value() for name, token in settings.agent_tokens.items()}
    assert tokens == {"planner": PLANNER, "auditor": AUDITOR}


@pytest.mark.parametrize(
    "name",
    ["a", "Planner_2", "ci-bot", "A1_b-2", "x" * 64],
)
def test_names_of_letters_digits_underscores_and_dashes_are_accepted(name: str) -> None:
    settings = Settings.model_validate({"agent_tokens": f"{name}:{PLANNER}"})
    assert list(settings.agent_tokens) == [name]


@pytest.mark.parametrize(
    "token", ["t" * 24, "with:colons:0123456789abcdef", "ot-agent_" + "9" * 40]
)
def test_tokens_of_24_characters_or_more_are_accepted(token: str) -> None:
    settings = Settings.model_validate({"agent_tokens": f"planner:{token}"})
    assert settings.agent_tokens["planner"].get_secret_value() == token


def test_tokens_given_as_a_mapping_are_checked_too() -> None:
    # The sandbox validates a dump of the settings again: a dict of SecretStr.
    settings = Settings.model_validate({"agent_tokens": f"planner:{PLANNER}"})
    again = Settings.model_validate({"agent_tokens": settings.agent_tokens})
    assert again.agent_tokens == settings.agent_tokens
    short = {"planner": SecretStr("planner-token")}
    assert problem(agent_tokens=short) == (
        "agent_tokens",
        'Value error, agent "planner": the token must be at least 24 characters',
    )


@pytest.mark.parametrize("token", ["t" * 23, "planner-token", "   padded-but-short    "])
def test_a_short_token_is_refused_naming_the_agent_not_the_token(token: str) -> None:
    setting, message = problem(agent_tokens=f"auditor:{AUDITOR},planner:{token}")
    assert setting == "agent_tokens"
    assert message.endswith('agent "planner": the token must be at least 24 characters')
    assert token.strip() not in message


@pytest.mark.parametrize(
    "name",
    ["planner bot", "plänner", "planner.v2", "@planner", "x" * 65, "<!channel>", "a/b"],
)
def test_a_name_outside_letters_digits_underscore_dash_or_too_long_is_refused(
    name: str,
) -> None:
    setting, message = problem(agent_tokens=f"auditor:{AUDITOR},{name}:{PLANNER}")
    assert setting == "agent_tokens"
    assert "agent #2: a name may only use letters, digits, _ and -" in message
    assert name not in message  # a mistyped entry may hold part of a token


def test_a_name_given_twice_is_refused() -> None:
    setting, message = problem(agent_tokens=f"planner:{PLANNER},planner:{AUDITOR}")
    assert setting == "agent_tokens" and message.endswith('agent "planner" is named twice')


def test_one_token_for_two_agents_is_refused() -> None:
    setting, message = problem(agent_tokens=f"planner:{PLANNER},auditor:{PLANNER}")
    assert setting == "agent_tokens"
    assert 'agents "planner" and "auditor" have the same token' in message
    assert PLANNER not in message


@pytest.mark.parametrize("value", ["planner", f"planner {PLANNER}", "planner:", f":{PLANNER}"])
def test_entries_without_name_and_token_are_refused(value: str) -> None:
    setting, message = problem(agent_tokens=value)
    assert setting == "agent_tokens" and "name:token,name2:token2" in message
    assert PLANNER not in message


# --- OT_API_BASE_URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://app.opentrain.ai",
        "https://app.opentrain.ai/",
        "https://opentrain.example.com:8443",
        "http://localhost:8701",
        "http://127.0.0.1:8701/",
        "http://127.4.5.6",
        "http://[::1]:8701",
    ],
)
def test_https_origins_and_plain_http_on_loopback_are_accepted(url: str) -> None:
    assert Settings.model_validate({"ot_api_base_url": url}).ot_api_base_url == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://app.opentrain.ai", "must use https://"),
        ("http://10.0.0.5:8701", "must use https://"),
        ("http://192.168.1.20", "must use https://"),
        ("http://localhost.example.com", "must use https://"),
        ("http://127.0.0.1.nip.io", "must use https://"),
        ("http://0.0.0.0:8701", "must use https://"),
        ("ftp://app.opentrain.ai", "must be an origin"),
        ("app.opentrain.ai", "must be an origin"),
        ("https://", "must be an origin"),
        ("https://ops:hunter2-pass@app.opentrain.ai", "user name or password"),
        ("https://ops@app.opentrain.ai", "user name or password"),
        ("http://ops:hunter2-pass@localhost:8701", "user name or password"),
        ("https://app.opentrain.ai/api/public/v1", "without a path"),
        ("https://app.opentrain.ai//", "without a path"),
        ("https://app.opentrain.ai/?", "query"),
        ("https://app.opentrain.ai?next=/", "query"),
        ("https://app.opentrain.ai#top", "fragment"),
        ("https://app.opentrain.ai:99999", "not a valid URL"),
        ("https://app.opentrain.ai:x", "not a valid URL"),
        ("https://app.opentrain.ai:", "not a valid URL"),
        ("https://[::1", "not a valid URL"),
        ("https://app.opentrain.ai\n", "spaces or control characters"),
        ("https://app .opentrain.ai", "spaces or control characters"),
        (" https://app.opentrain.ai", "spaces or control characters"),
    ],
)
def test_other_opentrain_urls_are_refused_without_being_quoted(url: str, says: str) -> None:
    setting, message = problem(ot_api_base_url=url)
    assert setting == "ot_api_base_url" and says in message
    assert "hunter2-pass" not in message and "ops" not in message


def test_slack_api_url_still_takes_http_or_https() -> None:
    assert Settings.model_validate({"slack_api_url": "http://slack.test/api/"}).slack_api_url
    assert problem(slack_api_url="ftp://slack.test/api/") == (
        "slack_api_url",
        "Value error, must be an http(s) URL",
    )


def test_doctor_flags_plain_http_on_a_loopback_address_cards_do_not_link_to() -> None:
    # Settings allow http on [::1]; cards link plain http only on localhost and 127.0.0.1.
    settings = Settings.model_validate({"ot_api_base_url": "http://[::1]:8701"})
    [url] = [c for c in settings_checks(settings, "serve") if c.name == "OT_API_BASE_URL"]
    assert not url.ok and "localhost and 127.0.0.1" in url.detail
    settings = Settings.model_validate({"ot_api_base_url": "http://127.0.0.1:8701"})
    [url] = [c for c in settings_checks(settings, "serve") if c.name == "OT_API_BASE_URL"]
    assert url.ok


# --- the command line ------------------------------------------------------------------------


def startup_error(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    """What `python -m bot doctor` exits with when the environment is `env`."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["doctor"])
    assert isinstance(exited.value.code, str), exited.value.code
    return exited.value.code


def test_startup_names_every_bad_setting_on_one_line_and_quotes_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short_token = "sk-planner-9f8e7d"
    secrets = {
        "AGENT_TOKENS": f"auditor:{AUDITOR},planner:{short_token}",
        "OT_WEBHOOK_SECRET": "whsec_Zq81xk",
        "OT_API_BASE_URL": "https://ops:hunter2-pass@app.opentrain.ai",
        "SLACK_SIGNING_SECRET": "   ",
    }
    message = startup_error(monkeypatch, secrets)
    assert "\n" not in message and message.startswith("configuration error: ")
    for expected in (
        "SLACK_SIGNING_SECRET: is set but empty",
        "OT_API_BASE_URL: must not contain a user name or password",
        "OT_WEBHOOK_SECRET: must be at least 16 characters",
        'AGENT_TOKENS: agent "planner": the token must be at least 24 characters',
    ):
        assert expected in message, message
    for leak in (short_token, AUDITOR, "whsec_Zq81xk", "hunter2-pass", "input_value"):
        assert leak not in message, message
    assert "Value error" not in message  # pydantic's prefix says nothing to a person


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENT_TOKENS": "planner bot:" + PLANNER}, "AGENT_TOKENS: agent #1: a name may only"),
        ({"AGENT_TOKENS": f"p:{PLANNER},p:{AUDITOR}"}, 'AGENT_TOKENS: agent "p" is named twice'),
        ({"OT_API_BASE_URL": "http://app.opentrain.ai"}, "OT_API_BASE_URL: must use https://"),
    ],
)
def test_startup_refuses_each_unsafe_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    message = startup_error(monkeypatch, env)
    assert message.startswith(f"configuration error: {expected}"), message
    assert PLANNER not in message and AUDITOR not in message
