"""The metrics an operator alerts on, in Prometheus' text format (`/metrics`).

Every metric copline exports is defined here, so one page says what there is and what
each label may hold. Labels take values from closed sets only: USSD screen ids and
outcomes, route templates and GraphQL root fields of our own schema, message statuses,
channels, the gateway's error kinds, job names. Never a phone, a token, an API key, a
message body or any other text a caller chose (a GraphQL operation *name* is such text).

The metric objects are process-wide, as prometheus_client intends (like loggers): they
hold counts, never a connection or settings. With several processes on one machine
(`copline serve --workers N`) each writes its values into files under
`PROMETHEUS_MULTIPROC_DIR` and a scrape, answered by any one of them, adds them up
(`registry()`). prometheus_client picks that mode when it is first imported, so the
variable must be in the environment before then: `copline serve` sets it for its
worker processes. The figures read from the database at scrape time (the outbox, the
webhook queue) are not kept here but in `service.backlog`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A USSD hop answers in 5-50 ms; AT drops it after 10-15 s; the alert is on p99 > 1 s.
HOP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a report within a second of the send to one a day later (a phone switched off).
REPORT_LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0)

# --- USSD -----------------------------------------------------------------------------

USSD_HOPS = Counter(
    "copline_ussd_hops",
    "USSD hops answered, by outcome and the screen shown (or the one that ended the dial).",
    ["outcome", "screen"],
)
USSD_HOP_SECONDS = Histogram(
    "copline_ussd_hop_duration_seconds",
    "Time to answer a USSD hop, from the parsed form to the reply (waiting for a "
    "database connection included).",
    buckets=HOP_BUCKETS,
)


class HopOutcome:
    """What a hop did, as the `outcome` label says it."""

    continued = "continued"  # CON: the next screen
    invalid = "invalid"  # CON: the same screen again with a line on what was wrong
    ended = "ended"  # END: the dial's natural end (a change made, a goodbye)
    refused = "refused"  # END: the change was refused (meeting cancelled, not allowed…)
    unknown_service = "unknown_service"  # END: no programme has this service code
    error = "error"  # END: the database failed; the caller read the outage line
    bad_request = "bad_request"  # 400: not a form Africa's Talking sends


NO_SCREEN = "none"  # the hop never reached a screen (an outage, an unknown code)
_hop_children: dict[tuple[str, str], Counter] = {}


def hop_answered(outcome: str, screen: str, seconds: float) -> None:
    """Count a hop and its time. On every hop: the labelled child is looked up once."""
    child = _hop_children.get((outcome, screen))
    if child is None:
        child = _hop_children[(outcome, screen)] = USSD_HOPS.labels(outcome, screen)
    child.inc()
    USSD_HOP_SECONDS.observe(seconds)


def hop_refused() -> None:
    """A callback that is not a hop Africa's Talking would send (answered 400)."""
    USSD_HOPS.labels(HopOutcome.bad_request, NO_SCREEN).inc()


# --- HTTP: GraphQL, the console, the callbacks ---------------------------------------

HTTP_SECONDS = Histogram(
    "copline_http_request_duration_seconds",
    "Time to answer an HTTP request, by face (graphql, console, callbacks, api, ops) and "
    "operation: the GraphQL root field, else the route's template.",
    ["face", "operation"],
    buckets=HTTP_BUCKETS,
)
HTTP_RESPONSES = Counter(
    "copline_http_responses",
    "HTTP responses by face and status class (2xx, 3xx, 4xx, 5xx).",
    ["face", "status"],
)

# --- Messages -------------------------------------------------------------------------

SENDS = Counter(
    "copline_sends",
    "Outbox rows settled by a sender, by channel, the status stored (sent, queued for "
    "a retry, failed, unknown, dropped) and the gateway's error kind: none, a request's "
    "failure (unreachable, maybe_taken, http_error, request_refused, unreadable, bad_url) "
    "or Africa's Talking's name for a recipient's status (InvalidPhoneNumber…).",
    ["channel", "status", "error_kind"],
)
WHATSAPP_FALLBACKS = Counter(
    "copline_whatsapp_fallbacks",
    "WhatsApp messages refused at sending and sent by SMS instead, by refusal kind.",
    ["kind"],
)
REPORT_LAG_SECONDS = Histogram(
    "copline_delivery_report_lag_seconds",
    "From a message's acceptance by the gateway to the delivery report that moved it, "
    "by channel and the status reported.",
    ["channel", "status"],
    buckets=REPORT_LAG_BUCKETS,
)
DELIVERY_REPORTS = Counter(
    "copline_delivery_reports",
    "Delivery reports applied, by result: moved (the message's status went forward), "
    "stale (it was further already), unmatched (no message has its id yet; counted "
    "again as moved when its id is stored).",
    ["result"],
)

# --- Worker jobs ----------------------------------------------------------------------

JOB_RUNS = Counter(
    "copline_job_runs",
    "Worker job runs by job and outcome (ok, failed).",
    ["job", "outcome"],
)
JOB_SECONDS = Histogram(
    "copline_job_duration_seconds",
    "Time a worker job's run took.",
    ["job"],
    buckets=JOB_BUCKETS,
)
JOB_LAST_SUCCESS = Gauge(
    "copline_job_last_success_timestamp_seconds",
    "When a job last ran without failing (Unix time), the latest of any process.",
    ["job"],
    multiprocess_mode="max",
)


# --- Exposition -----------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


class _Together(Collector):
    """Families from several collectors, as one thing `generate_latest` can read."""

    def __init__(self, sources: Iterable[Collector]) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def registry(*extra: Collector) -> _Together:
    """What a scrape shows: this process's metrics, or with several processes every
    process's (read from their files, a fresh registry per scrape as the client's
    multiprocess mode asks), then `extra` (figures read at scrape time)."""
    if multiprocess_dir() is None:
        return _Together([REGISTRY, *extra])
    gathered = CollectorRegistry()
    MultiProcessCollector(gathered)  # type: ignore[no-untyped-call]
    return _Together([gathered, *extra])


def fresh_multiprocess_dir() -> str:
    """The folder the processes of one `copline serve` share, emptied of other processes'
    files: the operator's (PROMETHEUS_MULTIPROC_DIR), else a new one. Files of a
    previous start would add its counts to this one's."""
    chosen = multiprocess_dir()
    if chosen is None:
        return tempfile.mkdtemp(prefix="copline-metrics-")
    folder = Path(chosen)
    if folder.is_dir():
        # This process's own files stay: it may have opened them already (on import),
        # and with one worker it is the one that serves.
        mine = f"_{os.getpid()}.db"
        for path in folder.glob("*.db"):
            if not path.name.endswith(mine):
                path.unlink()
    else:
        folder.mkdir(parents=True)
    return str(folder)


def remove_multiprocess_dir(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def process_exiting() -> None:
    """This process is going away: its live gauges no longer count (counters stay)."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
