"""The payload types of casework after a transfer (workflow issue, parts 6-8), as
`receiving.HANDLERS` takes them: withdrawal, forward permission, repeat incident."""

from __future__ import annotations

from gateway.domain import forward_permission, repeats, withdrawal
from gateway.domain.conversation import Handler
from schemas.forward_permission import PAYLOAD_TYPE as FORWARD_PERMISSION
from schemas.repeat_incident import PAYLOAD_TYPE as REPEAT_INCIDENT
from schemas.withdrawal import PAYLOAD_TYPE as WITHDRAWAL

HANDLERS: dict[str, Handler] = {
    WITHDRAWAL: withdrawal.HANDLER,
    FORWARD_PERMISSION: forward_permission.HANDLER,
    REPEAT_INCIDENT: repeats.HANDLER,
}
