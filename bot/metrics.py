"""Prometheus metrics of one replica, in a registry of its own (several replicas run in tests)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "mentions_ingested_total",
            "Mentions taken in, by source and result (new or duplicate).",
            ["source", "result"],
            registry=self.registry,
        )
        self.ingest_rejected = Counter(
            "ingest_rejected_total",
            "Webhook requests refused, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "slack_deliveries_total",
            "Outbox sends to Slack, by result: sent, ratelimited, retry, dead.",
            ["result"],
            registry=self.registry,
        )
        self.uncertain = Counter(
            "slack_deliveries_uncertain_total",
            "Sends retried after a worker died mid-send: each may have posted twice.",
            registry=self.registry,
        )
        self.http = Counter(
            "http_requests_total",
            "HTTP requests answered, by path and status.",
            ["path", "status"],
            registry=self.registry,
        )

        self.llm_calls = Counter(
            "llm_calls_total",
            "Calls to the LLM that answered, by model.",
            ["model"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "llm_tokens_total",
            "LLM tokens by model and kind: prompt (cached included), cached, completion.",
            ["model", "kind"],
            registry=self.registry,
        )

    def llm_usage(self, model: str, prompt: int, cached: int, completion: int) -> None:
        """One LLM call's tokens (the LLM client's usage hook)."""
        self.llm_calls.labels(model).inc()
        for kind, count in (("prompt", prompt), ("cached", cached), ("completion", completion)):
            self.llm_tokens.labels(model, kind).inc(count)

    def track_outbox(self, sizes: Callable[[], dict[str, int]]) -> None:
        """Report the queue from the database at each scrape, so that every replica agrees."""
        self.registry.register(_OutboxCollector(sizes))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _OutboxCollector:
    def __init__(self, sizes: Callable[[], dict[str, int]]) -> None:
        self.sizes = sizes

    def collect(self):
        family = GaugeMetricFamily(
            "outbox_jobs",
            "Messages for Slack not yet sent: pending, or dead (refused).",
            None,
            ["status"],
        )
        for status, count in self.sizes().items():
            family.add_metric([status], count)
        yield family
