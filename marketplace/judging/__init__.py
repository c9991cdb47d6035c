"""Judging: reviewers and their scores, shortlists, decisions with feedback, awards to the
ledger, and closing a need out."""
