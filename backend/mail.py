"""The app's outgoing email (the links that prove an address).

With SMTP_HOST set the mail goes through that server (aiosmtplib, STARTTLS unless turned off).
Without it, development writes the whole mail, link included, to the log (the local outbox:
a developer signs up and opens the link from the terminal); production does not send it and
logs an error without the link, so nothing is accepted silently either way.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from backend.settings import Settings

log = logging.getLogger(__name__)


class MailNotSent(Exception):
    """The mail could not be handed to the SMTP server (or there is none in production)."""


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        settings = self._settings
        if not settings.smtp_host:
            if settings.environment == "production":
                log.error("Mail to a user not sent: SMTP_HOST is not set (subject %r)", subject)
                raise MailNotSent("SMTP_HOST is not set")
            log.warning("Development outbox (SMTP_HOST is not set): mail to %s\n%s\n\n%s", to, subject, body)
            return
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                start_tls=settings.smtp_starttls,
                timeout=15,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error(
                "Mail not sent through %s:%s: %s", settings.smtp_host, settings.smtp_port, type(exc).__name__
            )
            raise MailNotSent(str(exc)) from exc
