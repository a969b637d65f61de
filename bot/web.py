"""The HTTP surface of a replica, as one WSGI application served by waitress.

POST /slack/events  Slack's events, interactivity and slash commands (through Bolt)
POST /ingest        one mention, signed (see bot.ingest)
GET  /healthz       200 when the database answers, 503 when it does not
GET  /metrics       Prometheus text format
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.ingest import MAX_BODY, UNIX_SECONDS, IngestError, Ingestor, parse, verify
from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
SLACK_PATH = "/slack/events"  # Slack's events, interactivity and commands, verified by Bolt
STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: dict) -> Response:
        return cls(status, json.dumps(payload).encode())


@dataclass
class WebApp:
    slack: WsgiApp
    ingestor: Ingestor
    ingest_secret: str
    metrics: Metrics
    health: Callable[[], dict]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == SLACK_PATH:
            return self.slack_events(environ, start_response)
        response = self.route(path, method, environ)
        self.metrics.http.labels(path if response.status != 404 else "other", response.status).inc()
        return answer(response, start_response)

    def slack_events(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Bolt, but for requests it cannot read, which Slack never sends. Bolt (1.30) answers
        500 to a timestamp that is not a number, and raises on a body that is not UTF-8 or not
        what its Content-Type says (it parses the body before it checks the signature)."""
        stamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        if stamp is not None and not UNIX_SECONDS.fullmatch(stamp):
            refusal = {"error": "invalid X-Slack-Request-Timestamp"}
            return answer(Response.json(401, refusal), start_response)
        try:
            return self.slack(environ, start_response)
        except (ValueError, TypeError, AttributeError) as exc:  # raised before Bolt answers
            log.info("unreadable request to %s refused: %r", SLACK_PATH, exc)
            return answer(Response.json(400, {"error": "unreadable request"}), start_response)

    def routes(self) -> dict[tuple[str, str], Callable[[dict], Response]]:
        """Every (path, method) served here; SLACK_PATH, any method, goes to Bolt instead."""
        return {
            ("/ingest", "POST"): self.ingest,
            ("/healthz", "GET"): self.healthz,
            ("/metrics", "GET"): self.metrics_page,
        }

    def route(self, path: str, method: str, environ: dict) -> Response:
        routes = self.routes()
        if (path, method) in routes:
            return routes[(path, method)](environ)
        if any(route_path == path for route_path, _ in routes):
            return Response.json(405, {"error": f"{method} is not allowed on {path}"})
        return Response.json(404, {"error": f"no such path: {path}"})

    def ingest(self, environ: dict) -> Response:
        try:
            body = read_body(environ, MAX_BODY)
            verify(
                self.ingest_secret,
                environ.get("HTTP_X_INGEST_TIMESTAMP"),
                environ.get("HTTP_X_INGEST_SIGNATURE"),
                body,
                time.time(),
            )
            mention_id, created = self.ingestor.take(parse(body))
        except IngestError as exc:
            self.metrics.ingest_rejected.labels(exc.status).inc()
            return Response.json(exc.status, exc.body())
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("ingest failed [correlation id %s]", incident)
            return Response.json(
                503, {"error": "could not store the mention; retry", "id": incident}
            )
        status = "accepted" if created else "duplicate"
        return Response.json(202 if created else 200, {"id": mention_id, "status": status})

    def healthz(self, _environ: dict) -> Response:
        report = self.health()
        return Response.json(200 if report.get("status") == "ok" else 503, report)

    def metrics_page(self, _environ: dict) -> Response:
        return Response(200, self.metrics.render(), CONTENT_TYPE)


def answer(response: Response, start_response: Callable) -> Iterable[bytes]:
    reason = STATUS_TEXT.get(response.status, "")
    headers = [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
    ]
    start_response(f"{response.status} {reason}", headers)
    return [response.body]


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, or IngestError(413) once it passes `limit` bytes."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise IngestError(413, f"body larger than {limit} bytes")
    length = int(declared) if declared.isdigit() else limit + 1
    body = environ["wsgi.input"].read(min(length, limit + 1))
    if len(body) > limit:
        raise IngestError(413, f"body larger than {limit} bytes")
    return body
