# Names and addresses only: no secret value is ever an output.

output "web_url" {
  description = "The web service's own address (*.run.app)."
  value       = google_cloud_run_v2_service.web.uri
}

output "web_service" {
  description = "Cloud Run service name (the deploy workflow's CLOUD_RUN_SERVICE)."
  value       = google_cloud_run_v2_service.web.name
}

output "worker_pool" {
  description = "Cloud Run worker pool name."
  value       = google_cloud_run_v2_worker_pool.workers.name
}

output "migrate_job" {
  description = "Cloud Run job that migrates the schema."
  value       = google_cloud_run_v2_job.migrate.name
}

output "admin_job" {
  description = "Cloud Run job that makes the first admin."
  value       = google_cloud_run_v2_job.admin.name
}

output "image_repository" {
  description = "Where images are pushed."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/llmdash"
}

output "load_balancer_ip" {
  description = "Point the custom domain's A record here (empty without var.domain)."
  value       = local.lb == 1 ? google_compute_global_address.web[0].address : ""
}

output "admin_password_secret" {
  description = "Secret holding the first admin's generated password (read it with gcloud, then change it in the app)."
  value       = google_secret_manager_secret.app["admin-password"].secret_id
}

output "exports_bucket" {
  description = "Bucket for exports."
  value       = google_storage_bucket.exports.name
}

output "kafka_bootstrap" {
  description = "Managed Kafka bootstrap address (private)."
  value       = local.kafka_bootstrap
}
