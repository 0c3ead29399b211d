# Cloud SQL for PostgreSQL on a private IP only, with daily backups and point-in-time recovery.
# The app connects through Cloud Run's Cloud SQL connection (a Unix socket under /cloudsql,
# encrypted with a client certificate and authorised by the service account's Cloud SQL Client
# role), so the instance takes no other connection.  PostgreSQL 16 is the version CI tests.

resource "google_sql_database_instance" "main" {
  name                = local.name
  database_version    = "POSTGRES_16"
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.db_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.db_availability_type
    disk_size                   = var.db_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" # Cloud Run's connection presents one
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.db_log_retention_days
      backup_retention_settings {
        retained_backups = var.db_backup_retention_days
      }
    }

    maintenance_window {
      day  = 7
      hour = 4
    }

    insights_config {
      query_insights_enabled = true
    }

    # What the CIS benchmark (and checkov) ask a PostgreSQL instance to log.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.services]
}

resource "google_sql_database" "app" {
  name     = "llmdash"
  instance = google_sql_database_instance.main.name
}

# The password lives only in the state (a bucket of its own) and in Secret Manager, inside the
# database-url secret; never in a variable or an output.
resource "random_password" "db" {
  length  = 32
  special = false # it goes into a URL unescaped
}

resource "google_sql_user" "app" {
  name     = "llmdash"
  instance = google_sql_database_instance.main.name
  password = random_password.db.result
}
