"""X (Twitter): the account's mentions through the API v2 and tweepy, app-only bearer auth.

The only module that imports tweepy. GET /2/users/:id/mentions, newest first, 100 a page,
`since_id` from the cursor row; a rate limit raises RateLimited with X's x-rate-limit-reset
instead of sleeping, so the other sources keep being polled.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from urllib3.exceptions import NewConnectionError

from bot.sources import Batch, RateLimited, SourceAuthError, SourceError
from bot.sources.mapping import (
    build,
    convert,
    display_name,
    language,
    newest_id,
    parse_time,
    plain_text,
)
from escalation.mentions import NewMention, Source

log = logging.getLogger(__name__)

MAX_PAGES = 8  # the endpoint serves at most the 800 newest mentions: 8 pages of 100
REQUEST_TIMEOUT = 30.0
EXPANSIONS = ["author_id"]
USER_FIELDS = ["public_metrics", "verified", "name", "username"]
TWEET_FIELDS = ["created_at", "conversation_id", "in_reply_to_user_id", "lang", "referenced_tweets"]


X_API = "https://api.twitter.com"  # where tweepy sends every request


class _TimeoutSession(requests.Session):
    """tweepy sets no timeout (a silent connection would hold the account's lease for ever)
    and always calls X itself; `api_url` sends its requests elsewhere (an egress proxy, or a
    replaying server in tests)."""

    def __init__(self, api_url: str = X_API) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        if isinstance(url, str) and url.startswith(X_API):
            url = self.api_url + url[len(X_API) :]
        return super().request(method, url, *args, **kwargs)


def make_client(bearer_token: str, api_url: str = X_API) -> tweepy.Client:
    """A client that raises on a rate limit (never sleeps) and gives up on a silent server."""
    # tweepy logs request headers, bearer token included, at DEBUG.
    logging.getLogger("tweepy.client").setLevel(logging.INFO)
    client = tweepy.Client(bearer_token, return_type=dict, wait_on_rate_limit=False)
    client.session = _TimeoutSession(api_url)
    return client


class XSource:
    """Mentions of one X account, `user_id` being its numeric id."""

    def __init__(self, user_id: str, client: tweepy.Client) -> None:
        self.key = f"x:{user_id}"
        self.user_id, self.client = user_id, client

    def fetch(self, cursor: str | None) -> Batch:
        tweets, users = [], {}
        for page in self._pages(cursor):
            tweets += page.get("data") or []
            users |= {user["id"]: user for user in page.get("includes", {}).get("users", [])}
        mentions = [
            mention
            for tweet in tweets
            if tweet.get("author_id") != self.user_id
            and (mention := convert(self.key, to_mention, tweet, users)) is not None
        ]
        return Batch(mentions, newest_id([str(t["id"]) for t in tweets if t.get("id")], cursor))

    def _pages(self, cursor: str | None) -> list[dict]:
        """Every page newer than `cursor`; without one, only the newest page (no backlog)."""
        params: dict[str, Any] = {
            "expansions": EXPANSIONS,
            "user_fields": USER_FIELDS,
            "tweet_fields": TWEET_FIELDS,
            "max_results": 100,
        }
        if cursor:
            params["since_id"] = cursor
        pages = [self._call(params)]
        while cursor and len(pages) < MAX_PAGES:
            token = pages[-1].get("meta", {}).get("next_token")
            if not token:
                break
            pages.append(self._call(params | {"pagination_token": token}))
        if len(pages) == MAX_PAGES and pages[-1].get("meta", {}).get("next_token"):
            log.warning(
                "source %s: over %d pages of mentions, the oldest skipped", self.key, MAX_PAGES
            )
        return pages

    def _call(self, params: dict[str, Any]) -> dict:
        try:
            return self.client.get_users_mentions(self.user_id, **params)
        except tweepy.TooManyRequests as exc:
            raise RateLimited(reset_time(exc.response), "X: 429 Too Many Requests") from None
        except tweepy.Unauthorized:
            message = "X: 401 Unauthorized, the bearer token was refused; check X_BEARER_TOKEN"
            raise SourceAuthError(message) from None
        except tweepy.Forbidden as exc:
            raise SourceAuthError(f"X: 403 Forbidden: {_api_message(exc)}") from None
        except tweepy.HTTPException as exc:
            raise SourceError(f"X: {exc.response.status_code}: {_api_message(exc)}") from None
        except (tweepy.TweepyException, requests.RequestException, ValueError) as exc:
            raise SourceError(f"X: no answer ({type(exc).__name__})") from None


class PostRefused(SourceError):
    """X refused the post: nothing was published (a duplicate, a rate limit, bad credentials)."""


class PostUncertain(SourceError):
    """X gave no clear answer: the post may or may not be out; never send it again blindly."""


class XPublisher:
    """Replies in the name of the brand's account: OAuth 1.0a user context, one attempt each.

    Not retried, by tweepy or by us: a post that timed out after X received it would appear
    twice. A refusal (4xx, including 429) means nothing was posted; a 5xx or a broken
    connection may have posted, and the caller says so to a person.
    """

    def __init__(self, client: tweepy.Client) -> None:
        self.client = client

    @classmethod
    def with_user_context(cls, keys: tuple[str, str, str, str], api_url: str = X_API):
        """From the app's key and secret and the account's access token and secret."""
        logging.getLogger("tweepy.client").setLevel(logging.INFO)  # it logs credentials
        client = tweepy.Client(
            consumer_key=keys[0],
            consumer_secret=keys[1],
            access_token=keys[2],
            access_token_secret=keys[3],
            return_type=dict,
            wait_on_rate_limit=False,
        )
        client.session = _TimeoutSession(api_url)
        return cls(client)

    def reply(self, text: str, in_reply_to: str) -> tuple[str, str]:
        """Post `text` in reply to the tweet `in_reply_to`: (the new tweet's id, its address)."""
        try:
            answer = self.client.create_tweet(
                text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True
            )
        except tweepy.HTTPException as exc:
            status = exc.response.status_code
            message = f"X: {status}: {_api_message(exc)}"
            raise (PostUncertain if status >= 500 else PostRefused)(message) from None
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise PostRefused(f"X: could not connect ({type(exc).__name__})") from None
            raise PostUncertain(f"X: the connection broke ({type(exc).__name__})") from None
        except (tweepy.TweepyException, requests.RequestException, ValueError) as exc:
            raise PostUncertain(f"X: no answer ({type(exc).__name__})") from None
        tweet_id = str((answer.get("data") or {}).get("id") or "")
        if not tweet_id:
            raise PostUncertain("X: the answer named no tweet")
        return tweet_id, f"https://x.com/i/web/status/{tweet_id}"


def _never_connected(exc: requests.ConnectionError) -> bool:
    """The request never left: no connection was made (refused, unresolvable, timed out)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def reset_time(response: requests.Response | None) -> datetime | None:
    """When X's window resets: its x-rate-limit-reset header, in epoch seconds."""
    value = response.headers.get("x-rate-limit-reset", "") if response is not None else ""
    return datetime.fromtimestamp(int(value), UTC) if value.strip().isdigit() else None


def _api_message(exc: tweepy.HTTPException) -> str:
    text = "; ".join(str(message) for message in exc.api_messages)
    return " ".join(text.split())[:200] or str(exc.response.reason)


def to_mention(key: str, tweet: dict, users: dict[str, dict]) -> NewMention | None:
    """One tweet of the mentions timeline, its author looked up in the page's includes."""
    user = users.get(tweet.get("author_id", ""), {})
    username = user.get("username")
    replied_to = [
        ref["id"] for ref in tweet.get("referenced_tweets") or [] if ref.get("type") == "replied_to"
    ]
    return build(
        key,
        source=Source.X,
        external_id=tweet["id"],
        url=f"https://x.com/{username or 'i/web'}/status/{tweet['id']}",
        author={
            "handle": username or tweet.get("author_id", "unknown"),
            "display_name": display_name(user.get("name")),
            "followers": int(user.get("public_metrics", {}).get("followers_count", 0)),
            "verified": bool(user.get("verified", False)),
        },
        # The v2 API escapes &, < and > in tweet text.
        text=plain_text(html.unescape(tweet.get("text", ""))),
        created_at=parse_time(tweet["created_at"]),
        conversation_id=tweet.get("conversation_id"),
        in_reply_to=replied_to[0] if replied_to else None,
        lang=language(tweet.get("lang")),
    )
