"""Emails that look the same are one account (issue 15): zero-width characters, fullwidth
letters, a trailing dot, upper case and a Unicode domain all reach the same stored address, at
sign-up, sign-in, invitations and Firebase's first sight; an address mixing Latin with Cyrillic
or Greek look-alikes is refused, never stored as a second account that looks like the first."""

from __future__ import annotations

import pytest

from backend.auth import AuthError
from backend.auth.accounts import email_problem
from backend.db import accounts as accounts_repo
from backend.email_address import CONFUSABLE, canonical_email, confusable_problem
from backend.runtime import Runtime
from tests.backend.runtime_support import owner

ADA = "ada@example.org"
PASSWORD = "correct horse battery staple"

SAME_AS_ADA = [
    "ada\u200b@example.org",  # zero-width space
    "a\u200dda@example.org",  # zero-width joiner
    "\ufeffada@example.org",  # byte order mark
    "ad\u00ada@example.org",  # soft hyphen
    "ada@exa\u2060mple.org",  # word joiner in the domain
    "ａｄａ@ｅｘａｍｐｌｅ．ｏｒｇ",  # fullwidth letters and full stop
    "ada@example.org.",  # the DNS root's trailing dot
    " ADA@Example.ORG ",
    "ada@example.org\u200e",  # left-to-right mark
    "ada@example.org\ufe0f",  # variation selector
]

CONFUSABLES = [
    "\u0430da@example.org",  # Cyrillic а with Latin d, a
    "ad\u0430@example.org",
    "ada@ex\u0430mple.org",  # Cyrillic а in the domain
    "\u03bftto@example.org",  # Greek omicron with Latin
    "ada@examp\u04cfe.org",  # Cyrillic palochka for l
]


@pytest.mark.parametrize("typed", SAME_AS_ADA)
def test_look_alike_spellings_have_one_canonical_form(typed: str) -> None:
    assert canonical_email(typed) == ADA
    assert email_problem(typed) == ""


@pytest.mark.parametrize("typed", CONFUSABLES)
def test_mixed_script_addresses_are_refused(typed: str) -> None:
    assert confusable_problem(typed) == CONFUSABLE
    assert email_problem(typed) == CONFUSABLE


@pytest.mark.parametrize(
    "typed",
    [
        "иван@пример.рф",  # all Cyrillic: a real address of its own
        "山田たろう@例え.jp",  # Japanese scripts mixed with each other
        "yamada山田@example.jp",  # Han with Latin
        "kim김@example.kr",
        "user+tag-1@sub.example.co.uk",
    ],
)
def test_single_script_and_cjk_mixes_are_allowed(typed: str) -> None:
    assert email_problem(typed) == ""


def test_unicode_domains_are_stored_in_their_ascii_form() -> None:
    assert canonical_email("Ivan@Пример.РФ") == "ivan@xn--e1afmkfd.xn--p1ai"
    assert canonical_email("ivan@xn--e1afmkfd.xn--p1ai.") == "ivan@xn--e1afmkfd.xn--p1ai"


async def test_sign_up_with_a_look_alike_is_the_same_account(rt: Runtime) -> None:
    await rt.accounts.sign_up(ADA, PASSWORD)
    for typed in SAME_AS_ADA:
        with pytest.raises(AuthError) as refused:
            await rt.accounts.sign_up(typed, PASSWORD)
        assert "cannot be used to sign up" in refused.value.message, typed
        signed_in = await rt.accounts.sign_in(typed, PASSWORD)
        assert signed_in.principal.email == ADA
    async with rt.db.session() as session:
        assert await accounts_repo.count_users(session) == 1


async def test_confusables_cannot_sign_up(rt: Runtime) -> None:
    await rt.accounts.sign_up(ADA, PASSWORD)
    for typed in CONFUSABLES:
        with pytest.raises(AuthError) as refused:
            await rt.accounts.sign_up(typed, PASSWORD)
        assert refused.value.errors.get("email") == CONFUSABLE
        with pytest.raises(AuthError):
            await rt.accounts.sign_in(typed, PASSWORD)  # nothing found, generic answer
    async with rt.db.session() as session:
        assert await accounts_repo.count_users(session) == 1


async def test_invitations_use_the_canonical_address_and_refuse_confusables(rt: Runtime) -> None:
    ada = await owner(rt)
    project_id = await rt.projects.create(ada, "Team")
    await rt.projects.set_member(ada, project_id, "ｖｉ\u200b@Example.org.", "editor")
    members = {m.email for m in await rt.projects.members(ada, project_id)}
    assert "vi@example.org" in members
    for typed in ("v\u0456@example.org", "vi@ex\u0430mple.org"):  # Cyrillic і, а
        with pytest.raises(Exception) as refused:
            await rt.projects.set_member(ada, project_id, typed, "viewer")
        assert "email" in getattr(refused.value, "errors", {}), typed
    assert {m.email for m in await rt.projects.members(ada, project_id)} == members
