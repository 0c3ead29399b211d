"""terraform/: every file parses (python-hcl2) and the parse is checked against the app: the Cloud
Run services get what production settings require, every secret they read exists and is mounted,
no secret value is a literal, the image port is the Dockerfile's, Kafka topics are the app's.
checkov runs once for the module; `terraform fmt` runs where a terraform binary is on the PATH
(there is no skipped stand-in where it is not: .github/workflows/terraform.yml runs it with
hashicorp/setup-terraform)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from backend.queue.kafka_topics import Topics
from backend.safety import static_problems
from backend.settings import SECRET_SETTINGS, Settings
from tests.deploy.terraform_parse import (
    REPO,
    TERRAFORM,
    all_resources,
    containers,
    literal,
    locals_,
    one,
    outputs,
    parsed,
    resources,
    static_env,
    template_of,
    text,
    tf_files,
    unquote,
    variables,
)

SECRET_VARIABLES = {name.upper() for name in SECRET_SETTINGS} | {"LLMDASH_ADMIN_PASSWORD"}
# Variables the containers may set that are not Settings fields.
OTHER_VARIABLES = {"GRANIAN_WORKERS"}
# A valid value for each generated secret, written where the mounted file would be.
SECRET_SAMPLES = {
    "database-url": "postgresql+psycopg://llmdash:pw@/llmdash?host=/cloudsql/p:us-central1:llmdash-production",
    "redis-url": "redis://:auth@10.20.0.3:6378/0",
    "encryption-key": Fernet.generate_key().decode(),
    "admin-password": "correct horse battery staple",
}
MOUNT = "${local.secret_mount_dir}"


def test_every_terraform_file_parses() -> None:
    files = tf_files()
    assert len(files) >= 10
    for path in files:
        assert isinstance(parsed(path), dict), path


def secrets_map() -> dict[str, str]:
    return {unquote(name): literal(setting) for name, setting in locals_()["secrets"].items()}


def variable_default(name: str) -> Any:
    default = variables()[name].get("default", f'"test-{name}"')  # project_id, image: no default
    return literal(default)


def evaluate(raw: Any, mount_dir: Path) -> str:
    """The value a literal or a simple expression stands for in these tests."""
    if (value := literal(raw)) is not None:
        return str(value).lower() if isinstance(value, bool) else str(value)
    assert isinstance(raw, str), raw
    if match := re.fullmatch(r"\$\{(?:tostring\()?var\.(\w+)\)?\}", raw):
        default = variable_default(match.group(1))
        return str(default).lower() if isinstance(default, bool) else str(default)
    if raw == "${local.kafka_bootstrap}":
        return "bootstrap.llmdash-production.us-central1.managedkafka.p.cloud.goog:9092"
    if raw == "${local.kafka_topic_prefix}":
        return str(literal(locals_()["kafka_topic_prefix"]))
    if text(raw).startswith(MOUNT):
        return str(mount_dir) + text(raw)[len(MOUNT) :]
    raise AssertionError(f"no test value for {raw}")


def production_settings(
    container: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings as the container would build them, from its env and its mounted secrets."""
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
        monkeypatch.delenv(f"{field.upper()}_FILE", raising=False)
    for name, sample in SECRET_SAMPLES.items():
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "value").write_text(sample + "\n", encoding="utf-8")
    for name, raw in static_env(container).items():
        monkeypatch.setenv(name, evaluate(raw, tmp_path))
    return Settings(_env_file=None)


