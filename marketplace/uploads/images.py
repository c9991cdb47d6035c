"""Images are opened with Pillow; logos are re-encoded to a fresh PNG.

Only PNG, JPEG and WebP decoders are used (never SVG: it is a document that can run
scripts). An image of more than ``MAX_PIXELS`` pixels is refused before it is decoded, so a
small file that unpacks to gigabytes (a decompression bomb) costs nothing. The logo stored is
what Pillow drew, at most ``LOGO_SIDE`` pixels a side, in PNG with no metadata: whatever
followed or hid in the upload (a script after a PNG header, EXIF, comments) is gone.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.uploads import Refused

MAX_PIXELS = 40_000_000
LOGO_SIDE = 512
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def _open(data: bytes, formats: list[str]) -> Image.Image:
    shown = [{"WEBP": "WebP"}.get(f, f) for f in formats]
    names = " or ".join(shown) if len(shown) < 3 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Refused(f"This image has {width} × {height} pixels; at most "
                              f"{MAX_PIXELS:,} are accepted.")  # fmt: skip
            image.load()
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("This image unpacks to far more pixels than it claims.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise Refused(f"This file is not a valid {names} image.") from None
    return image


def check_image(data: bytes, extension: str) -> None:
    """Refuse ``data`` unless Pillow reads it in full as the image type of ``extension``."""
    _open(data, [FORMATS[extension]])


def reencode_logo(data: bytes) -> bytes:
    """A PNG (RGBA, no metadata, at most ``LOGO_SIDE`` pixels a side) drawn from ``data``,
    which must be a PNG, JPEG or WebP image."""
    image = _open(data, ["PNG", "JPEG", "WEBP"])
    try:
        image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF asked for
        image = image.convert("RGBA")
        image.thumbnail((LOGO_SIDE, LOGO_SIDE))
        clean = Image.new("RGBA", image.size)
        clean.paste(image)
        out = io.BytesIO()
        clean.save(out, format="PNG", optimize=True)
    except (OSError, ValueError) as error:
        raise Refused(f"This image cannot be read in full ({error}).") from None
    return out.getvalue()
