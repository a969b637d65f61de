"""`/social`: `digest [today|yesterday|7d]` shows the managers' digest to whoever asks,
ephemerally (by default the last 24 hours); anything else gets the help."""

from __future__ import annotations

from slack_bolt import App

from bot.views.text import Message, mrkdwn_section
from escalation.digests import PERIODS
from escalation.errors import InvalidTransition

COMMAND = "/social"


def register(app: App, command: str = COMMAND) -> None:
    app.command(command)(social)


def social(ack, body, services, respond):
    ack()
    verb, _, period = " ".join((body.get("text") or "").split()).lower().partition(" ")
    if verb != "digest" or period not in ("", *PERIODS):
        say(respond, help_message(body.get("command") or COMMAND, body.get("text") or ""))
        return
    if services.digests is None:
        raise InvalidTransition("The digest is not set up on this server.")
    say(respond, services.digests.on_demand(body["user_id"], period))


def say(respond, message: Message) -> None:
    respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


def help_message(command: str, typed: str) -> Message:
    lines = [
        f"`{command} digest` the digest of the last 24 hours, for your departments",
        f"`{command} digest today` · `{command} digest yesterday` · `{command} digest 7d`",
        "Your cases, the unclaimed ones and your departments' escalations are in the bot's"
        " *Home* tab.",
    ]
    if typed.strip() and typed.strip().lower() != "help":
        lines.insert(0, "Sorry, I did not understand that. Try:")
    return Message("\n".join(lines), [mrkdwn_section("\n".join(lines))])
