"""A fake Slack Web API server, standard library only.

with FakeSlack() as fake:
    client = WebClient(token=fake.bot_token, base_url=fake.url)
"""

from .blocks import validate_message, validate_view
from .fake import FakeSlack
from .limits import Limits
from .model import Call, SlackError

__all__ = ["Call", "FakeSlack", "Limits", "SlackError", "validate_message", "validate_view"]
