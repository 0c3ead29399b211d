# Staging: the smallest shape, on its own project. Image: set by the first bootstrap (docs/deploy.md).
project_id          = "llmdash-staging"
environment         = "staging"
region              = "us-central1"
image               = "us-central1-docker.pkg.dev/llmdash-staging/llmdash-staging/llmdash:bootstrap"
domain              = ""
web_min_instances   = 0
web_max_instances   = 2
worker_instances    = 1
db_tier             = "db-custom-1-3840"
redis_tier          = "BASIC"
allow_sign_up       = true
deletion_protection = false
