"""The admin pages for revocation and for rotations that reach this node by themselves
(gateway/web/ui/admin.py; docs/contract.md "Key rotation and revocation"), on real nodes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from support.pages_world import Browser
from support.site import PEER, A, Site, make_site

from gateway.domain.areas import bundles, local_areas
from gateway.domain.clock import utcnow
from keys import fingerprint


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


@pytest.fixture
def admin(site: Site) -> Browser:
    return Browser(site, site.add_user("admin", A, "admin"))


def summary(page: Any) -> str:
    found = re.search(r'<div class="govuk-error-summary.*?</ul>', page.text, re.S)
    assert found, page.text
    return found[0]


def actions(site: Site) -> list[str]:
    with site.north.node.engine.connect() as connection:
        return list(connection.exec_driver_sql("SELECT action FROM audit_events").scalars())


def north_fetches(site: Site) -> str:
    with site.north.node.sessions() as session:
        return bundles.fetch(session, site.north.node.client, PEER, utcnow()).outcome


def test_an_admin_revokes_the_area_s_key_after_confirming(site: Site, admin: Browser) -> None:
    old = fingerprint(site.north.bundle(A)["body"])
    assert admin.get("/admin/area/revoked").status_code == 404  # nothing revoked yet
    asked = admin.get("/admin/area/revoke")
    assert asked.status_code == 200 and "compromised" in asked.text
    unanswered = admin.post("/admin/area/revoke")
    assert unanswered.status_code == 400 and "<title>Error: Revoke" in unanswered.text
    assert "Select whether to revoke the key" in summary(unanswered)
    kept = admin.post("/admin/area/revoke", {"confirm": "no"})
    assert kept.headers["Location"] == "/admin/area"
    assert fingerprint(site.north.bundle(A)["body"]) == old

    done = admin.post("/admin/area/revoke", {"confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"] == "/admin/area/revoked"
    shown = admin.follow(done)
    published = site.north.bundle(A)["body"]
    new = fingerprint(published)
    assert new != old and "Key revoked" in shown.text and "Phone every other area" in shown.text
    assert all(f"<code>{group}</code>" in shown.text for group in new.split())
    assert len(published["revocations"]) == 1 and "rotations" not in published
    assert "keys.revoked" in actions(site)


def test_the_peers_page_shows_rotations_and_bundles_waiting(site: Site, admin: Browser) -> None:
    south = site.south
    with south.node.sessions() as session:
        local_areas.rotate_keys(
            session, south.node.master, PEER, grace=timedelta(days=30), now=utcnow()
        )
    assert north_fetches(site) == "rotated"
    page = admin.get("/admin/peers")
    rotated = fingerprint(south.bundle(PEER)["body"])
    assert "without a phone call" in page.text
    assert all(f"<code>{group}</code>" in page.text for group in rotated.split())

    with south.node.sessions() as session:
        key_id = local_areas.current_key_id(session, PEER, utcnow())
        local_areas.revoke_key(session, south.node.master, PEER, key_id, now=utcnow())
    assert north_fetches(site) == "waiting"
    page = admin.get("/admin/peers")
    waiting = fingerprint(south.bundle(PEER)["body"])
    assert "waiting for the fingerprint" in page.text and "by the area itself" in page.text
    assert f'id="pending-{PEER}"' in page.text and waiting.split()[0] in page.text

    taken = admin.get(f"/admin/peers/{PEER}/pending")
    assert taken.status_code == 303 and taken.headers["Location"] == "/admin/peers/confirm"
    wrong = admin.post("/admin/peers/confirm", {"fingerprint": rotated})
    assert wrong.status_code == 403 and "does not match" in summary(wrong)
    done = admin.post("/admin/peers/confirm", {"fingerprint": waiting})
    assert done.status_code == 303
    assert "waiting for the fingerprint" not in admin.follow(done).text
    assert admin.get(f"/admin/peers/{PEER}/pending").status_code == 404
    assert {"peer.keys_rotated", "peer.bundle_waiting", "peer.key_revoked"} <= set(actions(site))


def test_an_admin_revokes_a_peer_s_key_after_confirming(site: Site, admin: Browser) -> None:
    key_id = site.north.scalar("SELECT key_id FROM peer_keys WHERE peer_code = :p", p=PEER)
    path = f"/admin/peers/{PEER}/keys/{key_id}/revoke"
    assert path in admin.get("/admin/peers").text
    asked = admin.get(path)
    assert asked.status_code == 200 and key_id in asked.text
    unanswered = admin.post(path)
    assert unanswered.status_code == 400 and "Select whether to revoke the key" in summary(
        unanswered
    )
    assert admin.post(path, {"confirm": "no"}).headers["Location"] == "/admin/peers"
    assert site.north.scalar("SELECT revoked_at FROM peer_keys WHERE key_id = :k", k=key_id) is None
    done = admin.post(path, {"confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/peers?revoked={key_id}"
    page = admin.follow(done)
    assert "has been revoked" in page.text and "by an admin here" in page.text
    assert path not in page.text  # nothing left to revoke
    again = admin.post(path, {"confirm": "yes"})
    assert again.status_code == 409 and "already revoked" in summary(again)
    assert admin.get(f"/admin/peers/{PEER}/keys/not-a-key/revoke").status_code == 404
    assert "peer.key_revoked" in actions(site)
