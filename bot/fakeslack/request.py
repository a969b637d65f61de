"""What a Web API method handler receives: typed access to the arguments and the call record."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model import Call, Channel, SlackError
from .workspace import Workspace

_TRUE = ("1", "true", "yes", "on")


@dataclass
class Args:
    """Arguments as Slack reads them: form values are strings, JSON bodies keep their types."""

    params: dict[str, Any]

    def get(self, name: str) -> Any:
        value = self.params.get(name)
        return None if value == "" else value

    def text(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def need(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.text(name)
        if value is None:
            raise SlackError(error)
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in _TRUE if value is not None else False

    def integer(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def decoded(self, name: str, error: str = "invalid_arguments") -> Any:
        """A structured argument, which form-encoded callers send as a JSON string."""
        value = self.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error) from None

    def csv(self, name: str) -> list[str]:
        value = self.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]


@dataclass
class Request:
    ws: Workspace
    args: Args
    call: Call

    def channel(self, name: str = "channel") -> Channel:
        channel = self.ws.require_channel(self.args.text(name))
        self.call.channel = channel.id
        return channel


Handler = Callable[[Request], dict[str, Any]]
