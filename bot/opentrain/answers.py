"""Reading OpenTrain's answers and naming its paths: JSON with exact `Decimal` money,
a wire model or a clear `INVALID_RESPONSE` error, and path segments that stay segments."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from bot.opentrain.errors import OpenTrainError

ModelT = TypeVar("ModelT", bound=BaseModel)


def api_path(*segments: str) -> str:
    """`/a/b/c` with each segment percent-encoded, so an id like `../x` stays one segment."""
    return "".join("/" + _segment(segment) for segment in segments)


def _segment(value: str) -> str:
    quoted = quote(value, safe="")
    # quote() leaves "." alone, and "." / ".." segments would be collapsed by URL normalisation.
    return quoted.replace(".", "%2E") if set(value) <= {"."} else quoted


def decode(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return json.loads(response.text, parse_float=Decimal, parse_constant=_no_constants)
    except ValueError:
        raise OpenTrainError(
            "OpenTrain answered with a body that is not JSON",
            status=response.status_code,
            code="INVALID_RESPONSE",
        ) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def field(payload: Any, key: str) -> Any:
    if not isinstance(payload, dict) or key not in payload:
        raise _invalid(f"no `{key}` in OpenTrain's answer")
    return payload[key]


def model_of(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise _invalid(
            f"OpenTrain's answer does not fit {model.__name__} ({where}: {first['msg']})"
        ) from exc


def models_of(model: type[ModelT], data: Any) -> list[ModelT]:
    if not isinstance(data, list):
        raise _invalid(f"expected a list of {model.__name__} from OpenTrain")
    return [model_of(model, item) for item in data]


def _invalid(message: str) -> OpenTrainError:
    return OpenTrainError(message, code="INVALID_RESPONSE")
