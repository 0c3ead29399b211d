# Artifact Registry for the app image, and a private bucket for exports.

resource "google_artifact_registry_repository" "images" {
  repository_id = local.name
  location      = var.region
  format        = "DOCKER"
  description   = "llmdash ${var.environment} images (pushed by .github/workflows/deploy.yml)"

  docker_config {
    immutable_tags = true
  }

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days, unless among the 20 most recent
    }
  }

  depends_on = [google_project_service.apis]
}

# Cloud Run pulls with its service agent; the identities only need to read.
resource "google_artifact_registry_repository_iam_member" "runtime_read" {
  for_each   = local.identities
  repository = google_artifact_registry_repository.images.name
  location   = var.region
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_storage_bucket" "exports" {
  name                        = "${var.project_id}-${local.name}-exports"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.exports_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "web_exports" {
  bucket = google_storage_bucket.exports.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.runtime["web"].email}"
}
