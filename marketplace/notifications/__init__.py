"""In-app notifications, and email sent by a job (logged by default, SMTP when configured)."""
