"""A fake Slack Web API server, standard library only.

with FakeSlack() as fake:
    client = WebClient(token=fake.bot_token, base_url=fake.url)
"""

from .blocks import validate_message, validate_view
from .driver import DriverResult, SlackDriver
from .fake import FakeSlack
from .limits import Limits
from .model import Call, SlackError

__all__ = [
    "Call",
    "DriverResult",
    "FakeSlack",
    "Limits",
    "SlackDriver",
    "SlackError",
    "validate_message",
    "validate_view",
]
