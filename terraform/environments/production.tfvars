# Production: the smallest footprint docs/deploy.md prices, on its own project.
project_id           = "llmdash-production"
environment          = "production"
region               = "us-central1"
image                = "us-central1-docker.pkg.dev/llmdash-production/llmdash-production/llmdash:bootstrap"
domain               = "llmdash.example.org"
web_min_instances    = 1
web_max_instances    = 4
worker_instances     = 1
db_tier              = "db-custom-1-3840"
db_availability_type = "ZONAL"
redis_tier           = "BASIC"
allow_sign_up        = false
deletion_protection  = true
