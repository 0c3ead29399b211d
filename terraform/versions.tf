# Remote state in a GCS bucket made once by hand (docs/deploy.md, "One-time bootstrap"); the
# bucket and prefix come from environments/<env>.gcs.tfbackend:
#   terraform init -backend-config=environments/production.gcs.tfbackend
terraform {
  required_version = ">= 1.9"

  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.10"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app         = "llmdash"
    environment = var.environment
    managed-by  = "terraform"
  }
}
