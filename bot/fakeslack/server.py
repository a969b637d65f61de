"""HTTP layer: turns requests into method calls on the workspace, answering the way Slack does.

Order of checks for /api/<method>: record the call, injected faults, authentication, rate limits,
then the method itself. Every call is recorded, rejected ones included.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import api_chat, api_conversations, api_misc, api_views
from .faults import Fault, FaultBook, render
from .limits import RateLimiter
from .model import Call, SlackError
from .request import Args, Handler, Request
from .workspace import Workspace

if TYPE_CHECKING:
    from .client import WebClient

logger = logging.getLogger(__name__)

METHODS: dict[str, Handler] = {
    **api_chat.METHODS,
    **api_conversations.METHODS,
    **api_misc.METHODS,
    **api_views.METHODS,
}
NO_AUTH = frozenset({"api.test"})
JSON_ARGS = ("blocks", "attachments", "view", "metadata", "files")
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False


def json_reply(status: int, data: dict[str, Any], **headers: str) -> Reply:
    return Reply(status, json.dumps(data).encode(), headers=dict(headers))


def error_body(err: SlackError) -> dict[str, Any]:
    return {"ok": False, "error": err.error, **err.extra}


def normalise(params: dict[str, Any]) -> dict[str, Any]:
    """Decode the JSON strings form-encoded callers send, so recorded params read the same."""
    out = dict(params)
    for key in JSON_ARGS:
        if isinstance(out.get(key), str):
            try:
                out[key] = json.loads(out[key])
            except json.JSONDecodeError:
                pass  # left as is: the method answers with Slack's error for it
    return out


class Api:
    """Everything between a parsed request and its reply; independent of http.server."""

    def __init__(self, ws: Workspace, limiter: RateLimiter, faults: FaultBook, token: str) -> None:
        self.ws, self.limiter, self.faults, self.token = ws, limiter, faults, token
        self.client: WebClient | None = None  # the web page, once an app is installed

    def _record(self, method: str, params: dict[str, Any]) -> Call:
        call = Call(method, params)
        with self.ws.lock:
            self.ws.calls.append(call)
            self._note_unsafe(call)
            call.channel = self._channel_of(params)
        return call

    def _channel_of(self, params: dict[str, Any]) -> str | None:
        """The channel a call is about, known even when the call is rejected before running."""
        value = Args(params).text("channel") or Args(params).text("channel_id")
        if value is None:
            return None
        channel = self.ws.channels.get(value) or self.ws.channel_by_name(value)
        return channel.id if channel else value

    def _note_unsafe(self, call: Call) -> None:
        args = Args(call.params)
        if args.get("link_names") is not None and args.flag("link_names"):
            self.ws.unsafe_params.append({"method": call.method, "param": "link_names"})
        if args.text("parse") == "full":
            self.ws.unsafe_params.append({"method": call.method, "param": "parse"})

    def _finish(self, call: Call, reply: Reply, data: dict[str, Any] | None) -> Reply:
        call.status = reply.status
        if data is not None:
            call.ok, call.error, call.response = bool(data.get("ok")), data.get("error"), data
            call.warning = data.get("warning")
        return reply

    def _fault(self, call: Call) -> tuple[Reply | None, float]:
        """An injected answer for this call (if any) and the delay to apply before answering."""
        fault = self.faults.take(call.method)
        if fault is None:
            return None, 0.0
        delay = fault.delay or 0.0
        if fault.reset:
            call.status, call.error = 0, "connection_reset"
            return Reply(0, b"", delay=delay, reset=True), delay
        if fault.passes_through:
            return None, delay
        return self._injected(call, fault, delay), delay

    def _injected(self, call: Call, fault: Fault, delay: float) -> Reply:
        out = render(fault)
        try:
            data = json.loads(out.body)
        except ValueError:
            data = {"ok": False, "error": f"http_{out.status}"}
        reply = Reply(out.status, out.body, out.content_type, out.headers, delay)
        return self._finish(call, reply, data if isinstance(data, dict) else None)

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if method in NO_AUTH:
            return None
        if not token:
            return "not_authed"
        return None if token == self.token else "invalid_auth"

    def _rate_key(self, call: Call) -> str | None:
        if call.method != "chat.postMessage":
            return None
        with self.ws.transaction():
            channel = self.ws.resolve(Args(call.params).text("channel"))
        return channel.id if channel else call.channel

    def web_api(self, method: str, params: dict[str, Any], token: str | None) -> Reply:
        call = self._record(method, normalise(params))
        injected, delay = self._fault(call)
        if injected is not None:
            return injected
        reply = self._checked(call, token)
        reply.delay = delay
        return reply

    def _checked(self, call: Call, token: str | None) -> Reply:
        handler = METHODS.get(call.method)
        error = self._auth_error(call.method, token)
        if error is None and handler is None:
            error = "unknown_method"
        if error is not None or handler is None:
            data = {"ok": False, "error": error or "unknown_method"}
            return self._finish(call, json_reply(200, data), data)
        retry_after = self.limiter.check(call.method, self._rate_key(call))
        if retry_after is not None:
            data = {"ok": False, "error": "ratelimited"}
            reply = json_reply(429, data, **{"Retry-After": str(retry_after)})
            return self._finish(call, reply, data)
        return self._run(call, handler)

    def _run(self, call: Call, handler: Handler, error_status: int = 200) -> Reply:
        try:
            with self.ws.transaction():
                data = handler(Request(self.ws, Args(call.params), call))
            status = 200
        except SlackError as err:
            data, status = error_body(err), error_status
        except Exception:  # a bug in the fake should read as a server error, not a hang-up
            logger.exception("fake slack: %s failed", call.method)
            data, status = {"ok": False, "error": "fatal_error"}, 500
        return self._finish(call, json_reply(status, data), data)

    def special(
        self, method: str, params: dict[str, Any], action: Callable[[Request], Any]
    ) -> Reply:
        """The non-API endpoints (upload URL, response_url): faults apply, no token needed."""
        call = self._record(method, normalise(params))
        injected, delay = self._fault(call)
        if injected is not None:
            return injected

        def handler(req: Request) -> dict[str, Any]:
            action(req)
            return {"ok": True}

        reply = self._run(call, handler, error_status=404 if method == "upload" else 400)
        if call.error in ("invalid_url", "expired_url", "used_url"):
            reply.status = call.status = 404
        reply.delay = delay
        return reply


# --- request parsing ------------------------------------------------------------------------


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Slack takes JSON, url-encoded forms and multipart forms; slack-sdk sends all three."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        return data
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[str(name)] = payload.decode("utf-8", "replace")
        else:
            fields[str(name)] = payload
    return fields


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


# --- http.server glue -----------------------------------------------------------------------


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a delayed answer must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 makes bursts of clients wait a second for a SYN retry

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, FakeHandler)
        self.api = api
        self.resets: set[socket.socket] = set()

    def shutdown_request(self, request: Any) -> None:
        # Skip the polite FIN for connections we were told to reset: close with an RST instead.
        if request in self.resets:
            self.resets.discard(request)
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake slack: error answering %s", client_address, exc_info=True)


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # close idle keep-alive connections (browsers hold them open)
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake slack: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        try:
            reply = self._route(unquote(parts.path), parts.query, body)
        except ValueError:
            reply = json_reply(200, {"ok": False, "error": "invalid_json"})
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self._reset()
        else:
            self._send(reply)

    def _route(self, path: str, query: str, body: bytes) -> Reply:
        api = self.server.api
        segments = path.strip("/").split("/")
        if segments[0] == "api" and len(segments) == 2:
            params = dict(parse_qsl(query, keep_blank_values=True))
            params.update(parse_body(self.headers.get("Content-Type", ""), body))
            token = _bearer(self.headers.get("Authorization")) or params.pop("token", None)
            params.pop("token", None)
            return api.web_api(segments[1], params, token)
        if segments[0] == "upload" and len(segments) == 2 and self.command == "POST":
            return self._upload(segments[1], body)
        if segments[0] == "response" and len(segments) == 2 and self.command == "POST":
            payload = parse_body(self.headers.get("Content-Type", "application/json"), body)
            return api.special("response_url", payload, lambda r: api_chat.respond(r, segments[1]))
        if segments[0] == "files" and len(segments) >= 2:
            return self._download(segments[1])
        if api.client is not None and segments[0] in ("", "static", "client"):
            answer = api.client.post(path, body) if self.command == "POST" else None
            status, data, kind = answer or api.client.get(path, dict(parse_qsl(query)))
            return Reply(status, data, kind)
        return Reply(404, b"not found", "text/plain; charset=utf-8")

    def _upload(self, file_id: str, body: bytes) -> Reply:
        kind = self.headers.get("Content-Type", "")
        data = body
        if kind.startswith("multipart/form-data"):
            fields = _multipart(kind, body)
            data = next((v for v in fields.values() if isinstance(v, bytes)), body)
        params = {"file_id": file_id, "size": len(data)}
        reply = self.server.api.special(
            "upload", params, lambda r: api_misc.store_upload(r, file_id, data)
        )
        if reply.status == 200:
            reply.body, reply.content_type = f"OK - {len(data)}".encode(), "text/plain"
        return reply

    def _download(self, file_id: str) -> Reply:
        ws = self.server.api.ws
        with ws.lock:
            stored = ws.files.get(file_id)
        if stored is None or stored.data is None:
            return Reply(404, b"file not found", "text/plain; charset=utf-8")
        return Reply(200, stored.data, stored.to_api(ws.root_url)["mimetype"])

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Drop the connection without a word, as a flaky load balancer does."""
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)  # linger on, 0 s: close() sends an RST
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        self.server.resets.add(self.connection)
