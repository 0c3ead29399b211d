# Google Cloud Managed Service for Apache Kafka: the queue between the web app and the workers.
# The topics are the app's (backend/queue/kafka_topics.py: KAFKA_TOPIC_PREFIX + requests, events,
# cancellations, dead-letter, heartbeats) with their partitions, replicated 3x; the app finds them
# made and creates none.  Clients authenticate with their service account (KAFKA_AUTH=google).

locals {
  kafka_topic_prefix = "llmdash."
  kafka_topics = {
    requests      = { partitions = var.kafka_request_partitions, retention_ms = 86400000 }
    events        = { partitions = var.kafka_event_partitions, retention_ms = 86400000 }
    cancellations = { partitions = 1, retention_ms = 86400000 }
    dead-letter   = { partitions = 1, retention_ms = 604800000 }
    heartbeats    = { partitions = 1, retention_ms = 3600000 }
  }
  kafka_bootstrap = "bootstrap.${google_managed_kafka_cluster.main.cluster_id}.${var.region}.managedkafka.${var.project_id}.cloud.goog:9092"
}

resource "google_managed_kafka_cluster" "main" {
  cluster_id = local.name
  location   = var.region

  capacity_config {
    vcpu_count   = var.kafka_vcpus
    memory_bytes = var.kafka_memory_bytes
  }

  gcp_config {
    access_config {
      network_configs {
        subnet = google_compute_subnetwork.run.id
      }
    }
  }

  rebalance_config {
    mode = "AUTO_REBALANCE_ON_SCALE_UP"
  }

  depends_on = [google_project_service.apis]
}

resource "google_managed_kafka_topic" "app" {
  for_each           = local.kafka_topics
  topic_id           = "${local.kafka_topic_prefix}${each.key}"
  cluster            = google_managed_kafka_cluster.main.cluster_id
  location           = var.region
  partition_count    = each.value.partitions
  replication_factor = 3

  configs = {
    "min.insync.replicas" = "2"
    "retention.ms"        = tostring(each.value.retention_ms)
  }
}
