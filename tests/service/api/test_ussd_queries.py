"""Programme staff see USSD sessions and where callers give up, through GraphQL."""

from __future__ import annotations

from tests.service.api.conftest import Api, Two
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"


async def dial(api: Api, two: Two, number: str | None, *keys: str, hang_up: bool = False) -> Phone:
    assert number is not None
    p = Phone(api.client, number=number, service_code=two.a.programme.service_code, token=TOKEN)
    await p.dial()
    for key in keys:
        await p.press(key)
    if hang_up:
        await api.client.post(
            f"/at/{TOKEN}/ussd/events", data={"sessionId": p.session_id, "status": "Incomplete"}
        )
    return p


async def test_the_funnel_shows_where_callers_give_up(api: Api, two: Two) -> None:
    await dial(api, two, two.a.members[0].phone, "1", "1", "1")  # said yes: completed
    await dial(api, two, two.a.members[1].phone, "1", "1", hang_up=True)  # gave up on the meeting
    await dial(
        api, two, two.a.outsider.phone, "1", "1", hang_up=True
    )  # in no community: stuck on an empty list
    await dial(api, two, two.a.facilitator.phone, hang_up=True)  # gave up at home
    await api.app.state.ussd.tracker.flush()
    funnel = (
        await api.gql("{ ussdFunnel { screen sessions completed abandoned } }", key=two.reader_a)
    )["ussdFunnel"]
    assert funnel == [
        {"screen": "meeting", "sessions": 2, "completed": 1, "abandoned": 1},
        {"screen": "home", "sessions": 1, "completed": 0, "abandoned": 1},
        {"screen": "meetings", "sessions": 1, "completed": 0, "abandoned": 1},
    ]


async def test_sessions_list_their_path_with_phones_masked(api: Api, two: Two) -> None:
    phone = two.a.members[0].phone
    assert phone is not None
    await dial(api, two, phone, "4", "1")
    await api.app.state.ussd.tracker.flush()
    query = "{ ussdSessions(filter: {outcome: open}) { totalCount nodes { hops path lastScreen phone } } }"
    data = (await api.gql(query, key=two.reader_a))["ussdSessions"]
    assert data == {
        "totalCount": 1,
        "nodes": [
            {
                "hops": 3,
                "path": ["home", "communities", "community"],
                "lastScreen": "community",
                "phone": phone[:6] + "•" * (len(phone) - 8) + phone[-2:],
            }
        ],
    }
    other = (await api.gql("{ ussdSessions { totalCount } }", key=two.admin_b))["ussdSessions"]
    assert other == {"totalCount": 0}
