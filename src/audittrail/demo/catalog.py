"""The demo's applications and their param definitions: every param type, some sensitive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audittrail.applications.service import ParamType
from audittrail.db.models import Application, ParamDefinition
from audittrail.ids import new_id

CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "JPY")
ROLES = ("viewer", "member", "editor", "billing_admin", "admin", "owner")
PAYMENT_METHODS = ("card", "sepa_debit", "bank_transfer", "paypal")
SIGN_IN_METHODS = ("password", "sso", "passkey", "magic_link")
PLANS = ("free", "starter", "pro", "business", "enterprise")
ENVIRONMENTS = ("development", "staging", "production")


@dataclass(frozen=True)
class ParamSpec:
    key: str
    type: ParamType
    label: str
    description: str | None = None
    required: bool = False
    sensitive: bool = False
    enum_values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ApplicationSpec:
    key: str
    name: str
    description: str
    accent_color: str
    allow_unknown_params: bool
    params: tuple[ParamSpec, ...]


STRING, INTEGER, NUMBER, BOOLEAN, DATETIME, ENUM, JSON = ParamType  # in this order

BILLING = ApplicationSpec(
    "billing",
    "Billing",
    "Invoices, payments and subscriptions.",
    "#2563eb",
    True,
    (
        ParamSpec("amount", NUMBER, "Amount", "Gross amount in the invoice's currency."),
        ParamSpec("currency", ENUM, "Currency", enum_values=CURRENCIES),
        ParamSpec("invoice_number", STRING, "Invoice number"),
        ParamSpec("customer", STRING, "Customer", "The customer's company name."),
        ParamSpec("line_items", INTEGER, "Line items"),
        ParamSpec("due_date", DATETIME, "Due date"),
        ParamSpec("auto_charge", BOOLEAN, "Charged automatically"),
        ParamSpec("tax", JSON, "Tax", "Rate and country the tax was computed for."),
        ParamSpec("payment_method", ENUM, "Payment method", enum_values=PAYMENT_METHODS),
        ParamSpec("card_last4", STRING, "Card (last 4 digits)", sensitive=True),
    ),
)

ACCOUNTS = ApplicationSpec(
    "accounts",
    "Accounts & Access",
    "Sign-ins, roles and sessions of the product's users.",
    "#16a34a",
    False,
    (
        ParamSpec("email", STRING, "Email", "The account acted on.", required=True),
        ParamSpec("role", ENUM, "Role", enum_values=ROLES),
        ParamSpec("previous_role", ENUM, "Previous role", enum_values=ROLES),
        ParamSpec("method", ENUM, "Method", enum_values=SIGN_IN_METHODS),
        ParamSpec("mfa", BOOLEAN, "MFA used"),
        ParamSpec("failed_attempts", INTEGER, "Failed attempts", "In the last 15 minutes."),
        ParamSpec(
            "reason",
            ENUM,
            "Reason",
            enum_values=("wrong_password", "unknown_user", "mfa_failed", "locked", "expired"),
        ),
        ParamSpec("session_started_at", DATETIME, "Session started"),
        ParamSpec("device", JSON, "Device"),
        ParamSpec("country", STRING, "Country", "ISO 3166 code, from the address."),
        ParamSpec("recovery_phone", STRING, "Recovery phone", sensitive=True),
    ),
)

CRM = ApplicationSpec(
    "crm",
    "CRM",
    "Customers, plans and contacts.",
    "#db2777",
    True,
    (
        ParamSpec("customer_name", STRING, "Customer"),
        ParamSpec("plan", ENUM, "Plan", enum_values=PLANS),
        ParamSpec("previous_plan", ENUM, "Previous plan", enum_values=PLANS),
        ParamSpec("seats", INTEGER, "Seats"),
        ParamSpec("mrr", NUMBER, "Monthly recurring revenue", "In EUR."),
        ParamSpec("tags", JSON, "Tags"),
        ParamSpec("renewal_at", DATETIME, "Renewal"),
        ParamSpec("churn_risk", BOOLEAN, "Churn risk"),
        ParamSpec("contact_email", STRING, "Contact email"),
        ParamSpec("contact_phone", STRING, "Contact phone", sensitive=True),
    ),
)

ADMIN_CONSOLE = ApplicationSpec(
    "admin_console",
    "Admin Console",
    "Organization settings, feature flags, webhooks and integrations.",
    "#ea580c",
    True,
    (
        ParamSpec("setting", STRING, "Setting"),
        ParamSpec("old_value", JSON, "Old value"),
        ParamSpec("new_value", JSON, "New value"),
        ParamSpec("scope", ENUM, "Scope", enum_values=("organization", "workspace", "project")),
        ParamSpec("requires_restart", BOOLEAN, "Requires restart"),
        ParamSpec("effective_at", DATETIME, "Effective"),
        ParamSpec("webhook_url", STRING, "Webhook URL"),
        ParamSpec("retries", INTEGER, "Retries"),
        ParamSpec("error_rate", NUMBER, "Error rate", "Share of failed deliveries, 0 to 1."),
    ),
)

DOCUMENTS = ApplicationSpec(
    "documents",
    "Documents",
    "Files: uploads, downloads and sharing.",
    "#7c3aed",
    True,
    (
        ParamSpec("file_name", STRING, "File", required=True),
        ParamSpec("size_bytes", INTEGER, "Size (bytes)"),
        ParamSpec(
            "content_type",
            ENUM,
            "Type",
            enum_values=(
                "application/pdf",
                "image/png",
                "image/jpeg",
                "text/csv",
                "application/zip",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ),
        ParamSpec("shared_externally", BOOLEAN, "Shared externally"),
        ParamSpec("link_expires_at", DATETIME, "Link expires"),
        ParamSpec("recipients", JSON, "Recipients"),
        ParamSpec("checksum", STRING, "SHA-256"),
        ParamSpec("storage_gb", NUMBER, "Storage used (GB)"),
    ),
)

DEPLOYMENTS = ApplicationSpec(
    "deployments",
    "Deployments",
    "Releases of the product's services, from CI.",
    "#0891b2",
    True,
    (
        ParamSpec("service", STRING, "Service", required=True),
        ParamSpec("environment", ENUM, "Environment", required=True, enum_values=ENVIRONMENTS),
        ParamSpec("version", STRING, "Version"),
        ParamSpec("commit", STRING, "Commit"),
        ParamSpec("duration_seconds", NUMBER, "Duration (s)"),
        ParamSpec("success", BOOLEAN, "Succeeded"),
        ParamSpec("replicas", INTEGER, "Replicas"),
        ParamSpec("started_at", DATETIME, "Started"),
        ParamSpec("changes", JSON, "Changes"),
    ),
)

APPLICATIONS = (BILLING, ACCOUNTS, CRM, ADMIN_CONSOLE, DOCUMENTS, DEPLOYMENTS)


@dataclass(frozen=True)
class Registered:
    """An application as inserted, with its definitions and the keys search must skip."""

    application: Application
    definitions: tuple[ParamDefinition, ...]
    unsearchable: frozenset[str]


def register(spec: ApplicationSpec, created_at: datetime) -> Registered:
    """The application's rows, as the applications service would create them at created_at."""
    application = Application(
        id=new_id(),
        key=spec.key,
        name=spec.name,
        description=spec.description,
        accent_color=spec.accent_color,
        allow_unknown_params=spec.allow_unknown_params,
        created_at=created_at,
        updated_at=created_at,
    )
    definitions = tuple(
        ParamDefinition(
            application_id=application.id,
            key=param.key,
            label=param.label,
            type=param.type.value,
            required=param.required,
            description=param.description,
            sensitive=param.sensitive,
            enum_values=list(param.enum_values) if param.enum_values else None,
            created_at=created_at,
            updated_at=created_at,
        )
        for param in spec.params
    )
    unsearchable = frozenset(param.key for param in spec.params if param.sensitive)
    return Registered(application, definitions, unsearchable)
