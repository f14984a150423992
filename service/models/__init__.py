"""Every table of the domain. Importing this package registers them on `metadata`."""

from sqlmodel import SQLModel

from service.models.access import ApiKey, AuditEntry
from service.models.community import Community, CommunitySchool, Membership
from service.models.console import ConsoleSession, SignInCode
from service.models.jobs import JobRun
from service.models.meeting import Attendance, Meeting
from service.models.messaging import Message, UnmatchedReport
from service.models.people import Person
from service.models.programme import Programme, School, Term
from service.models.roster_upload import RosterUpload, UploadState
from service.models.survey import Answer, Question, Survey, SurveyResponse
from service.models.ussd import UssdAction, UssdSession

metadata = SQLModel.metadata

__all__ = [
    "Answer",
    "ApiKey",
    "Attendance",
    "AuditEntry",
    "Community",
    "CommunitySchool",
    "ConsoleSession",
    "JobRun",
    "Meeting",
    "Membership",
    "Message",
    "Person",
    "Programme",
    "Question",
    "RosterUpload",
    "School",
    "SignInCode",
    "Survey",
    "SurveyResponse",
    "Term",
    "UnmatchedReport",
    "UploadState",
    "UssdAction",
    "UssdSession",
    "metadata",
]
