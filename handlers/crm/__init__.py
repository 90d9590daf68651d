"""CRM handlers: lead capture with duplicate detection, two-score qualification, customers.

Importing this package registers ``crm.capture_lead``, ``crm.qualify_lead``,
``crm.disqualify_lead``, ``crm.reopen_lead`` and ``crm.ensure_customer``.
"""

from handlers.crm import customers, leads

__all__ = ["customers", "leads"]
