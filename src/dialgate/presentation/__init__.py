"""Words for customers, shared by the portal and the notification emails: the Babel catalogs
(``i18n``), stored values in the reader's words (``words``) and the emails (``emails``).

It sits beside the services: it reads the domain and adapters' data (settings registry,
catalogs, country names) and never a database, so services can render an email in the
transaction that caused it and the portal can render a page with the same words.
"""
