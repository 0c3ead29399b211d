# Memorystore for Redis: Reflex's session state, the response cache, rate limits and the sign-in
# throttle, shared by every web instance and worker.  AUTH is on; its string goes into the
# redis-url secret.

resource "google_redis_instance" "main" {
  name               = local.name
  tier               = var.redis_tier
  memory_size_gb     = var.redis_memory_gb
  region             = var.region
  redis_version      = "REDIS_7_2"
  authorized_network = google_compute_network.vpc.id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"
  auth_enabled       = true

  depends_on = [google_service_networking_connection.services]
}
