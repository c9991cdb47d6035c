"""Security headers on every response, and the endpoint browsers report policy violations to.

``policy`` sets the headers (an ``after_request`` of our own: it needs a per-request nonce, a
form target that depends on the payment provider, and the Cache-Control rule, which no
library has); ``views`` receives the Content-Security-Policy violation reports.
"""
