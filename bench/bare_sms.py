"""The baseline for bench/sms_fanout.py's reports: a bare endpoint answering `OK`."""

from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def report(request: Request) -> Response:
    # Parse the form as copline does, to compare like with like.
    dict(parse_qsl((await request.body()).decode()))
    return PlainTextResponse("OK")


app = Starlette(routes=[Route("/at/{token}/sms/delivery", report, methods=["POST"])])
