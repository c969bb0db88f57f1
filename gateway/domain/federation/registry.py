"""The payload types of casework after a transfer (workflow issue, parts 6-8), as
`receiving.HANDLERS` takes them: withdrawal, forward permission, repeat incident."""

from __future__ import annotations

from gateway.domain.casework import forward_permission, repeat_incidents, withdrawal
from gateway.domain.federation.handlers import Handler
from schemas.wire.forward_permission import PAYLOAD_TYPE as FORWARD_PERMISSION
from schemas.wire.repeat_incident import PAYLOAD_TYPE as REPEAT_INCIDENT
from schemas.wire.withdrawal import PAYLOAD_TYPE as WITHDRAWAL

HANDLERS: dict[str, Handler] = {
    WITHDRAWAL: withdrawal.HANDLER,
    FORWARD_PERMISSION: forward_permission.HANDLER,
    REPEAT_INCIDENT: repeat_incidents.HANDLER,
}
