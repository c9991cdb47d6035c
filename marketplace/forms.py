"""Glue between WTForms and the services' field errors."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from marketplace.errors import DomainError


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Put a service's field errors on the form's fields; the rest becomes a flash message."""
    unplaced = []
    for name, messages in error.errors.items():
        field = getattr(form, name, None)
        if field is None:
            unplaced.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
    flash(" ".join(unplaced) or error.message, "error")


def flash_error(error: DomainError) -> None:
    """A service's refusal as one flash message: its field messages, or its summary."""
    flash(" ".join(m for messages in error.errors.values() for m in messages) or error.message,
          "error")  # fmt: skip
