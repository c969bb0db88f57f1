"""The application API over real domain services: sending, listing, opening content,
cross-area isolation, errors that name fields but never echo values."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from support.site import PEER, A, B, Site, make_site

from gateway.devtools.samples import sample_transfer

LIST = "/api/v1/transfers"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def test_coordinator_sends_and_the_peer_receives(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    payload = sample_transfer(A, PEER, victim="Apiqueued")
    del payload["from_area"]  # the caller's area is the sender
    answer = browser.post(LIST, json=payload, headers={"X-CSRF-Token": site.csrf(browser)})
    assert answer.status_code == 201, answer.text
    item = answer.json
    assert (item["direction"], item["status"], item["from_area"], item["to_area"]) == (
        "outbound",
        "queued",
        A,
        PEER,
    )
    assert answer.headers["Location"] == f"{LIST}/{item['id']}"
    assert site.north.deliver() == 1
    assert [t.status for t in site.south.transfers(PEER)] == ["received"]
    opened = browser.get(f"{LIST}/{item['id']}")
    assert opened.status_code == 200
    assert opened.json["content"]["victim"]["given_names"] == "Apiqueued"
    assert opened.json["transfer"]["status"] == "delivered"


def test_a_client_sends_only_from_its_own_area(site: Site) -> None:
    headers = site.bearer(A, "transfers:write")
    browser = site.app.test_client()
    refused = browser.post(LIST, json=sample_transfer(B, PEER), headers=headers)
    assert refused.status_code == 422
    assert "from_area" in refused.json["errors"]
    assert site.north.count("transfers") == 0
    assert browser.post(LIST, json=sample_transfer(A, PEER), headers=headers).status_code == 201


def test_invalid_transfer_names_fields_and_never_echoes_values(site: Site) -> None:
    headers = site.bearer(A, "transfers:write")
    payload = sample_transfer(A, PEER)
    payload["reason"] = "Zqxechocanary7781"
    payload["dash_score"] = 99
    answer = site.app.test_client().post(LIST, json=payload, headers=headers)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert {"reason", "dash_score"} <= set(answer.json["errors"])
    assert "Zqxechocanary7781" not in answer.text and "99" not in json.dumps(answer.json["errors"])
    for body, status in ((b"[1, 2]", 400), (b"{not json", 400)):
        bad = site.app.test_client().post(
            LIST, data=body, content_type="application/json", headers=headers
        )
        assert bad.status_code == status and bad.mimetype == "application/problem+json"


def test_areas_are_isolated_on_a_shared_node(site: Site) -> None:
    ids_a = {site.outbound(A), site.outbound(A), site.inbound(A)}
    id_b = site.outbound(B)
    coord_a = site.login(site.add_user("coord_a", A, "coordinator"))
    coord_b = site.login(site.add_user("coord_b", B, "coordinator"))

    listed_a = {item["id"] for item in coord_a.get(LIST).json["items"]}
    listed_b = {item["id"] for item in coord_b.get(LIST).json["items"]}
    assert listed_a == ids_a and listed_b == {id_b}
    # B cannot name A's area either: it answers as if A did not exist here.
    assert coord_b.get(LIST + "?area=" + A).status_code == 404
    # Another area's transfer is indistinguishable from one that does not exist.
    for transfer_id in ids_a:
        hidden = coord_b.get(f"{LIST}/{transfer_id}")
        missing = coord_b.get(f"{LIST}/00000000-0000-4000-8000-000000000000")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json == missing.json
    client_b = site.bearer(B, "transfers:read")
    for transfer_id in ids_a:
        assert (
            site.app.test_client().get(f"{LIST}/{transfer_id}", headers=client_b).status_code == 404
        )
    assert coord_a.get(f"{LIST}/{id_b}").status_code == 404


def test_a_user_in_two_areas_names_the_area(site: Site) -> None:
    site.outbound(A)
    site.outbound(B)
    person = site.add_user("both", A, "coordinator")
    from gateway.domain.clock import utcnow
    from gateway.domain.identity import users

    with site.north.node.sessions() as session:
        users.add_user_role(
            session,
            site.north.node.master,
            email=person.email,
            area=B,
            role="chair",
            password=None,
            now=utcnow(),
        )
    browser = site.login(person)
    unnamed = browser.get(LIST)
    assert unnamed.status_code == 422 and "area" in unnamed.json["errors"]
    assert [i["from_area"] for i in browser.get(LIST + "?area=" + B).json["items"]] == [B]
    assert [i["from_area"] for i in browser.get(LIST + "?area=" + A).json["items"]] == [A]


def test_auditors_see_metadata_but_never_content_and_admins_see_neither(site: Site) -> None:
    transfer_id = site.outbound(A)
    auditor = site.login(site.add_user("auditor", A, "auditor"))
    admin = site.login(site.add_user("admin", A, "admin"))
    items = auditor.get(LIST).json["items"]
    assert [i["id"] for i in items] == [transfer_id]
    assert "content" not in items[0] and "victim" not in json.dumps(items)
    assert auditor.get(f"{LIST}/{transfer_id}").status_code == 403
    assert admin.get(LIST).status_code == 403
    assert admin.get(f"{LIST}/{transfer_id}").status_code == 403


def test_inbound_content_opens_for_the_receiving_area(site: Site) -> None:
    transfer_id = site.inbound(A)
    chair = site.login(site.add_user("chair", A, "chair"))
    opened = chair.get(f"{LIST}/{transfer_id}")
    assert opened.status_code == 200
    assert opened.json["transfer"]["direction"] == "inbound"
    assert opened.json["content"]["from_area"] == PEER
    assert opened.json["content"]["victim"]["given_names"] == "Ada"


def test_filters_and_pagination(site: Site) -> None:
    outbound = [site.outbound(A) for _ in range(3)]
    inbound = site.inbound(A)
    headers = site.bearer(A, "transfers:read")
    browser = site.app.test_client()

    def get(query: str) -> Any:
        answer = browser.get(LIST + query, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json

    assert [i["id"] for i in get("?direction=inbound")["items"]] == [inbound]
    assert {i["id"] for i in get("?direction=outbound&status=queued")["items"]} == set(outbound)
    assert get("?status=failed")["items"] == []
    seen, query = [], "?limit=1"
    while True:
        page = get(query)
        assert len(page["items"]) <= 1
        seen += [i["id"] for i in page["items"]]
        if page["next"] is None:
            break
        query = "?limit=1&cursor=" + page["next"]
    assert len(seen) == 4 and set(seen) == {*outbound, inbound}
    item = get("?limit=1")["items"][0]
    assert {"id", "direction", "status", "from_area", "to_area", "created_at", "updated_at"} <= set(
        item
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?direction=sideways", "direction"),
        ("?status=Zqxstatus", "status"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=Zqxnotacursor", "cursor"),
        ("?area=NOT_AN_AREA", "area"),
        ("?colour=blue", "colour"),
    ],
)
def test_bad_queries_name_the_field(site: Site, query: str, field: str) -> None:
    answer = site.app.test_client().get(LIST + query, headers=site.bearer(A, "transfers:read"))
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == [field]
    assert "Zqx" not in answer.text and "sideways" not in answer.text


def test_malformed_transfer_ids_are_404(site: Site) -> None:
    headers = site.bearer(A, "transfers:read")
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-00000000000G", "A" * 36):
        assert site.app.test_client().get(f"{LIST}/{bad}", headers=headers).status_code == 404


def test_openapi_document_describes_the_api(site: Site) -> None:
    document = site.app.test_client().get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    assert {"/api/v1/transfers", "/api/v1/transfers/{transfer_id}", "/api/v1/oauth/token"} <= set(
        document["paths"]
    )
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["cookie"]["name"] == "__Host-gw-session"
    post = document["paths"]["/api/v1/transfers"]["post"]
    assert post["responses"]["422"]["content"]["application/problem+json"]
    assert "consent" in document["components"]["schemas"]["TransferRequest"]["properties"]


def test_every_api_route_is_documented(site: Site) -> None:
    """Each operation is declared next to its view; a route without one fails here."""
    document = site.app.test_client().get("/api/v1/openapi.json").json
    routes = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in site.app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
