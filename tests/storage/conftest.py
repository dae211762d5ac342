"""The storage tests run against both backends: the ``repo`` fixture is DuckDB and PostgreSQL in turn."""

from __future__ import annotations

import pytest

from patron.storage import open_repository
from tests.storage.stores import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def url(backend, tmp_path):
    with store_url(backend, tmp_path) as u:
        yield u


@pytest.fixture
def repo(url):
    r = open_repository(url)
    yield r
    r.close()
