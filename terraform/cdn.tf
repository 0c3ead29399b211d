# With var.domain set: a global external HTTPS load balancer in front of the web service, with a
# Google-managed certificate and Cloud CDN.  CACHE_ALL_STATIC caches the built front end's static
# files (JS, CSS, fonts, images: content-hashed names) at the edge; pages, the API and the /_event
# WebSocket go through to Cloud Run uncached.  Port 80 only redirects to 443.

locals {
  lb = var.domain == "" ? 0 : 1
}

resource "google_compute_region_network_endpoint_group" "web" {
  count                 = local.lb
  name                  = "${local.name}-web"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloud_run_v2_service.web.name
  }
}

resource "google_compute_security_policy" "web" {
  count = local.lb
  name  = "${local.name}-web"

  # Log4j-style lookups in headers: a managed rule with no false positives for this app.
  rule {
    action   = "deny(403)"
    priority = 1000
    match {
      expr {
        expression = "evaluatePreconfiguredExpr('cve-canary')"
      }
    }
  }

  rule {
    action   = "allow"
    priority = 2147483647
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "web" {
  count                 = local.lb
  name                  = "${local.name}-web"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  enable_cdn            = true
  security_policy       = google_compute_security_policy.web[0].id

  backend {
    group = google_compute_region_network_endpoint_group.web[0].id
  }

  cdn_policy {
    cache_mode        = "CACHE_ALL_STATIC"
    default_ttl       = 3600
    client_ttl        = 3600
    max_ttl           = 86400
    serve_while_stale = 86400
    negative_caching  = false

    cache_key_policy {
      include_host         = true
      include_protocol     = true
      include_query_string = true
    }
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "web" {
  count           = local.lb
  name            = "${local.name}-web"
  default_service = google_compute_backend_service.web[0].id
}

resource "google_compute_managed_ssl_certificate" "web" {
  count = local.lb
  name  = "${local.name}-web"

  managed {
    domains = [var.domain]
  }
}

resource "google_compute_ssl_policy" "web" {
  count           = local.lb
  name            = "${local.name}-web"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "web" {
  count            = local.lb
  name             = "${local.name}-web"
  url_map          = google_compute_url_map.web[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.web[0].id]
  ssl_policy       = google_compute_ssl_policy.web[0].id
}

resource "google_compute_global_address" "web" {
  count = local.lb
  name  = "${local.name}-web"
}

resource "google_compute_global_forwarding_rule" "https" {
  count                 = local.lb
  name                  = "${local.name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.web[0].address
  port_range            = "443"
  target                = google_compute_target_https_proxy.web[0].id
}

resource "google_compute_url_map" "redirect" {
  count = local.lb
  name  = "${local.name}-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  count   = local.lb
  name    = "${local.name}-redirect"
  url_map = google_compute_url_map.redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count                 = local.lb
  name                  = "${local.name}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.web[0].address
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect[0].id
}