@pytest.mark.parametrize(
    ("kind", "name"), [("google_cloud_run_v2_service", "web"), ("google_cloud_run_v2_worker_pool", "workers")]
)
def test_the_app_and_workers_get_every_setting_production_requires(
    kind: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (container,) = containers(resources(kind)[name])
    settings = production_settings(container, tmp_path, monkeypatch)
    assert settings.environment == "production"
    assert static_problems(settings) == []  # ENCRYPTION_KEY set, no emulator
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url.startswith("redis://")
    assert settings.kafka_bootstrap_servers.endswith(".cloud.goog:9092")
    assert settings.kafka_auth == "google"  # Managed Kafka takes SASL_SSL only
    assert settings.kafka_replication_factor == 3
    assert settings.google_cloud_project  # Vertex AI
    if name == "web":
        assert settings.migrate_on_start is False  # the migrate job runs before traffic moves


def test_the_jobs_reach_the_database_and_the_admin_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = resources("google_cloud_run_v2_job")
    assert set(jobs) == {"migrate", "admin"}
    (migrate,) = containers(jobs["migrate"])
    assert [literal(a) for a in migrate["args"]] == ["-m", "backend.admin", "migrate"]
    assert production_settings(migrate, tmp_path, monkeypatch).database_url.startswith("postgresql")
    (admin,) = containers(jobs["admin"])
    assert text(static_env(admin)["LLMDASH_ADMIN_PASSWORD_FILE"]) == f"{MOUNT}/admin-password/value"
    # the commands the jobs and docs/deploy.md use are the admin tool's own
    help_text = subprocess.run(
        [sys.executable, "-m", "backend.admin", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "create-admin" in help_text and "migrate" in help_text


def every_container() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(resource, its template, container) for every Cloud Run workload."""
    out = []
    for kind in ("google_cloud_run_v2_service", "google_cloud_run_v2_worker_pool", "google_cloud_run_v2_job"):
        for name, body in resources(kind).items():
            for container in containers(body):
                out.append((f"{kind}.{name}", template_of(body), container))
    assert len(out) == 4
    return out


def test_every_variable_a_container_sets_is_a_setting_or_a_secret_file() -> None:
    fields = {field.upper() for field in Settings.model_fields}
    allowed = fields | {f"{name}_FILE" for name in SECRET_VARIABLES} | OTHER_VARIABLES
    for where, _, container in every_container():
        unknown = set(static_env(container)) - allowed
        assert not unknown, f"{where} sets {unknown}, which nothing reads"
    for setting in secrets_map().values():
        assert setting in SECRET_VARIABLES, setting


def test_no_secret_setting_is_given_as_a_plain_value() -> None:
    for where, _, container in every_container():
        plain = set(static_env(container)) & SECRET_VARIABLES
        assert not plain, f"{where} sets {plain} in plain text: mount the secret and set *_FILE"


def identity_of(template: dict[str, Any]) -> str:
    match = re.fullmatch(
        r'\$\{google_service_account\.runtime\["(\w+)"\]\.email\}', template["service_account"]
    )
    assert match, template["service_account"]
    return match.group(1)


def readable_secrets(identity: str) -> set[str]:
    raw = locals_()["secrets_of"][identity]
    if isinstance(raw, list):
        return {literal(name) for name in raw}
    assert "local.core_secrets" in raw, raw
    return {literal(name) for name in locals_()["core_secrets"]}


def test_every_mounted_secret_exists_is_mounted_and_readable_by_its_workload() -> None:
    secrets = secrets_map()
    for where, template, container in every_container():
        volumes = {literal(v["name"]): v for v in template.get("volumes", [])}
        mounts = {literal(m["name"]): m["mount_path"] for m in container.get("volume_mounts", [])}
        for variable, raw in static_env(container).items():
            if not (isinstance(raw, str) and text(raw).startswith(MOUNT)):
                continue
            secret = re.fullmatch(r"\$\{local\.secret_mount_dir\}/([\w-]+)/value", text(raw))
            assert secret, raw
            name = secret.group(1)
            assert name in secrets, f"{where}: {variable} names secret {name}, which terraform does not make"
            assert secrets[name] + "_FILE" == variable, f"{where}: {variable} reads the {name} secret"
            assert text(mounts.get(f"secret-{name}")) == f"{MOUNT}/{name}", f"{where}: {name} not mounted"
            volume = one(volumes[f"secret-{name}"]["secret"])
            assert volume["secret"] == f'${{google_secret_manager_secret.app["{name}"].secret_id}}'
            assert name in readable_secrets(identity_of(template)), f"{where} may not read {name}"
        if "cloudsql" in mounts:
            assert literal(mounts["cloudsql"]) == "/cloudsql"


def test_every_secret_reference_in_terraform_exists() -> None:
    secrets = secrets_map()
    text = "\n".join(path.read_text(encoding="utf-8") for path in tf_files())
    referenced = set(re.findall(r'google_secret_manager_secret\.app\["([\w-]+)"\]', text))
    assert referenced and referenced <= set(secrets), referenced - set(secrets)
    generated = {literal(name) for name in re.findall(r'"[\w-]+"', locals_()["generated_secrets"])}
    assert generated <= set(secrets)
    optional = set(secrets) - generated
    condition = variables()["provided_secrets"]["validation"][0]["condition"]
    for name in optional:
        assert f'"{name}"' in condition or f'\\"{name}\\"' in condition, f"{name} cannot be provided"
    # every secret anyone may read is one terraform makes
    for identity in ("web", "worker", "migrate", "admin"):
        assert readable_secrets(identity) <= set(secrets)


def test_no_secret_value_is_a_literal() -> None:
    for version in resources("google_secret_manager_secret_version").values():
        assert literal(version["secret_data"]) is None, "a secret's value written into terraform"
        assert version["secret_data"] == "${local.generated_values[each.key]}"
    for name, raw in locals_()["generated_values"].items():
        assert literal(raw) is None and "${" in raw, f"generated secret {name} is a literal"
    sensitive_names = re.compile(r"(^|_)(password|token|api_key|encryption_key|auth_string|secret)($|_)")
    for name in variables():
        assert name == "provided_secrets" or not sensitive_names.search(name), f"variable {name}"
    for name, body in outputs().items():
        assert not re.search(
            r"random_password|random_bytes|auth_string|generated_values|secret_version", body["value"]
        ), name
    for tfvars in (TERRAFORM / "environments").glob("*.tfvars"):
        text = tfvars.read_text(encoding="utf-8")
        assert not re.search(r"(?m)^\s*\w*(password|token|api_key|secret)\w*\s*=", text), tfvars
        assert not re.search(r"sk-[A-Za-z0-9]|AIza[0-9A-Za-z_-]{10}|BEGIN [A-Z ]*PRIVATE KEY", text), tfvars


def dockerfile_port() -> int:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    (expose,) = re.findall(r"(?m)^EXPOSE\s+(\d+)\s*$", text)
    assert re.search(rf"(?m)^\s*PORT={expose}\b", text), "the image's PORT is not its EXPOSE"
    return int(expose)


def test_the_web_container_port_is_the_images() -> None:
    assert literal(locals_()["app_port"]) == dockerfile_port()
    (web,) = containers(resources("google_cloud_run_v2_service")["web"])
    assert one(web["ports"])["container_port"] == "${local.app_port}"
    for probe in ("startup_probe", "liveness_probe"):
        assert literal(one(one(web[probe])["http_get"])["path"]) == "/ping"


def test_the_web_service_suits_websockets() -> None:
    template = template_of(resources("google_cloud_run_v2_service")["web"])
    assert template["session_affinity"] is True
    assert literal(template["timeout"]) == "3600s"  # Cloud Run's longest request: a page's WebSocket
    scaling = one(template["scaling"])
    assert scaling["min_instance_count"] == "${var.web_min_instances}"
    assert scaling["max_instance_count"] == "${var.web_max_instances}"
    assert one(one(template["containers"])["resources"])["cpu_idle"] is False
    assert literal(one(template["vpc_access"])["egress"]) == "PRIVATE_RANGES_ONLY"


def test_the_workers_run_the_worker_entry_point() -> None:
    (worker,) = containers(resources("google_cloud_run_v2_worker_pool")["workers"])
    assert [literal(part) for part in worker["command"] + worker["args"]] == ["python", "-m", "workers"]


def test_the_kafka_topics_are_the_apps() -> None:
    prefix = literal(locals_()["kafka_topic_prefix"])
    settings = Settings(_env_file=None, kafka_topic_prefix=prefix)
    topics = Topics.from_settings(settings)
    declared = locals_()["kafka_topics"]
    assert {prefix + suffix for suffix in declared} == set(topics.partitions(settings))
    defaults = {
        "${var.kafka_request_partitions}": variable_default("kafka_request_partitions"),
        "${var.kafka_event_partitions}": variable_default("kafka_event_partitions"),
    }
    for suffix, spec in declared.items():
        partitions = spec["partitions"]
        count = defaults.get(partitions, partitions)
        assert count == topics.partitions(settings)[prefix + suffix], suffix
    topic = resources("google_managed_kafka_topic")["app"]
    assert topic["replication_factor"] == 3


def test_each_workload_has_its_own_least_privileged_identity() -> None:
    identities = {identity_of(template) for _, template, _ in every_container()}
    assert identities == {"web", "worker", "migrate", "admin"}
    roles = locals_()["project_roles"]
    for identity, granted in roles.items():
        granted = {literal(role) for role in granted}
        assert not granted & {"roles/owner", "roles/editor", "roles/viewer"}, identity
        if identity in ("migrate", "admin"):
            assert granted == {"roles/cloudsql.client"}
        else:
            assert {"roles/cloudsql.client", "roles/managedkafka.client", "roles/aiplatform.user"} == granted
    for kind, _, body in all_resources():
        if kind == "google_secret_manager_secret_iam_member":
            assert literal(body["role"]) == "roles/secretmanager.secretAccessor"


def test_the_database_is_private_with_backups_and_point_in_time_recovery() -> None:
    settings = one(resources("google_sql_database_instance")["main"]["settings"])
    ip = one(settings["ip_configuration"])
    assert ip["ipv4_enabled"] is False and ip["private_network"] == "${google_compute_network.vpc.id}"
    backups = one(settings["backup_configuration"])
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True


# --- checkov ----------------------------------------------------------------------------------

CHECKOV_CONFIG = TERRAFORM / ".checkov.yaml"


def checkov_binary() -> str:
    for candidate in (REPO / ".venv/tools/checkov/bin/checkov", shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise AssertionError("checkov is not installed: run scripts/setup --with-browser")


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    done = subprocess.run(
        [checkov_binary(), "-d", str(TERRAFORM), "--config-file", str(CHECKOV_CONFIG), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    report["returncode"] = done.returncode
    return report


def test_checkov_passes(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == [] and checkov_report["returncode"] == 0, failed
    assert checkov_report["summary"]["passed"] >= 40  # it did look at the resources


def test_every_waived_check_has_its_reason() -> None:
    lines = CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()
    waived = [i for i, line in enumerate(lines) if re.match(r"\s*-\s*CKV2?_", line)]
    assert waived
    for i in waived:
        assert lines[i - 1].strip().startswith("#"), f"no reason above {lines[i].strip()}"
    assert "skip-check" in "\n".join(lines) and "soft-fail" not in "\n".join(lines)
    for path in tf_files():
        assert "checkov:skip" not in path.read_text(encoding="utf-8"), f"inline waiver in {path}"


# --- terraform fmt: only where the binary is (the workflow always has it) ---------------------

if shutil.which("terraform"):

    def test_terraform_fmt() -> None:
        done = subprocess.run(
            ["terraform", "fmt", "-check", "-recursive", "-diff"],
            cwd=TERRAFORM,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
