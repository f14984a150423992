"""Scope checks for queries. Mutations return `NotAllowed` as a typed result instead."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from service.api.context import Context
from service.models.enums import Scope


class _Needs(BasePermission):
    scope: Scope

    @property
    def message(self) -> str:  # type: ignore[override]
        return f"this API key lacks the {self.scope.value!r} scope"

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        return info.context.has(self.scope)


class CanRead(_Needs):
    scope = Scope.read


class CanReadPii(_Needs):
    scope = Scope.read_pii


class IsAdmin(_Needs):
    scope = Scope.admin
