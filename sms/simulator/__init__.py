"""A local stand-in for Africa's Talking: its SMS API, delivery reports, and phones that
send SMS, dial USSD and opt out. `copline at-sim` serves it; tests start it in-process.
"""

from sms.simulator.app import create_simulator_app
from sms.simulator.config import SimulatorConfig
from sms.simulator.server import RunningServer, serve_in_background, serve_simulator_in_background

__all__ = [
    "RunningServer",
    "SimulatorConfig",
    "create_simulator_app",
    "serve_in_background",
    "serve_simulator_in_background",
]
