"""What every JSON request body of the studio's own API shares: it is a JSON object, refused otherwise with
the same 422 FastAPI gives a plain `dict` body ("Input should be a valid dictionary"); and how its loosely
typed fields (and a form's) become numbers: `whole_number`, `finite_number`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError


class JsonBody(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        return data


def whole_number(raw: Any, field: str, low: int = 0, high: int = (1 << 64) - 1) -> int:
    """A whole number as a form or a loose JSON field gives it ('100', 100, '1e2' - what a browser's number
    input accepts), within low..high, or a 400 that names the field (never a 500, nor a silent truncation of
    1.5 to 1)."""
    number = _decimal(raw)
    if number is None or number != number.to_integral_value() or not low <= number <= high:
        raise HTTPException(400, f"{field}: {str(raw)[:40]!r} is not a whole number within {low}..{high}")
    return int(number)


def finite_number(raw: Any, field: str) -> float:
    """A real number ('0.7', '7e-1'), finite, or a 400 that names the field."""
    number = _decimal(raw)
    if number is None:
        raise HTTPException(400, f"{field}: {str(raw)[:40]!r} is not a number")
    return float(number)


def _decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and number.adjusted() < 40 else None
