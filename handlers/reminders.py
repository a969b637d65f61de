"""The Snooze button of a reminder sent by direct message."""

from __future__ import annotations

from slack_bolt import App

from bot.views.ids import ActionId
from escalation import ladder
from handlers.actions import apply_click
from handlers.payloads import case_ref


def register(app: App) -> None:
    app.action(ActionId.SNOOZE)(snooze)


def snooze(ack, body, services, respond):
    ack()

    def change(db, click, actor):
        ladder.snooze(
            db=db, nag_id=case_ref(click.value), actor=actor, org=services.org, now=services.now()
        )

    minutes = int(services.org.policies.ladder.snooze.total_seconds() // 60) or 1
    apply_click(body, services, respond, change, f"I'll remind you again in {minutes} min.")
