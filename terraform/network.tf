# One VPC. Cloud Run reaches Cloud SQL, Memorystore and Kafka through Direct VPC egress into the
# `run` subnet (private ranges only: model providers on the internet are reached directly);
# Cloud SQL and Memorystore sit on a private services access range; Kafka's brokers get
# Private Service Connect endpoints in the same subnet.

resource "google_compute_network" "vpc" {
  name                    = local.name
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

resource "google_compute_subnetwork" "run" {
  name                     = "${local.name}-run"
  network                  = google_compute_network.vpc.id
  region                   = var.region
  ip_cidr_range            = "10.10.0.0/24"
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_global_address" "services" {
  name          = "${local.name}-services"
  network       = google_compute_network.vpc.id
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
}

resource "google_service_networking_connection" "services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.services.name]
}

# Nothing reaches into the VPC from outside (Cloud Run, Cloud SQL, Memorystore and Kafka are all
# managed services); said explicitly, and logged.
resource "google_compute_firewall" "deny_ingress" {
  name      = "${local.name}-deny-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65000

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Cloud Run instances talk to the private services (Cloud SQL, Memorystore) and to Kafka's
# Private Service Connect endpoints inside the subnet.
resource "google_compute_firewall" "internal" {
  name      = "${local.name}-internal"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 1000

  allow {
    protocol = "tcp"
    ports    = ["5432", "6378", "6379", "9092"]
  }

  source_ranges = [google_compute_subnetwork.run.ip_cidr_range]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
