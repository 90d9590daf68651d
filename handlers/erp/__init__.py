"""ERP handlers: stock reservations, invoices with gapless numbers, credit checks.

Importing this package registers ``erp.reserve_stock``, ``erp.release_stock``,
``erp.fulfil_reservation``, ``erp.check_credit``, ``erp.create_invoice``, ``erp.post_invoice``,
``erp.issue_credit_note``, ``erp.cancel_invoice``, ``erp.record_payment`` and ``erp.start_dunning``.
"""

from handlers.erp import credit, invoicing, payments, stock

__all__ = ["credit", "invoicing", "payments", "stock"]
