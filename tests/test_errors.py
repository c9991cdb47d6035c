"""Errors: HTML pages for people, JSON problems for API clients, never a bare 500."""

from __future__ import annotations

from tests.factories import UserFactory


def test_unknown_page_is_an_html_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not Found" in response.get_data(as_text=True)


def test_unknown_api_path_is_a_json_problem(client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": response.json["detail"],
    }  # fmt: skip


def test_wrong_method_keeps_the_allow_header(client) -> None:
    api = client.post("/api/v1/me")
    assert api.status_code == 405
    assert "GET" in api.headers["Allow"]
    page = client.delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_health_and_openapi_document(client) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    spec = client.get("/api/openapi.json").json
    assert "/api/v1/me" in spec["paths"]
    assert "/api/v1/ledger/trial-balance" in spec["paths"]


def test_ids_beyond_64_bits_are_404_not_500(client, auth, app) -> None:
    with app.app_context():
        email = UserFactory().email
    auth.login(email)
    for path in ("/challenges/99999999999999999999", "/payments/99999999999999999999/done"):
        assert client.get(path).status_code == 404


def test_a_nul_character_in_a_form_is_a_clear_400(client) -> None:
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert client.get("/challenges", query_string={"q": "a\x00b"}).status_code == 400
