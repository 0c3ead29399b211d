"""Share links: a read-only public view of one comparison, and forking it into one's own project.

The raw token is returned once, when the link is made; the database keeps only its
SHA-256 (see :mod:`backend.auth.tokens`). A visitor's token is hashed and looked up by
equality, so an unknown, expired or revoked link all cost the same indexed lookup and
get the same NotFound: a probe learns nothing about which links ever existed.

What a link shows is :class:`PublicComparison`: built field by field from the saved
comparison, with the author's display name and nothing else about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ConfigDict

from backend.auth.permissions import AccessDenied, Action, Principal, Role
from backend.auth.tokens import new_token, token_hash
from backend.catalog import load_catalog
from backend.db import shares as repo
from backend.db.comparisons import get_comparison
from backend.db.engine import Database
from backend.db.models import utcnow
from backend.db.records import ComparisonRecord
from backend.db.users import default_project_id
from backend.i18n import N_, Message
from backend.services.access import Access, NotFound
from backend.services.blind import BlindView
from backend.services.metrics import RunFigures
from backend.services.validation import InvalidComparison

SHARE_PATH = "/share/"
MAX_EXPIRY = timedelta(days=365)
MAX_TOKEN_CHARS = 128  # ours are 43; anything far longer is not one, and is not worth hashing
LINK_NOT_FOUND = N_("This share link does not exist, has expired or was revoked.")


@dataclass(frozen=True, slots=True)
class CreatedShare:
    share: repo.ShareInfo
    token: str
    """The only time the raw token exists outside the visitor's address bar."""

    @property
    def url_path(self) -> str:
        return SHARE_PATH + self.token


@dataclass(frozen=True, slots=True)
class PublicExchange:
    turn: int
    message: str
    answer: str


@dataclass(frozen=True, slots=True)
class PublicRun:
    __pydantic_config__ = ConfigDict(use_attribute_docstrings=True)  # the API documents its fields
    position: int
    model: str
    model_label: str
    status: str
    output_text: str
    error: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_ms: float | None
    total_ms: float | None
    tokens_per_second: float | None
    cached: bool
    turn: int = 1
    message: str = ""
    """The follow-up message this (latest) answer replies to; empty on turn 1 (the prompt)."""
    earlier: tuple[PublicExchange, ...] = ()
    """This pane's earlier turns, oldest first (issue 19)."""


@dataclass(frozen=True, slots=True)
class PublicComparison:
    """Everything a share link shows, and the API's response for it (`GET /shares/{token}`).
    No ids, emails, keys or project data: a new field here is published to anyone holding
    the link."""

    prompt: str
    system_prompt: str
    created_at: datetime
    owner_name: str
    expires_at: datetime | None
    runs: tuple[PublicRun, ...]


class InvalidShare(InvalidComparison):
    """Bad input for a share link, keyed by field like InvalidComparison (HTTP 422)."""


def expiry_from(hours: float | None = None, days: float | None = None) -> timedelta | None:
    """The lifetime asked for (hours or days, not both); None = never expires."""
    if hours is not None and days is not None:
        raise InvalidShare({"expires": N_("Give the expiry in hours or in days, not both.")})
    if hours is None and days is None:
        return None
    try:  # 1e308 hours (or inf) does not fit a timedelta: refused like any lifetime too long
        lifetime = timedelta(hours=hours) if hours is not None else timedelta(days=days or 0)
    except (OverflowError, ValueError):
        lifetime = MAX_EXPIRY + timedelta(days=1)
    return _checked(lifetime)


def _checked(lifetime: timedelta) -> timedelta:
    if lifetime <= timedelta(0) or lifetime > MAX_EXPIRY:
        raise InvalidShare({"expires": Message("A link can last at most {n} days.", n=MAX_EXPIRY.days)})
    return lifetime


