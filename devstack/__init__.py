"""What starts services for tests, bench and scripts: the app process, Apache Kafka, the Kafka
workers, nginx, throw-away PostgreSQL databases and signed-in accounts."""
