"""The baseline for bench/ussd_load.py: a bare Starlette endpoint answering `CON hello`."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def hop(request: Request) -> Response:
    await request.form()  # parse the same form copline parses, to compare like with like
    return PlainTextResponse("CON hello")


app = Starlette(routes=[Route("/at/{token}/ussd", hop, methods=["POST"])])
