"""The dashboard in the API app: a browser signs in once with a read key (cookie); the JSON API ignores the cookie."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from patron.api.deps import DASHBOARD_COOKIE


def test_pages_redirect_to_the_login_form_without_a_key(client) -> None:
    client.cookies.clear()
    response = client.get("/dashboard/segments?x=1", follow_redirects=False)
    assert response.status_code == 303
    location = urlparse(response.headers["location"])
    assert location.path == "/dashboard/login"
    assert parse_qs(location.query)["next"] == ["/dashboard/segments?x=1"]
    form = client.get("/dashboard/login")
    assert form.status_code == 200 and 'name="key"' in form.text


def test_a_read_key_signs_in_and_the_pages_render(client, seeded) -> None:
    client.cookies.clear()
    response = client.post(
        "/dashboard/login", data={"key": seeded.read, "next": "/dashboard/runs"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/runs"
    cookie = response.headers["set-cookie"]
    assert DASHBOARD_COOKIE in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = client.get("/dashboard/runs")
    assert page.status_code == 200 and "<html" in page.text.lower()
    client.cookies.clear()


def test_bad_keys_and_keys_without_read_are_refused(client, seeded) -> None:
    client.cookies.clear()
    assert client.post("/dashboard/login", data={"key": "patron_nope_nope"}).status_code == 401
    assert client.post("/dashboard/login", data={"key": seeded.revoked}).status_code == 401
    refused = client.post("/dashboard/login", data={"key": seeded.score})  # a score-only key
    assert refused.status_code == 403 and "read scope" in refused.text
    assert (
        client.get(
            "/dashboard/", cookies={DASHBOARD_COOKIE: seeded.revoked}, follow_redirects=False
        ).status_code
        == 303
    )
    client.cookies.clear()


def test_login_never_redirects_off_the_dashboard(client, seeded) -> None:
    client.cookies.clear()
    for target in ("https://evil.example/", "//evil.example/", "/runs"):
        response = client.post(
            "/dashboard/login", data={"key": seeded.read, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/dashboard/"
    client.cookies.clear()


def test_the_json_api_does_not_accept_the_dashboard_cookie(client, seeded) -> None:
    client.cookies.clear()
    client.cookies.set(DASHBOARD_COOKIE, seeded.admin)
    response = client.get("/runs")
    assert response.status_code == 401
    client.cookies.clear()
