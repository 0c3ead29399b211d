"""The confirmation mail is written in the account's language (issue 16: the emails the app
writes come from the catalogs). Without SMTP_HOST, development logs the mail it would send."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from backend.runtime import running
from devstack.postgres import migrated_sqlite_url
from tests.backend.runtime_support import make_settings

PASSWORD = "correct horse battery"


async def test_the_confirmation_mail_follows_the_accounts_language(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.mail")
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        signed = await rt.accounts.sign_up("hanako@example.org", PASSWORD)
        english = [r.getMessage() for r in caplog.records if "Development outbox" in r.getMessage()]
        assert len(english) == 1 and "Confirm your email address for LLM Dashboard" in english[0]

        await rt.accounts.set_language(signed.principal, "ja")
        caplog.clear()
        assert await rt.accounts.send_verification(signed.principal)
        japanese = [r.getMessage() for r in caplog.records if "Development outbox" in r.getMessage()]
        assert len(japanese) == 1
        assert "LLM Dashboard のメールアドレスを確認してください" in japanese[0]
        assert "次のリンクを開いて確認してください" in japanese[0] and "verify-email?token=" in japanese[0]
