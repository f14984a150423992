"""Mutations, split by domain and merged into one root type."""

from strawberry.tools import merge_types

from service.api.mutations.access import AccessMutations
from service.api.mutations.communities import CommunityMutations
from service.api.mutations.data_rights import DataRightsMutations
from service.api.mutations.meetings import MeetingMutations
from service.api.mutations.messaging import MessagingMutations
from service.api.mutations.people import PeopleMutations
from service.api.mutations.programme import ProgrammeMutations
from service.api.mutations.surveys import SurveyMutations
from service.api.mutations.webhooks import WebhookMutations

Mutation = merge_types(
    "Mutation",
    (
        ProgrammeMutations,
        PeopleMutations,
        DataRightsMutations,
        CommunityMutations,
        MeetingMutations,
        MessagingMutations,
        SurveyMutations,
        AccessMutations,
        WebhookMutations,
    ),
)

__all__ = ["Mutation"]
