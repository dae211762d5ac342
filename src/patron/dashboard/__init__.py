"""The read-only web dashboard: server-rendered pages over the store, mounted in the API app.

``create_router(get_repo, guard=None)`` returns a FastAPI router with the pages (overview, segments with member
export, customers, runs with their diagnostics) and the bundled assets (plotly.js from the installed plotly
package, the report's stylesheet), so it works without internet. Pages call :mod:`patron.dashboard.queries` and
the services; the view models come from :mod:`patron.dashboard.pages`.
"""

from patron.dashboard.routes import create_router

__all__ = ["create_router"]
