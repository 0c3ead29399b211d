locals {
  name = "llmdash-${var.environment}"

  apis = [
    "aiplatform.googleapis.com", # Vertex AI (the vertexai model family)
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "managedkafka.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {}

locals {
  app_port = 8080 # the image's EXPOSE and PORT (Dockerfile)
}
