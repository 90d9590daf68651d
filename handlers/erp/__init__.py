"""ERP handlers: stock reservations, invoices with gapless numbers, credit checks.

Importing this package registers ``erp.reserve_stock``, ``erp.release_stock``,
``erp.fulfil_reservation``, ``erp.check_credit``, ``erp.create_invoice``, ``erp.post_invoice`` and
``erp.issue_credit_note``.
"""

from handlers.erp import credit, invoicing, stock

__all__ = ["credit", "invoicing", "stock"]
