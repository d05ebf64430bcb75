"""Prometheus metrics of the web app and of the service's status (prometheus-client).

Each app has its own CollectorRegistry (two apps in one process never clash). Request
counts and latencies are counted by the middleware under the route's pattern, never the
raw path (bounded label values); the service's gauges are set from the store's status
when /metrics is scraped.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reviewbot.store.webq import Status


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "reviewbot_http_requests",
            "HTTP requests served, by route, method and status",
            ("route", "method", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "reviewbot_http_request_duration_seconds",
            "Time to serve a request, by route",
            ("route",),
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.rate_limited = Counter(
            "reviewbot_http_rate_limited", "Anonymous requests refused with 429", registry=r
        )
        self.revisions = Gauge(
            "reviewbot_revisions", "Series revisions by state", ("state",), registry=r
        )
        self.oldest_queued = Gauge(
            "reviewbot_queue_oldest_age_seconds",
            "Age of the oldest queued revision since its first mail (0 when none)",
            registry=r,
        )
        self.unassembled = Gauge(
            "reviewbot_unassembled_messages",
            "Stored mail not yet looked at by assembly",
            registry=r,
        )
        self.outbox = Gauge(
            "reviewbot_outbox_pending", "Replies and checks waiting to be sent", registry=r
        )
        self.report_latency = Gauge(
            "reviewbot_arrival_to_report_seconds",
            "First mail to finished review over the last day, by quantile",
            ("quantile",),
            registry=r,
        )
        self.reviews_day = Gauge(
            "reviewbot_reviews_last_day", "Reviews finished in the last day", registry=r
        )
        self.source_lag = Gauge(
            "reviewbot_source_lag_seconds",
            "Now minus the time of the newest item a source has given",
            ("source",),
            registry=r,
        )
        self.source_poll_age = Gauge(
            "reviewbot_source_poll_age_seconds",
            "Seconds since a source's cursor was last written",
            ("source",),
            registry=r,
        )
        self.source_error = Gauge(
            "reviewbot_source_error",
            "1 when a source's last poll failed, else 0",
            ("source",),
            registry=r,
        )

    def set_status(self, state: Status) -> None:
        self.revisions.clear()
        for name, count in state.states.items():
            self.revisions.labels(name).set(count)
        self.oldest_queued.set(state.oldest_queued_age or 0.0)
        self.unassembled.set(state.new_messages)
        self.outbox.set(state.outbox_pending)
        self.report_latency.clear()
        if state.latency_median is not None and state.latency_p95 is not None:
            self.report_latency.labels("0.5").set(state.latency_median)
            self.report_latency.labels("0.95").set(state.latency_p95)
        self.reviews_day.set(state.latency_count)
        for gauge in (self.source_lag, self.source_poll_age, self.source_error):
            gauge.clear()
        for source in state.sources:
            if source.lag is not None:
                self.source_lag.labels(source.source).set(source.lag)
            self.source_poll_age.labels(source.source).set(source.poll_age)
            self.source_error.labels(source.source).set(1 if source.last_error else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
