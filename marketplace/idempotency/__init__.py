"""Idempotency keys for the API's writes: a retried request is answered, not done twice
(``hooks`` for the HTTP side, ``keys`` for the rows)."""
