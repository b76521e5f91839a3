"""X-OpenTrain-Signature: sign and verify, with the failure modes a receiver must refuse."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.opentrain.webhooks import WebhookSignatureError, sign, verify

SECRET = "whsec_test_secret"
BODY = b'{"id":"1043","type":"approval.confirmed","data":{"approvalId":"apr_1"}}'
T = 1_781_258_400  # 2026-06-12T10:00:00Z


def test_sign_follows_the_documented_recipe() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_valid_signature_returns_the_timestamp() -> None:
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + 10) == T


def test_tampered_body_is_a_mismatch() -> None:
    header = sign(SECRET, BODY, T)
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, header, BODY.replace(b"apr_1", b"apr_2"), now=T)
    assert caught.value.reason == "mismatch"


def test_wrong_secret_is_a_mismatch() -> None:
    header = sign("whsec_someone_else", BODY, T)
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, header, BODY, now=T)
    assert caught.value.reason == "mismatch"


@pytest.mark.parametrize("skew", [301, -301])
def test_more_than_five_minutes_either_way_is_stale(skew: int) -> None:
    # A replayed old delivery (skew > 0) and a timestamp from the future (skew < 0).
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + skew)
    assert caught.value.reason == "stale"


def test_exactly_at_the_tolerance_is_accepted() -> None:
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + 300) == T
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T - 300) == T


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={T}",  # no v1
        "v1=abc",  # no t
        f"t=soon,v1={'0' * 64}",
        f"t={T},t={T},v1={'0' * 64}",  # two timestamps
        f"t=-{T},v1={'0' * 64}",
        f"t={T},v1=ünicode",
        f"t={T};v1={'0' * 64}",
        # Not a sane timestamp: only 1–12 ASCII digits are one.
        f"t=,v1={'0' * 64}",
        f"t={'9' * 5000},v1={'0' * 64}",  # past int()'s 4300-digit limit
        f"t={'9' * 20},v1={'0' * 64}",  # overflows a float comparison with `now`
        f"t=1{T:012d},v1={'0' * 64}",  # 13 digits
        f"t=+{T},v1={'0' * 64}",
        f"t=1_781_258_400,v1={'0' * 64}",  # int() would read it
        f"t=١٧٨١٢٥٨٤٠٠,v1={'0' * 64}",  # Arabic-Indic digits: isdigit() says yes
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, header, BODY, now=T)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("timestamp", [0, 7, 999_999_999_999])  # 1 to 12 digits
def test_any_timestamp_of_one_to_twelve_digits_is_read(timestamp: int) -> None:
    assert verify(SECRET, sign(SECRET, BODY, timestamp), BODY, now=timestamp) == timestamp
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, sign(SECRET, BODY, timestamp), BODY, now=timestamp + 301)
    assert caught.value.reason == "stale"


def test_several_v1_entries_any_match_is_enough() -> None:
    # During a secret rotation a delivery may carry signatures under the old and new secret.
    good = sign(SECRET, BODY, T).split(",v1=")[1]
    stale_secret = sign("whsec_old", BODY, T).split(",v1=")[1]
    header = f"t={T},v1={stale_secret},v1={good}"
    assert verify(SECRET, header, BODY, now=T) == T
    assert verify(SECRET, f"t={T}, v1={good.upper()}, v0=ignored", BODY, now=T) == T


def test_several_v1_entries_none_matching_is_a_mismatch() -> None:
    header = f"t={T},v1={'0' * 64},v1={'f' * 64}"
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, header, BODY, now=T)
    assert caught.value.reason == "mismatch"


def test_the_error_never_contains_the_secret() -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(SECRET, sign("whsec_other", BODY, T), BODY, now=T)
    assert SECRET not in str(caught.value)
