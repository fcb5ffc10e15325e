"""``/api/v1/tokens``: an organization's admins list, create and revoke its API tokens.

The plain token is returned once, by the POST that creates it; listings show only the prefix.
An admin sees and revokes only its own organization's tokens: another organization's id is a
404, exactly like an unknown one. Revocation and expiry take effect on the next request.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import AdminCaller, SessionDep
from service.api.problems import Problem
from service.ids import Id
from service.schemas import TokenCreate, TokenCreated, TokenPublic
from service.security import auth
from service.tables import ApiToken

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(row, from_attributes=True)


@router.get("", response_model=list[TokenPublic])
def list_tokens(caller: AdminCaller, session: SessionDep) -> list[TokenPublic]:
    """This organization's tokens, oldest first, revoked and expired ones included."""
    return [_public(r) for r in auth.list_tokens(session, caller.org_id)]


@router.post("", status_code=201, response_model=TokenCreated)
def create_token(body: TokenCreate, caller: AdminCaller, session: SessionDep) -> TokenCreated:
    """Create a token for this organization; the token is in this answer only."""
    token, row = auth.create_token(session, caller.org_id, body.scope, body.name,
                                   expires_in_days=body.expires_in_days)
    return TokenCreated(**_public(row).model_dump(), token=token)


@router.delete("/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: Id, caller: AdminCaller, session: SessionDep) -> TokenPublic:
    """Revoke a token of this organization (again: no change); it stops working at once,
    and so do the dashboard sessions opened with it."""
    try:
        row = auth.revoke_token(session, token_id, org_id=caller.org_id)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    return _public(row)
