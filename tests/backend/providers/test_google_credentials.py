"""The Settings page's Vertex AI status: are there Google credentials (ADC or a token)?

google.auth.default() runs for real, on files written here: GOOGLE_APPLICATION_CREDENTIALS
pointing at a missing file fails, at an authorized-user file (what `gcloud auth
application-default login` writes) succeeds without any network call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.providers.discovery import google_credentials_status
from tests.backend.providers.helpers import make_settings


async def test_no_project_is_reported_first() -> None:
    status = await google_credentials_status(make_settings(google_cloud_project=""))
    assert not status.available and status.reason == "GOOGLE_CLOUD_PROJECT is not set"


async def test_missing_credentials_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    status = await google_credentials_status(make_settings(google_cloud_project="p"))
    assert not status.available
    assert status.reason.startswith("no Application Default Credentials (")
    assert "missing.json" in status.reason
    assert "gcloud auth application-default login" in status.reason


async def test_application_default_credentials_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adc = tmp_path / "application_default_credentials.json"
    user = {"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r"}
    adc.write_text(json.dumps(user))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    assert (await google_credentials_status(make_settings(google_cloud_project="p"))).available


async def test_an_access_token_needs_no_adc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    settings = make_settings(google_cloud_project="p", vertex_access_token="ya29.token")
    assert (await google_credentials_status(settings)).available
