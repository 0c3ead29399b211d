"""Start the Firebase Auth emulator (firebase-tools, installed under tools/firebase by
scripts/setup) on free loopback ports, and drive it through its REST API.

The auth emulator is Node only (no Java).  A ``demo-`` project id needs no
credentials and never reaches Google.  If the emulator cannot start, the fixture
raises: the tests that use it fail, they are never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from devstack.app_process import free_port

FIREBASE_CLI = Path(__file__).resolve().parents[2] / "tools/firebase/node_modules/.bin/firebase"
PROJECT_ID = "demo-llmdash"
OTHER_PROJECT_ID = "demo-elsewhere"
PASSWORD = "correct horse battery"
START_TIMEOUT_S = 90.0


class FirebaseEmulator:
    """A running Auth emulator: make users, get ID tokens, set claims, revoke, disable."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        # "Bearer owner" is the emulator's stand-in for admin credentials.
        headers = {"Authorization": "Bearer owner"} if admin else {}
        response = self._http.post(f"/identitytoolkit.googleapis.com/v1/{path}", json=body, headers=headers)
        if response.status_code != 200:
            raise AssertionError(f"emulator {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def create_user(self, email: str, *, project: str = PROJECT_ID, verified: bool = True) -> str:
        """A new email/password user of `project`; returns its uid."""
        made = self._post(f"projects/{project}/accounts", {"email": email, "password": PASSWORD}, admin=True)
        uid = str(made["localId"])
        if verified:
            self.update_user(uid, project=project, emailVerified=True)
        return uid

    def update_user(self, uid: str, *, project: str = PROJECT_ID, **fields: Any) -> None:
        self._post(f"projects/{project}/accounts:update", {"localId": uid, **fields}, admin=True)

    def set_role(self, uid: str, role: str, *, project: str = PROJECT_ID) -> None:
        """The `role` custom claim; tokens minted afterwards carry it."""
        self.update_user(uid, project=project, customAttributes=json.dumps({"role": role}))

    def revoke(self, uid: str, *, project: str = PROJECT_ID) -> None:
        """What firebase-admin's revoke_refresh_tokens does: tokens issued before now are revoked."""
        self.update_user(uid, project=project, validSince=str(int(time.time())))

    def id_token(self, email: str, *, project: str = PROJECT_ID) -> str:
        """Sign in with the password, as the JS SDK would, and return the emulator's ID token."""
        body: dict[str, Any] = {"email": email, "password": PASSWORD, "returnSecureToken": True}
        if project == PROJECT_ID:
            signed = self._post("accounts:signInWithPassword?key=any-key", body)
        else:  # an API key always means the default project; naming another takes admin rights
            body["targetProjectId"] = project
            signed = self._post("accounts:signInWithPassword?key=any-key", body, admin=True)
        return str(signed["idToken"])


def _config(directory: Path) -> Path:
    """firebase.json with every port the emulator suite opens chosen free (parallel runs)."""
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": free_port()},
            "hub": {"host": "127.0.0.1", "port": free_port()},
            "logging": {"host": "127.0.0.1", "port": free_port()},
            "ui": {"enabled": False},
            "singleProjectMode": False,  # the other-project tokens come from the same emulator
        }
    }
    path = directory / "firebase.json"
    path.write_text(json.dumps(config))
    return path


def _wait_until_ready(emulator: FirebaseEmulator, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Firebase Auth emulator exited ({process.returncode}):\n{log.read_text()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if emulator._http.get("/").json().get("authEmulator", {}).get("ready"):
                return
        time.sleep(0.25)
    raise RuntimeError(f"the Firebase Auth emulator was not ready in {START_TIMEOUT_S} s:\n{log.read_text()}")


@contextlib.contextmanager
def firebase_emulator(directory: Path) -> Iterator[FirebaseEmulator]:
    """Run `firebase emulators:start --only auth` until the block ends."""
    if not FIREBASE_CLI.exists():
        raise RuntimeError(f"{FIREBASE_CLI} is missing: run scripts/setup (it installs firebase-tools)")
    config = _config(directory)
    port = json.loads(config.read_text())["emulators"]["auth"]["port"]
    log = directory / "emulator.log"
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(directory / "config"),  # the CLI's settings, not the developer's
        "CI": "1",  # no update check or message-of-the-day fetch (there is no internet here)
    }
    env.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(FIREBASE_CLI),
                "emulators:start",
                "--only",
                "auth",
                "--project",
                PROJECT_ID,
                "--config",
                str(config),
            ],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stopping it stops all it started
        )
    emulator = FirebaseEmulator(port)
    try:
        _wait_until_ready(emulator, process, log)
        yield emulator
    finally:
        emulator.close()
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)  # the CLI shuts its emulators down on Ctrl-C
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
