"""One shape for every mutation: check the scope, run the use case, commit once, or say why not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pydantic
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import errors
from service.api.types.common import Info_
from service.domain.errors import DomainError
from service.models import Programme
from service.models.enums import Scope

T = TypeVar("T")

# Every mutation's result union includes these, so any rule's "no" has a typed home.
BASE_ERRORS = (errors.NotFound, errors.NotAllowed, errors.ValidationError, errors.Conflict)


async def mutate(
    info: Info_,
    scope: Scope,
    work: Callable[[AsyncSession, Programme], Awaitable[T]],
    *,
    also: tuple[type, ...] = (),
) -> Any:
    """Run `work` as one unit of work; expected failures come back as error types.

    An error of a kind the mutation's union does not list comes back as a
    ValidationError with the same code and message, so no failure is ever untyped.
    """
    context = info.context
    if not context.has(scope):
        return errors.not_allowed(scope.value)
    assert context.programme is not None
    programme = context.programme

    async def unit(session: AsyncSession) -> T | Any:
        try:
            result = await work(session, programme)
            await session.commit()
            return result
        except DomainError as exc:
            await session.rollback()
            error = errors.from_domain(exc)
        except pydantic.ValidationError as exc:
            await session.rollback()
            error = errors.from_validation(exc)
        if isinstance(error, BASE_ERRORS + also):
            return error
        return errors.ValidationError(code=error.code, message=error.message, fields=[])

    return await context.run(unit)


def given(value: Any) -> bool:
    """Strawberry marks arguments the client left out as UNSET (distinct from null)."""
    from strawberry import UNSET

    return value is not UNSET
