"""How the simulator behaves: where the service is, how slow delivery is, how often it fails."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# The key the simulator expects when none is given; copline sends it when it has no
# key of AT's, so `make run` works offline. Any other key is refused, as AT does.
DEFAULT_API_KEY = "simulator"


@dataclass(frozen=True)
class SimulatorConfig:
    service_url: str = "http://127.0.0.1:8000"
    callback_token: str = "dev-callback-token"
    api_key: str = DEFAULT_API_KEY
    delivery_delay_s: float = 1.0
    # Share of accepted messages whose delivery report says Failed.
    failure_share: float = 0.0
    # Same seed, same failures (and the same rejected recipients under a `reject` fault).
    seed: int | None = None
    currency: str = "KES"
    price: Decimal = Decimal("0.8")  # per segment
    failure_reason: str = "DeliveryFailure"
    # What AT puts in `from` when the request names no sender id.
    default_sender_id: str = "AFRICASTKNG"
    # Delivery reports in flight at once: each owns one kept-alive connection.
    report_concurrency: int = 32
    report_attempts: int = 4
    report_timeout_s: float = 10.0
    # A long-running simulator keeps only each phone's latest messages.
    inbox_per_phone: int = 200
    # How long the `timeout` fault holds a messaging request when it names no delay.
    fault_timeout_s: float = 30.0
    # WhatsApp: the business number a phone writes to when it names none; numbers
    # ending in one of these suffixes are not on WhatsApp (besides those marked so
    # through /sim/whatsapp/absent/{phone}); the customer-service window; the share
    # of accepted messages whose status ends `failed`; whether phones read them.
    whatsapp_number: str = "+254711082000"
    whatsapp_absent_suffixes: tuple[str, ...] = ()
    whatsapp_window_s: float = 24 * 3600.0
    whatsapp_failure_share: float = 0.0
    whatsapp_read: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_share <= 1.0:
            raise ValueError("failure_share must be between 0 and 1")
        if not 0.0 <= self.whatsapp_failure_share <= 1.0:
            raise ValueError("whatsapp_failure_share must be between 0 and 1")
        if self.delivery_delay_s < 0:
            raise ValueError("delivery_delay_s must not be negative")
        if self.report_concurrency < 1 or self.report_attempts < 1:
            raise ValueError("report_concurrency and report_attempts must be at least 1")

    @property
    def callback_base(self) -> str:
        """Where AT's callbacks go: `{service_url}/at/{token}`."""
        return f"{self.service_url.rstrip('/')}/at/{self.callback_token}"
