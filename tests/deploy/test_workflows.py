"""GitHub workflows: actionlint over every one, and the deploy and terraform workflows' shape
(WIF and no JSON keys, migrate before traffic, a tagged no-traffic revision, smoke test, traffic
move, rollback; terraform plans on pull requests, applies on main behind environments)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert Path(found).is_file(), "actionlint is not installed: run scripts/setup --with-browser"
    return found


def test_actionlint_passes_on_every_workflow() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {"ci.yml", "deploy.yml", "terraform.yml"} <= {f.name for f in files}
    done = subprocess.run([actionlint(), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_does_flag_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nope.x }}\n"
    )
    done = subprocess.run([actionlint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads `on` as true
    return data


def steps_of(job: dict[str, Any]) -> list[str]:
    return [
        step.get("name", "") + " " + step.get("run", "") + " " + step.get("uses", "") for step in job["steps"]
    ]


def test_deploy_runs_staging_on_main_and_production_on_a_release() -> None:
    flow = load("deploy.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["on"]["release"]["types"] == ["published"]
    assert flow["permissions"]["id-token"] == "write"
    job = flow["jobs"]["deploy"]
    assert "production" in job["environment"] and "staging" in job["environment"]
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    assert "credentials_json" not in text and "GOOGLE_APPLICATION_CREDENTIALS" not in text


def test_deploy_migrates_then_deploys_green_smoke_tests_then_moves_traffic_or_rolls_back() -> None:
    steps = steps_of(load("deploy.yml")["jobs"]["deploy"])

    def index(*needles: str) -> int:
        return next(i for i, s in enumerate(steps) if all(n in s for n in needles))

    auth = index("google-github-actions/auth")
    build = index("docker push")
    migrate = index("gcloud run jobs execute", "-migrate", "--wait")
    green = index("gcloud run deploy", "--no-traffic", "--tag")
    smoke = index("Smoke-test the green revision", "deploy/smoke_test.py")
    move = index("update-traffic", "REVISION")
    rollback = index("Roll back", "PREVIOUS")
    assert auth < build < migrate < green < smoke < move < rollback
    rollback_step = load("deploy.yml")["jobs"]["deploy"]["steps"][rollback]
    assert "failure()" in rollback_step["if"]


def test_terraform_plans_on_pull_requests_and_applies_on_main_behind_environments() -> None:
    flow = load("terraform.yml")
    assert "pull_request" in flow["on"] and flow["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in flow["jobs"]["plan"]["if"]
    check = " ".join(steps_of(flow["jobs"]["check"]))
    assert "terraform fmt -check -recursive" in check and "hashicorp/setup-terraform" in check
    assert "checkov" in check
    staging, production = flow["jobs"]["apply-staging"], flow["jobs"]["apply-production"]
    assert "refs/heads/main" in staging["if"] and production["needs"] == "apply-staging"
    assert staging["with"]["environment"] == "staging" and production["with"]["environment"] == "production"
    apply = load("terraform-apply.yml")["jobs"]["apply"]
    assert apply["environment"] == "${{ inputs.environment }}"
    assert any("terraform apply" in s for s in steps_of(apply))


def test_the_deploy_workflow_names_what_terraform_makes() -> None:
    from tests.deploy.terraform_parse import locals_, resources, text

    assert text(locals_()["name"]) == "llmdash-${var.environment}"
    workflow = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    assert 'name="llmdash-${DEPLOY_ENV}"' in workflow
    made = {
        text(resources("google_cloud_run_v2_service")["web"]["name"]),
        text(resources("google_cloud_run_v2_worker_pool")["workers"]["name"]),
        text(resources("google_cloud_run_v2_job")["migrate"]["name"]),
        text(resources("google_cloud_run_v2_job")["admin"]["name"]),
    }
    assert made == {f"${{local.name}}-{suffix}" for suffix in ("web", "workers", "migrate", "admin")}
    for suffix in ("web", "workers", "migrate", "admin"):
        assert f'"${{NAME}}-{suffix}"' in workflow, suffix
    image_repo = text(resources("google_artifact_registry_repository")["images"]["repository_id"])
    assert image_repo == "${local.name}"
    assert "docker.pkg.dev/${PROJECT_ID}/${name}/llmdash:" in workflow
