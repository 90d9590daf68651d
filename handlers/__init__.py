"""Flowdesk's built-in handlers: CRM (``handlers.crm``) and ERP (``handlers.erp``).

They plug in like any third-party package: the ``flowdesk.handlers`` entry points import
``handlers.crm`` and ``handlers.erp`` (whose ``@builtin`` handlers register in the engine's registry),
and the ``flowdesk.migrations`` entry point names their own Alembic chain (``handlers/migrations``,
version table ``alembic_version_handlers``). The engine never imports this package.
"""
