"""The product's own records: what its applications (and a few scripts) post to the log.

Each builder makes one record at a moment, from the world's state, and moves that state on.
Their weights (`EVENTS`) make some event types very common (sign-ins, document views) and some
rare (a blocked privilege escalation): the frequencies a query benchmark needs to meet.
"""

from __future__ import annotations

from audittrail.demo import accounts, billing, documents, operations, workspace
from audittrail.demo.manual import Builder

# How often each happens, on weekdays and at weekends (deploys and settings wait for Monday).
EVENTS: tuple[tuple[Builder, float, float], ...] = (
    (accounts.login, 20.0, 12.0),
    (accounts.logout, 7.0, 4.0),
    (accounts.login_failed, 4.0, 3.0),
    (accounts.role_changed, 0.6, 0.1),
    (accounts.account_event, 2.5, 1.0),
    (billing.invoice, 14.0, 6.0),
    (billing.subscription_changed, 1.2, 0.3),
    (billing.payment_method_updated, 0.8, 0.3),
    (workspace.customer_event, 9.0, 2.0),
    (workspace.setting_changed, 2.5, 0.2),
    (workspace.feature_flag, 1.5, 0.1),
    (workspace.webhook, 1.0, 1.0),
    (documents.document_read, 17.0, 9.0),
    (documents.document_change, 4.5, 1.5),
    (documents.malware_found, 0.05, 0.05),
    (operations.deployment, 1.5, 0.1),
    (operations.report, 2.0, 2.0),
    (operations.data_export, 0.9, 0.3),
    (operations.security_alert, 0.25, 0.35),
)
