"""Keys that identify people and companies: e-mail, phone and VAT ids with or without their prefix."""

from __future__ import annotations

import pytest

from handlers.exceptions import HandlerInputError
from handlers.normalize import VatId, normalize_email, normalize_phone, split_vat


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("DE123456789", None, VatId("DE", "123456789")),
        ("de 123.456.789", None, VatId("DE", "123456789")),
        ("123456789", "DE", VatId("DE", "123456789")),
        ("123 456 789", None, VatId(None, "123456789")),
        ("ATU12345678", "DE", VatId("AT", "U12345678")),
        ("094259216", "GR", VatId("EL", "094259216")),
    ],
)
def test_vat_ids_split_into_prefix_and_number(raw: str, country: str | None, expected: VatId) -> None:
    assert split_vat(raw, country) == expected


def test_vat_with_and_without_prefix_meet_on_the_full_id() -> None:
    assert split_vat("DE 123456789") is not None
    assert split_vat("DE 123456789").full == split_vat("123456789", "de").full == "DE123456789"  # type: ignore[union-attr]
    assert split_vat("123456789").full is None  # type: ignore[union-attr]


def test_emails_are_trimmed_and_lower_cased_and_bad_ones_refused() -> None:
    assert normalize_email("  Ann.Buyer+crm@ACME.Example ") == "ann.buyer+crm@acme.example"
    assert normalize_email("") is None
    with pytest.raises(HandlerInputError, match="'not-an-email' is not an e-mail address"):
        normalize_email("not-an-email")


def test_phones_become_e164_and_unparsable_ones_are_ignored() -> None:
    assert normalize_phone("030 1234567", "DE") == normalize_phone("+49 30 1234567") == "+49301234567"
    assert normalize_phone("call me", "DE") is None
