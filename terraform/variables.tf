# Staging and production are the same code with different values: environments/<env>.tfvars.

variable "project_id" {
  description = "The Google Cloud project this environment lives in."
  type        = string
}

variable "region" {
  description = "Region of every regional resource (Cloud Run, Cloud SQL, Memorystore, Kafka)."
  type        = string
  default     = "us-central1"
}

variable "environment" {
  description = "staging or production: the suffix of every resource name."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is staging or production."
  }
}

variable "image" {
  description = "The app image (Artifact Registry, by digest or tag) the first revision runs; later revisions come from the deploy workflow, which terraform then leaves alone."
  type        = string
}

variable "domain" {
  description = "Custom domain served through the HTTPS load balancer and Cloud CDN (e.g. llmdash.example.org). Empty: no load balancer, the *.run.app address only."
  type        = string
  default     = ""
}

variable "web_min_instances" {
  description = "Web instances kept warm (each holds browsers' WebSockets and tails the events topic)."
  type        = number
  default     = 1
}

variable "web_max_instances" {
  description = "Upper bound on web instances."
  type        = number
  default     = 4
}

variable "web_cpu" {
  description = "vCPUs per web instance."
  type        = string
  default     = "1"
}

variable "web_memory" {
  description = "Memory per web instance."
  type        = string
  default     = "1Gi"
}

variable "web_concurrency" {
  description = "Requests per web instance. A browser's WebSocket is one request for as long as the page is open."
  type        = number
  default     = 250
}

variable "web_backend_processes" {
  description = "Granian worker processes per web instance (GRANIAN_WORKERS); sessions live in Redis, so any process serves any browser."
  type        = number
  default     = 2
}

variable "worker_instances" {
  description = "Worker pool instances (`python -m workers`), each streaming WORKER_CONCURRENCY runs; at most kafka_request_partitions of them are busy."
  type        = number
  default     = 1
}

variable "worker_cpu" {
  description = "vCPUs per worker instance."
  type        = string
  default     = "1"
}

variable "worker_memory" {
  description = "Memory per worker instance."
  type        = string
  default     = "1Gi"
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "db_availability_type" {
  description = "ZONAL (one zone) or REGIONAL (a standby in another zone)."
  type        = string
  default     = "ZONAL"
}

variable "db_disk_size_gb" {
  description = "Initial Cloud SQL disk size (it grows by itself)."
  type        = number
  default     = 10
}

variable "db_backup_retention_days" {
  description = "Daily backups kept; point-in-time recovery covers the last db_log_retention_days of them."
  type        = number
  default     = 14
}

variable "db_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7
}

variable "redis_tier" {
  description = "Memorystore tier: BASIC (one node) or STANDARD_HA (a replica)."
  type        = string
  default     = "BASIC"
}

variable "redis_memory_gb" {
  description = "Memorystore capacity."
  type        = number
  default     = 1
}

variable "kafka_vcpus" {
  description = "vCPUs of the Managed Kafka cluster (3 at least)."
  type        = number
  default     = 3
}

variable "kafka_memory_bytes" {
  description = "Memory of the Managed Kafka cluster (1-8 GiB per vCPU, 3 GiB at least)."
  type        = number
  default     = 3221225472
}

variable "kafka_request_partitions" {
  description = "Partitions of the requests topic (KAFKA_REQUEST_PARTITIONS): the most workers that are busy at once."
  type        = number
  default     = 6
}

variable "kafka_event_partitions" {
  description = "Partitions of the events topic (KAFKA_EVENT_PARTITIONS)."
  type        = number
  default     = 1
}

variable "allow_sign_up" {
  description = "ALLOW_SIGN_UP: let anyone create an account (builtin sign-in)."
  type        = bool
  default     = false
}

variable "auth_provider" {
  description = "AUTH_PROVIDER: builtin (email + password) or firebase."
  type        = string
  default     = "builtin"
  validation {
    condition     = contains(["builtin", "firebase"], var.auth_provider)
    error_message = "auth_provider is builtin or firebase."
  }
}

variable "firebase_project_id" {
  description = "FIREBASE_PROJECT_ID (auth_provider = firebase)."
  type        = string
  default     = ""
}

variable "firebase_auth_domain" {
  description = "FIREBASE_AUTH_DOMAIN (auth_provider = firebase)."
  type        = string
  default     = ""
}

variable "rate_limit_requests_per_minute" {
  description = "RATE_LIMIT_REQUESTS_PER_MINUTE per user (0: off)."
  type        = number
  default     = 60
}

variable "rate_limit_tokens_per_day" {
  description = "RATE_LIMIT_TOKENS_PER_DAY per user (0: off)."
  type        = number
  default     = 2000000
}

variable "provided_secrets" {
  description = "Optional secrets an operator has given a version (docs/deploy.md) and the app should read: any of openai-api-key, anthropic-api-key, openai-compatible-endpoints, firebase-web-api-key. A secret without a version cannot be mounted."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.provided_secrets : contains(["openai-api-key", "anthropic-api-key", "openai-compatible-endpoints", "firebase-web-api-key"], s)])
    error_message = "provided_secrets lists only openai-api-key, anthropic-api-key, openai-compatible-endpoints and firebase-web-api-key."
  }
}

variable "exports_retention_days" {
  description = "Days an export stays in the exports bucket."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Refuse to destroy the database and the Cloud Run resources."
  type        = bool
  default     = true
}
