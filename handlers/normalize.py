"""Normalising the keys that identify a person or a company: e-mail, phone, VAT id."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.eu import vat as eu_vat

from handlers.exceptions import HandlerInputError


def normalize_email(raw: object, *, where: str = "email") -> str | None:
    """Lower-case, trimmed, syntax-checked; None for no e-mail. Dots and +tags are kept (no guessing)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise HandlerInputError(f"{where} must be a text, not {type(raw).__name__}")
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as err:
        raise HandlerInputError(f"{where} {raw!r} is not an e-mail address: {err}") from err
    return checked.normalized.lower()


def normalize_phone(raw: object, country: str | None = None) -> str | None:
    """E.164 (``+4930123456``) when the number parses, else None: a bad phone never blocks a lead."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class VatId:
    """A VAT id split into its country prefix (may be unknown) and the number without it."""

    country: str | None
    number: str

    @property
    def full(self) -> str | None:
        return f"{self.country}{self.number}" if self.country else None


def split_vat(raw: object, country: str | None = None, *, where: str = "vatId") -> VatId | None:
    """``"de 123 456 789"`` and ``"123456789"`` (country DE) both give ``VatId("DE", "123456789")``.

    Greece's prefix is EL (not GR) as in VIES. Without a prefix and without a country the number
    stays unprefixed and matches only by the number part.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise HandlerInputError(f"{where} must be a text, not {type(raw).__name__}")
    compact = eu_vat.compact(raw) if raw.strip()[:2].isalpha() else "".join(c for c in raw if c.isalnum())
    compact = compact.upper()
    if not compact:
        raise HandlerInputError(f"{where} {raw!r} holds no letters or digits")
    if compact[:2].isalpha() and len(compact) > 2:
        return VatId(compact[:2], compact[2:])
    prefix = (country or "").upper() or None
    if prefix == "GR":
        prefix = "EL"
    return VatId(prefix, compact)
