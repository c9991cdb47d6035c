"""Branding and email domains of an organization's portal. Owners only."""

from __future__ import annotations

import os
import re
import secrets
from typing import IO

from flask import current_app

from marketplace.accounts.models import Organization, OrganizationDomain, OrgRole, User
from marketplace.accounts.services import require_role
from marketplace.errors import Invalid
from marketplace.extensions import db

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
PUBLIC_MAIL_DOMAINS = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"}
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}
MAX_LOGO_BYTES = 512 * 1024


def update_branding(
    actor: User, organization: Organization, *, tagline: str, about: str,
    primary_color: str, accent_color: str, email_domains: list[str],
) -> Organization:  # fmt: skip
    require_role(actor, organization, OrgRole.OWNER)
    errors: dict[str, list[str]] = {}
    if len(tagline or "") > 200:
        errors["tagline"] = ["At most 200 characters."]
    if len(about or "") > 10_000:
        errors["about"] = ["At most 10,000 characters."]
    for name, value in (("primary_color", primary_color), ("accent_color", accent_color)):
        if not COLOR.match(value or ""):
            errors[name] = ["Use a colour like #2456d6."]
    domains = sorted({d.strip().lower() for d in email_domains if d.strip()})
    bad = [d for d in domains if not DOMAIN.match(d) or d in PUBLIC_MAIL_DOMAINS]
    if bad:
        errors["email_domains"] = [f"Not a domain your organization owns: {', '.join(bad)}."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    organization.tagline = tagline.strip()
    organization.about = about.strip()
    organization.primary_color = primary_color.lower()
    organization.accent_color = accent_color.lower()
    organization.domains = [OrganizationDomain(domain=d) for d in domains]
    db.session.commit()
    return organization


def _logo_type(head: bytes) -> str | None:
    for magic, extension in LOGO_TYPES.items():
        if head.startswith(magic):
            return extension
    return None


def store_logo(actor: User, organization: Organization, stream: IO[bytes]) -> str:
    """Keep an uploaded PNG, JPEG or WebP logo (checked by content, not by name)."""
    require_role(actor, organization, OrgRole.OWNER)
    data = stream.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise Invalid("Logo too large.", {"logo": ["At most 512 KB."]})
    extension = _logo_type(data[:12])
    if extension is None:
        raise Invalid("Not an image.", {"logo": ["Upload a PNG, JPEG or WebP image."]})
    folder = os.path.join(current_app.config["UPLOAD_FOLDER"], "logos")
    os.makedirs(folder, exist_ok=True)
    filename = f"{organization.id}-{secrets.token_hex(8)}.{extension}"
    with open(os.path.join(folder, filename), "wb") as out:
        out.write(data)
    organization.logo_filename = filename
    db.session.commit()
    return filename
