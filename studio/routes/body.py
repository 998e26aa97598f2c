"""What every JSON request body of the studio's own API shares: it is a JSON object, refused otherwise with
the same 422 FastAPI gives a plain `dict` body ("Input should be a valid dictionary")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError


class JsonBody(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        return data
