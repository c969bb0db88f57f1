"""The one registry of what this node receives: each payload type of the contract (DESIGN
section 4) with the handler that validates it, finds the transfer it concerns and applies
it. A type not listed here is refused rather than stored unchecked."""

from __future__ import annotations

from gateway.domain.casework import (
    acknowledgements,
    documents,
    forward_permission,
    idva_referrals,
    information_requests,
    repeat_incidents,
    withdrawal,
)
from gateway.domain.federation.handlers import Handler
from gateway.domain.flags import notice
from gateway.domain.transfers import arrival
from schemas.wire import acknowledgement as acknowledgement_payload
from schemas.wire import document as document_payload
from schemas.wire import flags as flag_payloads
from schemas.wire import forward_permission as forward_permission_payload
from schemas.wire import idva_referral as idva_referral_payload
from schemas.wire import information_request as information_request_payload
from schemas.wire import repeat_incident as repeat_incident_payload
from schemas.wire import transfer_request as transfer_request_payload
from schemas.wire import withdrawal as withdrawal_payload

HANDLERS: dict[str, Handler] = {
    transfer_request_payload.PAYLOAD_TYPE: arrival.HANDLER,
    acknowledgement_payload.PAYLOAD_TYPE: acknowledgements.HANDLER,
    document_payload.PAYLOAD_TYPE: documents.HANDLER,
    information_request_payload.PAYLOAD_TYPE: information_requests.HANDLER,
    withdrawal_payload.PAYLOAD_TYPE: withdrawal.HANDLER,
    forward_permission_payload.PAYLOAD_TYPE: forward_permission.HANDLER,
    repeat_incident_payload.PAYLOAD_TYPE: repeat_incidents.HANDLER,
    flag_payloads.PAYLOAD_TYPE: notice.HANDLER,
    idva_referral_payload.PAYLOAD_TYPE: idva_referrals.HANDLER,
}
