"""Money amounts as people and agents type them: one strict rule (`parse_amount`) behind
every door, so a decimal comma (`1,50`) is refused and never read as 150."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.agent_models import HireRequest, ValidationContext
from bot.money import parse_amount
from bot.parsing import Hire, UsageError
from handlers.commands import Verb, entry, parse_command

MAX = Decimal("100000")
NOT_AN_AMOUNT = "is not an amount — type dollars like 450 or 450.50"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("450", "450.00"),
        ("1500", "1500.00"),
        ("0.50", "0.50"),
        ("0.01", "0.01"),
        ("450.5", "450.50"),
        ("450.50", "450.50"),
        ("$450", "450.00"),
        (" $1,250.50 ", "1250.50"),
        ("1,500", "1500.00"),
        ("1,250.5", "1250.50"),
        ("12,345.67", "12345.67"),
        ("100,000.00", "100000.00"),
        ("100000", "100000.00"),
        ("\t7\n", "7.00"),
    ],
)
def test_accepted_amounts(text: str, expected: str) -> None:
    amount = parse_amount(text, MAX)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2  # always quantized to cents


def test_large_grouped_amounts_are_read_whole() -> None:
    assert parse_amount("12,345,678.90", Decimal("1e9")) == Decimal("12345678.90")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # European decimal commas: refused with the amount they probably meant.
        ("1,50", "“1,50” uses a comma for cents. Did you mean 1.50?"),
        ("1,5", "Did you mean 1.50?"),
        ("12,5", "Did you mean 12.50?"),
        ("$1,50", "Did you mean 1.50?"),
        ("1.234,56", "Did you mean 1,234.56?"),
        ("0,99", "Did you mean 0.99?"),
        # Malformed: say what to type.
        ("1,5000", f"“1,5000” {NOT_AN_AMOUNT}"),
        ("15,00,000", f"“15,00,000” {NOT_AN_AMOUNT}"),
        ("1,,500", f"“1,,500” {NOT_AN_AMOUNT}"),
        ("01,500", NOT_AN_AMOUNT),
        ("1,500,00", NOT_AN_AMOUNT),
        ("45.5.5", f"“45.5.5” {NOT_AN_AMOUNT}"),
        ("abc", f"“abc” {NOT_AN_AMOUNT}"),
        ("", NOT_AN_AMOUNT),
        ("$", NOT_AN_AMOUNT),
        ("450.", NOT_AN_AMOUNT),
        (".5", NOT_AN_AMOUNT),
        ("1e3", NOT_AN_AMOUNT),
        ("1E+3", NOT_AN_AMOUNT),  # how a JSON number 1e3 reaches parse_amount
        ("NaN", NOT_AN_AMOUNT),
        ("Infinity", NOT_AN_AMOUNT),
        ("+5", NOT_AN_AMOUNT),
        ("1_000", NOT_AN_AMOUNT),
        ("1 500", NOT_AN_AMOUNT),
        ("$$5", NOT_AN_AMOUNT),
        ("5$", NOT_AN_AMOUNT),
        ("１２", NOT_AN_AMOUNT),  # fullwidth digits
        ("١٢٣", NOT_AN_AMOUNT),  # Arabic-Indic digits
        ("0x10", NOT_AN_AMOUNT),
        # Zero and negatives.
        ("0", "the amount must be more than $0"),
        ("0.00", "the amount must be more than $0"),
        ("-1", "the amount must be more than $0"),
        ("-$5", "the amount must be more than $0"),
        ("-0", "the amount must be more than $0"),
        # Bounds and cents.
        ("100000.01", "the amount must be at most $100,000.00"),
        ("9" * 40, "the amount must be at most $100,000.00"),
        ("10.505", "the amount can have at most two decimals (cents)"),
        ("450.500", "the amount can have at most two decimals (cents)"),
    ],
)
def test_refused_amounts_say_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_amount(text, MAX)
    assert problem in str(raised.value)


def test_a_long_bad_amount_is_quoted_short() -> None:
    with pytest.raises(ValueError) as raised:
        parse_amount("x" * 10_000, MAX)
    assert len(str(raised.value)) < 120


# --- the doors: the /opentrain command and the agent API --------------------------------------


def parse(text: str) -> object:
    return parse_command(text, opentrain_host="app.opentrain.ai", max_amount=MAX)[1]


def test_a_decimal_comma_in_the_hire_command_is_an_amount_and_refused() -> None:
    with pytest.raises(UsageError) as raised:
        parse("hire prop_ada 1,50 Test")
    assert "Did you mean 1.50?" in raised.value.problem
    assert raised.value.usage == entry(Verb.HIRE).usage


def test_the_hire_command_still_reads_good_amounts() -> None:
    assert parse("hire prop_ada 1,500 Test") == Hire("prop_ada", Decimal("1500.00"), "Test")
    assert parse("hire prop_ada 1.50 Test") == Hire("prop_ada", Decimal("1.50"), "Test")


def hire_amount(raw_json_amount: str) -> Decimal:
    """The amount of an agent hire whose JSON body carries `raw_json_amount` verbatim."""
    body = json.loads(
        f'{{"proposalId": "prop_ada", "milestone": {{"name": "B", "amount": {raw_json_amount}}}}}',
        parse_float=Decimal,  # as the agent API reads bodies
    )
    context = ValidationContext(today=date(2026, 5, 1), max_amount=MAX)
    return HireRequest.model_validate(body, context=context).milestone.amount


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("450", "450.00"), ("450.5", "450.50"), ('"1,500.00"', "1500.00"), ('"$450"', "450.00")],
)
def test_agent_amounts_that_pass(raw: str, expected: str) -> None:
    assert hire_amount(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('"1,50"', "Did you mean 1.50?"),
        ("1e3", f"“1E+3” {NOT_AN_AMOUNT}"),
        ('"1e3"', NOT_AN_AMOUNT),
        ('"١٢٣"', NOT_AN_AMOUNT),
    ],
)
def test_agent_amounts_that_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        hire_amount(raw)
    [error] = raised.value.errors()
    assert error["loc"] == ("milestone", "amount")
    assert problem in error["msg"]
