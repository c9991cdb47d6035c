"""Dialogue, not a mailbox: public clarifications and progress updates per need."""
