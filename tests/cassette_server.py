"""A loopback server that answers from a vcrpy cassette, for code running in a live replica.

vcrpy patches HTTP classes process-wide and briefly puts the real ones back whenever it opens
a connection, so while a replica's other threads talk to the fake Slack a patched request can
escape to the network. Serving the same recorded exchanges on 127.0.0.1 (the client pointed at
it, as at a proxy) replays them with no patching at all.

An exchange matches on method, path and, when the recording has a JSON body, that body; each
is answered once, in order. A request that matches none gets a 599 and is kept in `unmatched`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

CASSETTES = Path(__file__).parent / "cassettes"


@dataclass
class Exchange:
    method: str
    path: str
    body: Any  # the recorded JSON body, or None to match any
    status: int
    reason: str
    headers: dict[str, list[str]]
    answer: str
    played: bool = False

    def matches(self, method: str, path: str, body: bytes) -> bool:
        if self.played or (method, path) != (self.method, self.path):
            return False
        return self.body is None or _json(body) == self.body


def load(name: str) -> list[Exchange]:
    recorded = yaml.safe_load((CASSETTES / name).read_text())
    return [
        Exchange(
            method=item["request"]["method"],
            path=urlsplit(item["request"]["uri"]).path,
            body=_json(item["request"].get("body")),
            status=item["response"]["status"]["code"],
            reason=item["response"]["status"]["message"],
            headers=item["response"].get("headers") or {},
            answer=item["response"]["body"]["string"],
        )
        for item in recorded["interactions"]
    ]


def _json(raw: str | bytes | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class CassetteServer:
    """`with CassetteServer("x_reply.yaml") as server:` then send the client to `server.url`."""

    def __init__(self, cassette: str) -> None:
        self.exchanges = load(cassette)
        self.received: list[tuple[str, str, Any]] = []
        self.unmatched: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.replayer = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def play_count(self) -> int:
        return sum(e.played for e in self.exchanges)

    def answer(self, method: str, path: str, body: bytes) -> Exchange | None:
        with self.lock:
            self.received.append((method, path, _json(body)))
            exchange = next((e for e in self.exchanges if e.matches(method, path, body)), None)
            if exchange is None:
                self.unmatched.append((method, path, _json(body)))
            else:
                exchange.played = True
            return exchange

    def __enter__(self) -> CassetteServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        exchange = self.server.replayer.answer(self.command, path, body)  # type: ignore[attr-defined]
        if exchange is None:
            self._send(599, "No Recorded Exchange", {}, '{"detail": "not in the cassette"}')
        else:
            self._send(exchange.status, exchange.reason, exchange.headers, exchange.answer)

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (the standard library's names)

    def _send(self, status: int, reason: str, headers: dict, answer: str) -> None:
        raw = answer.encode()
        self.send_response(status, reason)
        for name, values in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "date", "server"):
                for value in values:
                    self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass
