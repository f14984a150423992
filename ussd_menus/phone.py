"""A phone that dials copline over HTTP exactly as Africa's Talking does.

Used by the tests (`phone.dial()`, `phone.press("1")`) and by `copline ussd`,
the terminal phone for trainers and developers.
"""

from __future__ import annotations

import secrets

import httpx


class Phone:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        number: str,
        service_code: str,
        token: str,
        network_code: str = "63902",
    ) -> None:
        self.client = client
        self.number = number
        self.service_code = service_code
        self.token = token
        self.network_code = network_code
        self.session_id = ""
        self.inputs: list[str] = []
        self.reply = ""

    @property
    def screen(self) -> str:
        """What the handset shows: the reply without its CON/END prefix."""
        return self.reply[4:]

    @property
    def ended(self) -> bool:
        return self.reply.startswith("END ")

    async def dial(self) -> str:
        self.session_id = "ATUid_" + secrets.token_hex(8)
        self.inputs = []
        return await self._send()

    async def press(self, value: str) -> str:
        if self.ended:
            raise RuntimeError("the session has ended; dial again")
        self.inputs.append(value)
        return await self._send()

    async def retry(self) -> str:
        """Send the last hop again, as AT does when the network drops an answer."""
        return await self._send()

    async def _send(self) -> str:
        response = await self.client.post(
            f"/at/{self.token}/ussd",
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.number,
                "networkCode": self.network_code,
                "text": "*".join(self.inputs),
            },
        )
        response.raise_for_status()
        self.reply = response.text
        return self.screen
