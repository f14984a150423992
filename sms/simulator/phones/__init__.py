"""Both phones in the browser, served by the simulator: a basic phone that dials USSD and
sends and reads SMS, and a smartphone with its WhatsApp chat, for any number."""

from sms.simulator.phones.routes import phone_routes
from sms.simulator.phones.seen import Seen

__all__ = ["Seen", "phone_routes"]
