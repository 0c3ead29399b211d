# Secret Manager holds every secret setting; Cloud Run mounts each one a service needs as a file
# and points the setting's *_FILE variable at it (backend/settings.py reads both forms).  Four are
# made here (their values never pass through a variable or an output); the provider keys and the
# Firebase web key are optional, given a version by an operator (docs/deploy.md) and then listed
# in var.provided_secrets.

locals {
  # secret id suffix => the setting whose *_FILE names the mounted file
  secrets = {
    "database-url"                = "DATABASE_URL"
    "redis-url"                   = "REDIS_URL"
    "encryption-key"              = "ENCRYPTION_KEY"
    "admin-password"              = "LLMDASH_ADMIN_PASSWORD"
    "openai-api-key"              = "OPENAI_API_KEY"
    "anthropic-api-key"           = "ANTHROPIC_API_KEY"
    "openai-compatible-endpoints" = "OPENAI_COMPATIBLE_ENDPOINTS"
    "firebase-web-api-key"        = "FIREBASE_WEB_API_KEY"
  }
  generated_secrets = toset(["database-url", "redis-url", "encryption-key", "admin-password"])
  secret_mount_dir  = "/secrets"

  # Which secrets each identity reads: nothing more.
  core_secrets = ["database-url", "redis-url", "encryption-key"]
  secrets_of = {
    web     = concat(local.core_secrets, var.provided_secrets)
    worker  = concat(local.core_secrets, [for s in var.provided_secrets : s if s != "firebase-web-api-key"])
    migrate = ["database-url"]
    admin   = ["database-url", "admin-password"]
  }
}

resource "google_secret_manager_secret" "app" {
  for_each  = local.secrets
  secret_id = "${local.name}-${each.key}"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "random_password" "admin" {
  length  = 24
  special = false
}

resource "random_bytes" "encryption_key" {
  length = 32
}

locals {
  generated_values = {
    "database-url"   = "postgresql+psycopg://${google_sql_user.app.name}:${random_password.db.result}@/${google_sql_database.app.name}?host=/cloudsql/${google_sql_database_instance.main.connection_name}"
    "redis-url"      = "redis://:${google_redis_instance.main.auth_string}@${google_redis_instance.main.host}:${google_redis_instance.main.port}/0"
    "encryption-key" = replace(replace(random_bytes.encryption_key.base64, "+", "-"), "/", "_") # Fernet: URL-safe base64
    "admin-password" = random_password.admin.result
  }
}

resource "google_secret_manager_secret_version" "generated" {
  for_each    = local.generated_secrets
  secret      = google_secret_manager_secret.app[each.key].id
  secret_data = local.generated_values[each.key]
}

# Each identity may read its own secrets, one binding per secret.
locals {
  secret_grants = merge([
    for who, names in local.secrets_of : {
      for name in names : "${who}/${name}" => { who = who, secret = name }
    }
  ]...)
}

resource "google_secret_manager_secret_iam_member" "access" {
  for_each  = local.secret_grants
  secret_id = google_secret_manager_secret.app[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime[each.value.who].email}"
}
