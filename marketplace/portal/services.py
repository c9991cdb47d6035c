"""Branding, email domains and logo of an organization's portal. Owners only."""

from __future__ import annotations

import os
import re
import secrets
from typing import IO

from flask import current_app

from marketplace.accounts.models import Organization, OrganizationDomain, OrgRole, User
from marketplace.accounts.services import require_role
from marketplace.audit.log import record
from marketplace.db import command
from marketplace.errors import Invalid
from marketplace.files import remove_after_commit, write_new_file
from marketplace.uploads import Refused, images, scanner

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DOMAIN = re.compile(r"(?=.{3,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
#: Stored logos by extension (older ones kept their upload's type; new ones are PNG).
LOGO_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
PUBLIC_MAIL_DOMAINS = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"}
MAX_LOGO_BYTES = 512 * 1024


@command
def save_portal(
    actor: User, organization: Organization, *, tagline: str, about: str,
    primary_color: str, accent_color: str, email_domains: list[str],
    logo: IO[bytes] | None = None,
) -> Organization:  # fmt: skip
    """Save the settings page in one go: branding, email domains and (optionally) a new logo.
    Every field is checked first; any refusal saves nothing."""
    require_role(actor, organization, OrgRole.OWNER)
    errors = _branding_errors(tagline, about, primary_color, accent_color)
    domains = sorted({d.strip().lower() for d in email_domains if d.strip()})
    bad = [d for d in domains if not DOMAIN.fullmatch(d) or d in PUBLIC_MAIL_DOMAINS]
    if bad:
        errors["email_domains"] = [f"Not a domain your organization owns: {', '.join(bad)}."]
    image = None
    if logo is not None:
        try:
            image = _read_logo(logo)
        except Invalid as error:
            errors.update(error.errors)
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    organization.tagline = tagline.strip()
    organization.about = about.strip()
    organization.primary_color = primary_color.lower()
    organization.accent_color = accent_color.lower()
    _set_domains(organization, domains)
    record("organization.edit_portal", obj=organization, actor=actor, details={"domains": domains})
    if image is not None:
        _store_logo(organization, image)
    return organization


def _branding_errors(
    tagline: str, about: str, primary_color: str, accent_color: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if len(tagline or "") > 200:
        errors["tagline"] = ["At most 200 characters."]
    if len(about or "") > 10_000:
        errors["about"] = ["At most 10,000 characters."]
    for name, value in (("primary_color", primary_color), ("accent_color", accent_color)):
        if not COLOR.fullmatch(value or ""):
            errors[name] = ["Use a colour like #2456d6."]
    return errors


def _set_domains(organization: Organization, domains: list[str]) -> None:
    """Keep the rows of domains that stay: replacing them all would insert a domain again
    before its old row is deleted, and break the one-row-per-domain rule."""
    wanted = set(domains)
    for row in list(organization.domains):
        if row.domain not in wanted:
            organization.domains.remove(row)
    kept = {row.domain for row in organization.domains}
    organization.domains.extend(OrganizationDomain(domain=d) for d in domains if d not in kept)


def _read_logo(stream: IO[bytes]) -> bytes:
    """The logo as a fresh PNG drawn by Pillow from a PNG, JPEG or WebP upload (never SVG),
    after the virus scan when one is configured."""
    data = stream.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise Invalid("Logo too large.", {"logo": ["At most 512 KB."]})
    try:
        scanner.scan(data)
        return images.reencode_logo(data)
    except Refused as refused:
        raise Invalid(
            "Not an image.", {"logo": [f"Upload a PNG, JPEG or WebP image. {refused.message}"]}
        ) from None


def logo_folder() -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "logos")


def _store_logo(organization: Organization, data: bytes) -> None:
    """Write the new logo (removed again if the command fails); the old one goes once the
    change is committed."""
    filename = f"{organization.id}-{secrets.token_hex(8)}.png"
    write_new_file(logo_folder(), filename, data, field="logo")
    if organization.logo_filename:
        remove_after_commit(os.path.join(logo_folder(), organization.logo_filename))
    organization.logo_filename = filename
