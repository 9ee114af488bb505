# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures and helpers for the tests of the Atlas emulator itself (tests/functional/test_emulator.py).

Import the fixtures into a test module (``from emulator_fixtures import emu, emu_process``): they start one
emulator per module, independent of the session-wide one in conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests" / "emulator") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "emulator"))

from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import (  # noqa: E402  pylint: disable=wrong-import-position
    DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, EmulatorProcess,
)

SKIP_NO_SPEC = "official OpenAPI subset not found: set ATLAS_OPENAPI_SPEC or place ../shared/atlas-openapi beside the repo"
V2023 = "application/vnd.atlas.2023-01-01+json"
V2024 = "application/vnd.atlas.2024-11-13+json"
EMU_JOB_SECONDS = 0.4


@pytest.fixture(scope="module")
def emu_process():
    """One emulator for the module (with contract validation when the spec is found)."""
    spec = find_spec()
    with EmulatorProcess(spec=spec if spec else False, job_seconds=EMU_JOB_SECONDS) as process:
        yield process


@pytest.fixture
def emu(emu_process):  # pylint: disable=redefined-outer-name
    """The admin client of the module's emulator, reset before the test."""
    emu_process.admin.reset()
    return emu_process.admin


@pytest.fixture
def need_spec():
    spec = find_spec()
    if spec is None:
        pytest.skip(SKIP_NO_SPEC)
    return spec


class AtlasClient:
    """A minimal Admin API client: one session, digest or bearer auth, exact media types."""

    def __init__(self, base_url, auth=None, token=None):
        self.base = base_url.rstrip("/") + "/api/atlas/v2"
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = "Bearer " + token
        else:
            self.session.auth = auth or HTTPDigestAuth(DEFAULT_PUBLIC_KEY, DEFAULT_PRIVATE_KEY)

    def request(self, method, path, body=None, version=V2023, params=None, headers=None, timeout=10.0):
        sent = {"Accept": version}
        if body is not None:
            sent["Content-Type"] = version
        sent.update(headers or {})
        return self.session.request(method, self.base + path, json=body, params=params, headers=sent, timeout=timeout)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)
