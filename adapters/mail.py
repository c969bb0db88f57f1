"""Sending email through an SMTP server (smtplib): the one way the gateway reaches people
outside it. It only ever sends the fixed, content-free texts of
`gateway.domain.schedule.notifications`.

Failures are classified so the worker knows whether to retry: a 5xx answer (the server
refuses the recipient or the message for good) is permanent; a refused connection, a
timeout or a 4xx is temporary.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

PERMANENT_FROM = 500


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    timeout: float = 15.0


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]  # one message to every address (an area's chairs, say)
    subject: str
    body: str


class MailError(Exception):
    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2])
        message.set_content(mail.body)
        return message

    def send(self, mail: Mail) -> None:
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.user:
                    smtp.login(s.user, s.password or "")
                smtp.send_message(self.message(mail))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= PERMANENT_FROM for code in codes)
            raise MailError(f"recipient refused ({codes})", permanent=permanent) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailError(
                f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= PERMANENT_FROM
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Connection refused, timeout, TLS failure, dropped connection: try again later.
            raise MailError(type(exc).__name__, permanent=False) from exc
