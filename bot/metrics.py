"""
Prometheus metrics, on a registry owned by each ``Metrics`` instance (no global state,
so tests and several apps in one process never collide). Under ``run --http --workers
N`` prometheus_client's multiprocess mode adds up the front's and the workers' values.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
# Probe latencies: a healthy STARTTLS probe takes tens of ms; timeouts run to the
# budget.
PROBE_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Time to claim an escalation: a minute to a working day.
CLAIM_BUCKETS: Final = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)


class Metrics:
    """
    The bot's counters and histograms.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "smtpbot_events_received",
            "Slack events, commands and actions received",
            ["kind"],
            registry=self.registry,
        )
        self.unhandled = Counter(
            "smtpbot_unhandled_requests",
            "Signed Slack requests no listener takes (acked and dropped), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.deduplicated = Counter(
            "smtpbot_events_deduplicated",
            "Events dropped as duplicates (retries, replicas, mention+message)",
            registry=self.registry,
        )
        self.matches = Counter(
            "smtpbot_matches",
            "Messages matched, by category and decision",
            ["category", "decision"],
            registry=self.registry,
        )
        self.replies = Counter(
            "smtpbot_replies",
            "Replies posted, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.probes = Counter(
            "smtpbot_probes",
            "Probes by outcome (ok, warn, fail, refused, rate-limited)",
            ["outcome"],
            registry=self.registry,
        )
        self.probe_seconds = Histogram(
            "smtpbot_probe_seconds",
            "Probe latency",
            buckets=PROBE_BUCKETS,
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "smtpbot_slack_api_errors",
            "Failed Slack Web API calls",
            ["method"],
            registry=self.registry,
        )
        self.slack_retries = Counter(
            "smtpbot_slack_api_retries",
            "Slack Web API calls retried by slack_sdk's retry handlers",
            ["reason"],
            registry=self.registry,
        )
        self.escalations = Counter(
            "smtpbot_escalations",
            "Threads handed to humans",
            ["reason"],
            registry=self.registry,
        )
        self.escalations_open = Gauge(
            "smtpbot_escalations_open",
            "Escalations not yet resolved or handed back (as this replica last saw)",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.escalation_claim_seconds = Histogram(
            "smtpbot_escalation_claim_seconds",
            "Time from hand-off to claim",
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.intake_lag = Gauge(
            "smtpbot_intake_lag",
            "Queued messages no worker has taken yet (HTTP mode; read at each scrape)",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.intake_pending = Gauge(
            "smtpbot_intake_pending",
            "Queued messages a worker has taken and not finished (HTTP mode)",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.intake_expired = Counter(
            "smtpbot_intake_expired",
            "Queued messages dropped unanswered because they waited over an hour",
            registry=self.registry,
        )
        self.requests_refused = Counter(
            "smtpbot_requests_refused",
            "Requests to /slack/events refused (unsigned, stale, too large, "
            "malformed) or replays acked without acting",
            ["reason"],
            registry=self.registry,
        )
        self.app_rate_limited = Counter(
            "smtpbot_app_rate_limited",
            "app_rate_limited notices: Slack dropped a workspace's events for a minute",
            registry=self.registry,
        )
        self.token_refreshes = Counter(
            "smtpbot_token_refreshes",
            "Rotating bot tokens about to expire, by outcome: refreshed here, joined "
            "(another replica's refresh used), waited (the current token used while "
            "another replica refreshes), pending (expired and still refreshing "
            "elsewhere), failed",
            ["outcome"],
            registry=self.registry,
        )
        self.not_installed = Counter(
            "smtpbot_not_installed_requests",
            "Signed requests from a workspace with no installation, acked with no "
            "Web API call, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.redis_round_trips = Counter(
            "smtpbot_redis_round_trips",
            "Round trips to the state store (a pipeline counts once)",
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "smtpbot_redis_errors",
            "State store operations that failed (Redis unreachable)",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """
        The Prometheus text exposition; with PROMETHEUS_MULTIPROC_DIR (``run --http
        --workers N``) the sum over the front and its workers.
        """
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
