# One service account per workload, each with only what it needs.  The web app and the workers
# both call model providers (the web app for "Improve prompt" and "Test key"), so both may use
# Vertex AI; only they connect to Kafka.  Jobs reach only the database.

locals {
  identities = {
    web     = "The web app (Cloud Run service)"
    worker  = "LLM workers (Cloud Run worker pool)"
    migrate = "Schema migrations (Cloud Run job)"
    admin   = "First admin (Cloud Run job)"
  }

  project_roles = {
    web     = ["roles/cloudsql.client", "roles/managedkafka.client", "roles/aiplatform.user"]
    worker  = ["roles/cloudsql.client", "roles/managedkafka.client", "roles/aiplatform.user"]
    migrate = ["roles/cloudsql.client"]
    admin   = ["roles/cloudsql.client"]
  }

  project_grants = merge([
    for who, roles in local.project_roles : {
      for role in roles : "${who}/${role}" => { who = who, role = role }
    }
  ]...)
}

resource "google_service_account" "runtime" {
  for_each     = local.identities
  account_id   = "${local.name}-${each.key}"
  display_name = "llmdash ${var.environment}: ${each.value}"
}

resource "google_project_iam_member" "runtime" {
  for_each = local.project_grants
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.runtime[each.value.who].email}"
}

# With Firebase sign-in the web app checks revocation, which reads users.
resource "google_project_iam_member" "web_firebase" {
  count   = var.auth_provider == "firebase" ? 1 : 0
  project = var.project_id
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.runtime["web"].email}"
}
