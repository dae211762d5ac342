"""Signing the dashboard in: a form that takes an API key and keeps it in an HttpOnly cookie for the pages."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from patron.api.deps import DASHBOARD_COOKIE, DASHBOARD_LOGIN, Repo
from patron.services.keys import verify_key

router = APIRouter(tags=["dashboard"], include_in_schema=False)

_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Patron dashboard: sign in</title><link rel="icon" href="data:,">
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;color:#1f2933}}
input{{width:100%;padding:.5rem;margin:.5rem 0;font-size:1rem}}button{{padding:.5rem 1rem;font-size:1rem}}
.error{{color:#b42318}}</style></head>
<body><h1>Patron dashboard</h1>
<p>Sign in with an API key that has the <code>read</code> scope (<code>patron keys create --scope read</code>).</p>
{error}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<label for="key">API key</label><input id="key" name="key" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only paths inside the dashboard: never an open redirect to another site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/"


def _form(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return HTMLResponse(
        _FORM.format(error=message, action=DASHBOARD_LOGIN, next=escape(_safe_next(next_path), quote=True)),
        status_code=status,
    )


@router.get(DASHBOARD_LOGIN, response_class=HTMLResponse)
def login_form(next: str | None = None) -> HTMLResponse:
    return _form(next or "/dashboard/")


@router.post(DASHBOARD_LOGIN, response_class=HTMLResponse, response_model=None)
def login(
    repo: Repo, key: Annotated[str, Form(max_length=500)], next: Annotated[str, Form(max_length=2000)] = ""
) -> HTMLResponse | RedirectResponse:
    found = verify_key(repo, key.strip())
    if found is None:
        return _form(next, "That key is not valid (mistyped, or revoked).", status=401)
    if not found.allows("read"):
        return _form(next, f"That key lacks the read scope (it has: {', '.join(found.scopes)}).", status=403)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        DASHBOARD_COOKIE, key.strip(), httponly=True, samesite="strict", path="/dashboard", max_age=8 * 3600
    )
    return response


@router.get("/dashboard/logout", response_model=None)
def logout() -> RedirectResponse:
    response = RedirectResponse(DASHBOARD_LOGIN, status_code=303)
    response.delete_cookie(DASHBOARD_COOKIE, path="/dashboard")
    return response
