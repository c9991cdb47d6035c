"""Money in and out: the payment provider interface, sandbox and Stripe, and webhooks."""
