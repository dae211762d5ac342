"""The dashboard's routes: thin (route -> page view model -> template)."""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from patron import __version__
from patron.dashboard import pages
from patron.errors import NotFoundError
from patron.plots.report import plotly_js_path
from patron.storage.base import Repository

CACHE = {"Cache-Control": "public, max-age=86400"}  # the assets change only with the installed package
NAV = (("Overview", ""), ("Segments", "segments"), ("Customers", "customers"), ("Runs", "runs"))


def _environment() -> Environment:
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader("patron.dashboard", "templates"), PackageLoader("patron.report", "templates")]
        ),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_router(
    get_repo: Callable[..., Any], guard: Callable[..., Any] | None = None, *, prefix: str = "/dashboard"
) -> APIRouter:
    """The dashboard as a router to include in an app.

    Parameters
    ----------
    get_repo:
        A FastAPI dependency that yields (or returns) the :class:`~patron.storage.Repository` to read.
    guard:
        An optional FastAPI dependency run before every route (the API passes its API-key check).
    prefix:
        Where the pages live in the app.
    """
    router = APIRouter(
        prefix=prefix,
        tags=["dashboard"],
        dependencies=[Depends(guard)] if guard is not None else [],
        include_in_schema=False,
    )
    env = _environment()
    template = env.get_template("page.html.j2")
    repo_dep = Depends(get_repo)

    def render(request: Request, page: pages.Page, status: int = 200) -> HTMLResponse:
        root = str(request.url_for("dashboard_overview"))
        html = template.render(
            page=page,
            root=root,
            link_base=root,
            nav=NAV,
            static=root + "static/",
            version=__version__,
        )
        return HTMLResponse(html, status_code=status)

    def not_found(request: Request, exc: NotFoundError) -> HTMLResponse:
        from patron.report.sections import Section

        sec = Section("not-found", "Not found", missing=str(exc))
        return render(request, pages.Page("Not found", [sec]), status=404)

    @router.get("/", name="dashboard_overview", response_class=HTMLResponse)
    def overview(request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        return render(request, pages.overview(repo))

    @router.get("/segments", name="dashboard_segments", response_class=HTMLResponse)
    def segments(request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        return render(request, pages.segments(repo))

    @router.get("/segments/model/{label}", response_class=HTMLResponse)
    def model_segment(label: str, request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        try:
            return render(request, pages.model_segment(repo, label))
        except NotFoundError as exc:
            return not_found(request, exc)

    @router.get("/segments/model/{label}/members.csv")
    def model_segment_csv(label: str, request: Request, repo: Repository = repo_dep) -> Response:
        from patron.dashboard.queries import model_segment_members

        try:
            members, _ = model_segment_members(repo, label)
        except NotFoundError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return _csv(members, f"segment-{label}-members.csv")

    @router.get("/segments/defined/{name}", response_class=HTMLResponse)
    def defined_segment(name: str, request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        try:
            return render(request, pages.defined_segment(repo, name))
        except NotFoundError as exc:
            return not_found(request, exc)

    @router.get("/segments/defined/{name}/members.csv")
    def defined_segment_csv(name: str, repo: Repository = repo_dep) -> Response:
        from patron.dashboard.queries import defined_segment_members

        try:
            members = defined_segment_members(repo, name)
        except NotFoundError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return _csv(members, f"segment-{name}-members.csv")

    @router.get("/customers", name="dashboard_customers", response_class=HTMLResponse)
    def customers(request: Request, q: str = "", repo: Repository = repo_dep) -> HTMLResponse:
        return render(request, pages.customer_search(repo, q.strip()))

    @router.get("/customers/{customer_id}", response_class=HTMLResponse)
    def customer(customer_id: str, request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        try:
            return render(request, pages.customer(repo, customer_id))
        except NotFoundError as exc:
            return not_found(request, exc)

    @router.get("/runs", name="dashboard_runs", response_class=HTMLResponse)
    def runs(request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        return render(request, pages.runs(repo))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(run_id: str, request: Request, repo: Repository = repo_dep) -> HTMLResponse:
        try:
            return render(request, pages.run(repo, run_id))
        except NotFoundError as exc:
            return not_found(request, exc)

    @router.get("/static/{name}", name="dashboard_static")
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return FileResponse(plotly_js_path(), media_type="application/javascript", headers=CACHE)
        if name == "style.css":
            css = (resources.files("patron.report") / "templates" / "style.css").read_text(encoding="utf-8")
            return Response(css, media_type="text/css", headers=CACHE)
        return PlainTextResponse("not found", status_code=404)

    return router


def _csv(frame: Any, filename: str) -> Response:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in filename)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )
