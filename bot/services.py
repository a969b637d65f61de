"""What Slack listeners need from the runtime, handed to them by Bolt as `services`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.digest import DigestDesk
from bot.replies import ReplyDesk
from bot.warroom import RapidDesk
from escalation.people import Actor, Directory


@dataclass(frozen=True)
class Services:
    sessions: sessionmaker[Session]
    org: Directory
    clock: Callable[[], datetime]
    wake_delivery: Callable[[], None]
    replies: ReplyDesk | None = None  # drafting and posting; None where Slack is only read
    rapid: RapidDesk | None = None  # the rapid-action team's crises and war rooms
    digests: DigestDesk | None = None  # the managers' digest, also on demand

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction; when it commits, the delivery worker is told there is work."""
        with unit_of_work(self.sessions) as db:
            yield db
        self.wake_delivery()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for looking only; nothing it does is committed."""
        with self.sessions() as db:
            yield db

    def actor(self, slack_id: str) -> Actor:
        return self.org.actor(slack_id)

    def now(self) -> datetime:
        return self.clock()
