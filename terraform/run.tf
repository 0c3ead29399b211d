# The web app: Reflex's backend serving the front end built into the image, the HTTP API and the
# browsers' WebSockets.  Session affinity keeps a browser on one instance (its Socket.IO session;
# state is in Redis anyway), and the request timeout is Cloud Run's longest, since a WebSocket is
# one request for as long as the page is open.  CPU stays allocated between requests: every
# instance tails the events topic and heartbeats to Kafka.  The image, revisions and traffic are
# the deploy workflow's (.github/workflows/deploy.yml); terraform sets everything else.
resource "google_cloud_run_v2_service" "web" {
  name                = "${local.name}-web"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.runtime["web"].email
    session_affinity                 = true
    timeout                          = "3600s"
    max_instance_request_concurrency = var.web_concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = var.web_min_instances
      max_instance_count = var.web_max_instances
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = google_compute_network.vpc.id
        subnetwork = google_compute_subnetwork.run.id
      }
    }

    containers {
      name  = "web"
      image = var.image

      ports {
        container_port = local.app_port
      }

      resources {
        limits = {
          cpu    = var.web_cpu
          memory = var.web_memory
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      startup_probe {
        http_get {
          path = "/ping"
        }
        period_seconds    = 3
        timeout_seconds   = 2
        failure_threshold = 40
      }

      liveness_probe {
        http_get {
          path = "/ping"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }

      env {
        name  = "ENVIRONMENT"
        value = "production"
      }
      env {
        name  = "KAFKA_BOOTSTRAP_SERVERS"
        value = local.kafka_bootstrap
      }
      env {
        name  = "KAFKA_AUTH"
        value = "google"
      }
      env {
        name  = "KAFKA_TOPIC_PREFIX"
        value = local.kafka_topic_prefix
      }
      env {
        name  = "KAFKA_REPLICATION_FACTOR"
        value = "3"
      }
      env {
        name  = "KAFKA_REQUEST_PARTITIONS"
        value = tostring(var.kafka_request_partitions)
      }
      env {
        name  = "KAFKA_EVENT_PARTITIONS"
        value = tostring(var.kafka_event_partitions)
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "VERTEX_LOCATION"
        value = var.region
      }
      env {
        name  = "RATE_LIMIT_REQUESTS_PER_MINUTE"
        value = tostring(var.rate_limit_requests_per_minute)
      }
      env {
        name  = "RATE_LIMIT_TOKENS_PER_DAY"
        value = tostring(var.rate_limit_tokens_per_day)
      }
      env {
        name  = "MIGRATE_ON_START"
        value = "false"
      }
      env {
        name  = "GRANIAN_WORKERS"
        value = tostring(var.web_backend_processes)
      }
      env {
        name  = "AUTH_PROVIDER"
        value = var.auth_provider
      }
      env {
        name  = "ALLOW_SIGN_UP"
        value = tostring(var.allow_sign_up)
      }
      env {
        name  = "FIREBASE_PROJECT_ID"
        value = var.firebase_project_id
      }
      env {
        name  = "FIREBASE_AUTH_DOMAIN"
        value = var.firebase_auth_domain
      }
      env {
        name  = "DATABASE_URL_FILE"
        value = "${local.secret_mount_dir}/database-url/value"
      }
      env {
        name  = "REDIS_URL_FILE"
        value = "${local.secret_mount_dir}/redis-url/value"
      }
      env {
        name  = "ENCRYPTION_KEY_FILE"
        value = "${local.secret_mount_dir}/encryption-key/value"
      }
      dynamic "env" {
        for_each = toset([for s in local.secrets_of.web : s if !contains(local.core_secrets, s)])
        content {
          name  = "${local.secrets[env.value]}_FILE"
          value = "${local.secret_mount_dir}/${env.value}/value"
        }
      }
      dynamic "volume_mounts" {
        for_each = toset([for s in local.secrets_of.web : s if !contains(local.core_secrets, s)])
        content {
          name       = "secret-${volume_mounts.value}"
          mount_path = "${local.secret_mount_dir}/${volume_mounts.value}"
        }
      }
      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }
      volume_mounts {
        name       = "secret-database-url"
        mount_path = "${local.secret_mount_dir}/database-url"
      }
      volume_mounts {
        name       = "secret-redis-url"
        mount_path = "${local.secret_mount_dir}/redis-url"
      }
      volume_mounts {
        name       = "secret-encryption-key"
        mount_path = "${local.secret_mount_dir}/encryption-key"
      }
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [google_sql_database_instance.main.connection_name]
      }
    }
    volumes {
      name = "secret-database-url"
      secret {
        secret = google_secret_manager_secret.app["database-url"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    volumes {
      name = "secret-redis-url"
      secret {
        secret = google_secret_manager_secret.app["redis-url"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    volumes {
      name = "secret-encryption-key"
      secret {
        secret = google_secret_manager_secret.app["encryption-key"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    dynamic "volumes" {
      for_each = toset([for s in local.secrets_of.web : s if !contains(local.core_secrets, s)])
      content {
        name = "secret-${volumes.value}"
        secret {
          secret = google_secret_manager_secret.app[volumes.value].secret_id
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, template[0].revision, traffic, client, client_version]
  }

  depends_on = [google_secret_manager_secret_version.generated, google_secret_manager_secret_iam_member.access, google_managed_kafka_topic.app]
}

# Anyone may open the app (it has its own sign-in); through the load balancer when var.domain is set.
resource "google_cloud_run_v2_service_iam_member" "web_public" {
  name     = google_cloud_run_v2_service.web.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The LLM workers: `python -m workers` instances consuming the requests topic (a worker pool:
# no HTTP, no requests; always on, manually scaled).
resource "google_cloud_run_v2_worker_pool" "workers" {
  name                = "${local.name}-workers"
  location            = var.region
  launch_stage        = "BETA"
  deletion_protection = var.deletion_protection

  scaling {
    manual_instance_count = var.worker_instances
  }

  template {
    service_account = google_service_account.runtime["worker"].email

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = google_compute_network.vpc.id
        subnetwork = google_compute_subnetwork.run.id
      }
    }

    containers {
      name    = "worker"
      image   = var.image
      command = ["python"]
      args    = ["-m", "workers"]

      resources {
        limits = {
          cpu    = var.worker_cpu
          memory = var.worker_memory
        }
      }

      env {
        name  = "ENVIRONMENT"
        value = "production"
      }
      env {
        name  = "KAFKA_BOOTSTRAP_SERVERS"
        value = local.kafka_bootstrap
      }
      env {
        name  = "KAFKA_AUTH"
        value = "google"
      }
      env {
        name  = "KAFKA_TOPIC_PREFIX"
        value = local.kafka_topic_prefix
      }
      env {
        name  = "KAFKA_REPLICATION_FACTOR"
        value = "3"
      }
      env {
        name  = "KAFKA_REQUEST_PARTITIONS"
        value = tostring(var.kafka_request_partitions)
      }
      env {
        name  = "KAFKA_EVENT_PARTITIONS"
        value = tostring(var.kafka_event_partitions)
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "VERTEX_LOCATION"
        value = var.region
      }
      env {
        name  = "RATE_LIMIT_REQUESTS_PER_MINUTE"
        value = tostring(var.rate_limit_requests_per_minute)
      }
      env {
        name  = "RATE_LIMIT_TOKENS_PER_DAY"
        value = tostring(var.rate_limit_tokens_per_day)
      }
      env {
        name  = "DATABASE_URL_FILE"
        value = "${local.secret_mount_dir}/database-url/value"
      }
      env {
        name  = "REDIS_URL_FILE"
        value = "${local.secret_mount_dir}/redis-url/value"
      }
      env {
        name  = "ENCRYPTION_KEY_FILE"
        value = "${local.secret_mount_dir}/encryption-key/value"
      }
      dynamic "env" {
        for_each = toset([for s in local.secrets_of.worker : s if !contains(local.core_secrets, s)])
        content {
          name  = "${local.secrets[env.value]}_FILE"
          value = "${local.secret_mount_dir}/${env.value}/value"
        }
      }
      dynamic "volume_mounts" {
        for_each = toset([for s in local.secrets_of.worker : s if !contains(local.core_secrets, s)])
        content {
          name       = "secret-${volume_mounts.value}"
          mount_path = "${local.secret_mount_dir}/${volume_mounts.value}"
        }
      }
      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }
      volume_mounts {
        name       = "secret-database-url"
        mount_path = "${local.secret_mount_dir}/database-url"
      }
      volume_mounts {
        name       = "secret-redis-url"
        mount_path = "${local.secret_mount_dir}/redis-url"
      }
      volume_mounts {
        name       = "secret-encryption-key"
        mount_path = "${local.secret_mount_dir}/encryption-key"
      }
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [google_sql_database_instance.main.connection_name]
      }
    }
    volumes {
      name = "secret-database-url"
      secret {
        secret = google_secret_manager_secret.app["database-url"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    volumes {
      name = "secret-redis-url"
      secret {
        secret = google_secret_manager_secret.app["redis-url"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    volumes {
      name = "secret-encryption-key"
      secret {
        secret = google_secret_manager_secret.app["encryption-key"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
    dynamic "volumes" {
      for_each = toset([for s in local.secrets_of.worker : s if !contains(local.core_secrets, s)])
      content {
        name = "secret-${volumes.value}"
        secret {
          secret = google_secret_manager_secret.app[volumes.value].secret_id
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_version.generated, google_secret_manager_secret_iam_member.access, google_managed_kafka_topic.app]
}

# Schema migrations, run by the deploy workflow before a new revision gets traffic (the app's
# MIGRATE_ON_START is false).
resource "google_cloud_run_v2_job" "migrate" {
  name                = "${local.name}-migrate"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count = 1
    template {
      service_account = google_service_account.runtime["migrate"].email
      max_retries     = 0
      timeout         = "900s"

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = google_compute_network.vpc.id
          subnetwork = google_compute_subnetwork.run.id
        }
      }

      containers {
        image   = var.image
        command = ["python"]
        args    = ["-m", "backend.admin", "migrate"]

        env {
          name  = "ENVIRONMENT"
          value = "production"
        }
        env {
          name  = "DATABASE_URL_FILE"
          value = "${local.secret_mount_dir}/database-url/value"
        }
        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
        volume_mounts {
          name       = "secret-database-url"
          mount_path = "${local.secret_mount_dir}/database-url"
        }
      }

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [google_sql_database_instance.main.connection_name]
        }
      }
      volumes {
        name = "secret-database-url"
        secret {
          secret = google_secret_manager_secret.app["database-url"].secret_id
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_version.generated, google_secret_manager_secret_iam_member.access]
}

# The first admin: `gcloud run jobs execute ... --args=-m,backend.admin,create-admin,EMAIL`
# (docs/deploy.md); the password is the generated admin-password secret.
resource "google_cloud_run_v2_job" "admin" {
  name                = "${local.name}-admin"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count = 1
    template {
      service_account = google_service_account.runtime["admin"].email
      max_retries     = 0
      timeout         = "900s"

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = google_compute_network.vpc.id
          subnetwork = google_compute_subnetwork.run.id
        }
      }

      containers {
        image   = var.image
        command = ["python"]
        args    = ["-m", "backend.admin", "--help"]

        env {
          name  = "ENVIRONMENT"
          value = "production"
        }
        env {
          name  = "DATABASE_URL_FILE"
          value = "${local.secret_mount_dir}/database-url/value"
        }
        env {
          name  = "LLMDASH_ADMIN_PASSWORD_FILE"
          value = "${local.secret_mount_dir}/admin-password/value"
        }
        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
        volume_mounts {
          name       = "secret-database-url"
          mount_path = "${local.secret_mount_dir}/database-url"
        }
        volume_mounts {
          name       = "secret-admin-password"
          mount_path = "${local.secret_mount_dir}/admin-password"
        }
      }

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [google_sql_database_instance.main.connection_name]
        }
      }
      volumes {
        name = "secret-database-url"
        secret {
          secret = google_secret_manager_secret.app["database-url"].secret_id
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
      volumes {
        name = "secret-admin-password"
        secret {
          secret = google_secret_manager_secret.app["admin-password"].secret_id
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_version.generated, google_secret_manager_secret_iam_member.access]
}