class ShareService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._access = Access(db)
        self._blind = BlindView(db)

    # --- for the comparison's members ---------------------------------------
    async def create(
        self, principal: Principal, comparison_id: str, expires_in: timedelta | None = None
    ) -> CreatedShare:
        await self._access.require_comparison(principal, Action.SHARE, comparison_id)
        if expires_in is not None:
            _checked(expires_in)
        token = new_token()
        async with self._db.session() as session:
            share = await repo.create_share(
                session,
                comparison_id=comparison_id,
                token_hash=token_hash(token),
                created_by=principal.user_id,
                expires_at=None if expires_in is None else utcnow() + expires_in,
            )
        return CreatedShare(share=share, token=token)

    async def list(self, principal: Principal, comparison_id: str) -> list[repo.ShareInfo]:
        await self._access.require_comparison(principal, Action.SHARE, comparison_id)
        async with self._db.session() as session:
            return await repo.list_shares(session, comparison_id)

    async def revoke(self, principal: Principal, share_id: str) -> repo.ShareInfo:
        """By the member who made the link, or an owner of the comparison's project."""
        async with self._db.session() as session:
            share = await repo.get_share(session, share_id)
        if share is None:
            raise NotFound(Message("No share link {id}.", id=share_id))
        try:
            project_id = await self._access.require_comparison(principal, Action.READ, share.comparison_id)
        except NotFound:
            raise NotFound(Message("No share link {id}.", id=share_id)) from None
        made_it = share.created_by == principal.user_id
        if not made_it and await self._access.role(principal, project_id) != Role.OWNER:
            raise AccessDenied(N_("Only the member who made this link or a project owner can revoke it."))
        async with self._db.session() as session:
            await repo.revoke_share(session, share_id)
            revoked = await repo.get_share(session, share_id)
        assert revoked is not None
        return revoked

    # --- for anyone holding a link ------------------------------------------
    async def resolve(self, token: str) -> PublicComparison:
        """The public view of a live link; NotFound for any other token."""
        record, share = await self._live(token)
        async with self._db.session() as session:
            owner_name = await repo.display_name(session, record.user_id)
        return _public_view(await self._blind.shared(record), owner_name, share.expires_at)

    async def fork(self, principal: Principal, token: str) -> ComparisonRecord:
        """A copy of the shared comparison, outputs and metrics included, in the principal's
        Personal project, ready to be edited and run again."""
        record, _ = await self._live(token)
        async with self._db.session() as session:
            project_id = await default_project_id(session, principal.user_id)
            return await repo.copy_comparison(
                session, record, user_id=principal.user_id, project_id=project_id
            )

    async def forks_by(self, principal: Principal, token: str) -> int:
        """How many times the principal has already forked the comparison behind this link."""
        record, _ = await self._live(token)
        async with self._db.session() as session:
            return await repo.forks_of(session, record.id, principal.user_id)

    async def _live(self, token: str) -> tuple[ComparisonRecord, repo.ShareInfo]:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise NotFound(LINK_NOT_FOUND)
        async with self._db.session() as session:
            share = await repo.share_by_token_hash(session, token_hash(token))
            if share is None or not share.active_at(utcnow()):
                raise NotFound(LINK_NOT_FOUND)
            record = await get_comparison(session, share.comparison_id)
        if record is None:  # deleted between the two reads
            raise NotFound(LINK_NOT_FOUND)
        return record, share


def _public_view(record: ComparisonRecord, owner_name: str, expires_at: datetime | None) -> PublicComparison:
    catalog = load_catalog()
    runs = []
    for run in record.runs:
        info = catalog.get(run.model)
        figures = RunFigures(run.ttft_ms, run.total_ms, run.input_tokens, run.output_tokens, run.cost_usd)
        runs.append(
            PublicRun(
                position=run.position,
                model=run.model,
                model_label=info.display_name if info else run.model,
                status=run.status,
                output_text=run.output_text,
                error=run.error,
                input_tokens=run.input_tokens,
                output_tokens=run.output_tokens,
                cost_usd=run.cost_usd,
                ttft_ms=run.ttft_ms,
                total_ms=run.total_ms,
                tokens_per_second=figures.tokens_per_second,
                cached=run.cache_hit,
                turn=run.turn,
                message=record.message_of(run.turn) if run.turn > 1 else "",
                earlier=tuple(
                    PublicExchange(r.turn, record.message_of(r.turn), r.output_text)
                    for r in record.pane_runs(run.position)
                    if r.turn < run.turn
                ),
            )
        )
    return PublicComparison(
        prompt=record.prompt,
        system_prompt=record.system_prompt,
        created_at=record.created_at,
        owner_name=owner_name,
        expires_at=expires_at,
        runs=tuple(runs),
    )
