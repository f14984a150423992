"""The menus as typed screens: pure functions of (caller, state, input).

A screen renders itself from the caller's context and turns an input into an
outcome: go to another screen, stay (on another page), refuse with a short reason,
or finish with an effect the engine applies once. No screen touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from ussd_menus.layout import SCREEN
from ussd_menus.screens.base import Apply, Finish, Go, Invalid, Screen, Stay, Texts
from ussd_menus.screens.facilitator import (
    FacCancel,
    FacCounts,
    FacHome,
    FacMark,
    FacMoveConfirm,
    FacMoveDate,
    FacMoveTime,
    FacPick,
    FacRemind,
    FacRequests,
)
from ussd_menus.screens.facilitator_members import (
    AddConfirm,
    AddPhone,
    FacRequest,
    Invited,
    InvitedName,
    MsgPreview,
    MsgText,
)
from ussd_menus.screens.facilitator_plan import (
    FacCommunity,
    PlanActivity,
    PlanConfirm,
    PlanDate,
    PlanHow,
    PlanTime,
    PlanVenue,
)
from ussd_menus.screens.leader import (
    School,
    SchoolMeeting,
    SchoolMeetings,
    SchoolRisk,
    SchoolTeacher,
)
from ussd_menus.screens.reach import ReachConfirm, ReachMenu
from ussd_menus.screens.surveys import (
    SurveyQuestion,
    Surveys,
)
from ussd_menus.screens.teacher import (
    CheckInCode,
    CheckInHow,
    Communities,
    Community,
    Decline,
    Home,
    JoinCode,
    JoinName,
    LanguageMenu,
    Meeting,
    Meetings,
    Welcome,
)

SCREENS: dict[str, Screen] = {
    s.name: s
    for s in (
        Home(),
        Meetings(),
        Meeting(),
        Decline(),
        CheckInCode(),
        CheckInHow(),
        Surveys(),
        SurveyQuestion(),
        Communities(),
        Community(),
        LanguageMenu(),
        ReachMenu(),
        ReachConfirm(),
        Welcome(),
        JoinCode(),
        JoinName(),
        FacHome(),
        FacPick(),
        FacMark(),
        FacCancel(),
        FacRemind(),
        FacMoveDate(),
        FacMoveTime(),
        FacMoveConfirm(),
        FacCounts(),
        FacRequests(),
        School(),
        SchoolMeetings(),
        SchoolMeeting(),
        SchoolRisk(),
        SchoolTeacher(),
        FacRequest(),
        FacCommunity(),
        PlanDate(),
        PlanTime(),
        PlanHow(),
        PlanVenue(),
        PlanActivity(),
        PlanConfirm(),
        AddPhone(),
        AddConfirm(),
        MsgText(),
        MsgPreview(),
        Invited(),
        InvitedName(),
    )
}


def check_screens(screens: Sequence[Screen] = tuple(SCREENS.values())) -> list[str]:
    """Every screen a screen leads to exists: run at start-up and by the tests."""
    names = {s.name for s in screens}
    return [
        f"{s.name} leads to unknown screen {target!r}"
        for s in screens
        for target in s.leads_to
        if target not in names
    ]


__all__ = [
    "SCREEN",
    "SCREENS",
    "Apply",
    "Finish",
    "Go",
    "Invalid",
    "Screen",
    "Stay",
    "Texts",
    "check_screens",
]
