"""Email through the SMTP server configured on the email channel (not Django's settings), so an
admin sets it up in the UI: host, port, TLS/SSL, user, the encrypted password, timeout."""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from ibcloud.notify.channels.base import Message, Result, Transport, register

DEFAULT_TIMEOUT = 15


def _int(config: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = config.get(key, default)
    try:
        value = int(raw if raw not in (None, "") else default)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError({key: _("Enter a whole number.")}) from exc
    if not low <= value <= high:
        raise ValidationError(
            {key: _("Enter a number from %(l)s to %(h)s.") % {"l": low, "h": high}}
        )
    return value


def _bool(config: dict[str, Any], key: str) -> bool:
    value = config.get(key, False)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def backend_for(channel, timeout: int | None = None) -> EmailBackend:
    config = channel.config
    return EmailBackend(
        host=config.get("host", ""),
        port=int(config.get("port") or 25),
        username=config.get("username", ""),
        password=channel.secret or "",
        use_tls=bool(config.get("use_tls")),
        use_ssl=bool(config.get("use_ssl")),
        timeout=timeout or int(config.get("timeout") or DEFAULT_TIMEOUT),
        fail_silently=False,
    )


@register
class EmailTransport(Transport):
    kind = "email"

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        host = str(config.get("host") or "").strip()
        if not host:
            raise ValidationError({"host": _("Enter the SMTP server.")})
        use_tls, use_ssl = _bool(config, "use_tls"), _bool(config, "use_ssl")
        if use_tls and use_ssl:
            raise ValidationError({"use_ssl": _("Choose STARTTLS or SSL, not both.")})
        from_email = str(config.get("from_email") or "").strip()
        if from_email:
            try:
                validate_email(from_email)
            except ValidationError as exc:
                raise ValidationError({"from_email": exc.messages}) from exc
        return {
            "host": host,
            "port": _int(config, "port", 465 if use_ssl else 25, 1, 65535),
            "username": str(config.get("username") or "").strip(),
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "from_email": from_email,
            "timeout": _int(config, "timeout", DEFAULT_TIMEOUT, 1, 300),
        }

    def send(self, delivery, message: Message) -> Result:
        channel = delivery.channel
        if not channel.config.get("host"):
            return Result.failed(_("The email channel has no SMTP server."), True)
        if not delivery.target:
            return Result.failed(_("The recipient has no email address."), True)
        body = message.body
        if message.url:
            body = f"{body}\n\n{message.url}" if body else message.url
        email = EmailMessage(
            subject=message.title,
            body=body,
            from_email=channel.config.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[delivery.target],
            connection=backend_for(channel),
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPAuthenticationError as exc:
            return Result.failed(_("SMTP login refused: %(e)s") % {"e": _smtp_text(exc)}, True)
        except smtplib.SMTPNotSupportedError:
            return Result.failed(_("The SMTP server does not support this (TLS or login)."), True)
        except smtplib.SMTPRecipientsRefused:
            return Result.failed(_("The SMTP server refused the recipient."), True)
        except smtplib.SMTPResponseException as exc:
            # 4xx replies are temporary by definition (RFC 5321); 5xx are final.
            return Result.failed(
                _("SMTP error %(code)s: %(e)s") % {"code": exc.smtp_code, "e": _smtp_text(exc)},
                exc.smtp_code >= 500,
                exc.smtp_code,
            )
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return Result.failed(
                _("Cannot reach the SMTP server: %(e)s") % {"e": exc.__class__.__name__}, False
            )
        return Result.sent(excerpt=_("Accepted by the SMTP server."))


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return text[:200]
