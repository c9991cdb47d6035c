"""Running the product: health and readiness, failed background jobs, alerts to admins."""
