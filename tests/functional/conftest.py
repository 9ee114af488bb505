# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures: one Atlas emulator per test session, and real ansible-playbook runs against it (tests/harness.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import COLLECTIONS_PATH, Playbooks  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def emulator_process():
    spec = find_spec()
    # Atlas's rate and token limits, raised so far that they never slow the suite (the limits' own tests lower them).
    with EmulatorProcess(spec=spec if spec else False, job_seconds=2.0, relaxed_limits=True) as process:
        yield process


@pytest.fixture
def emulator(emulator_process):
    """The emulator, reset, failing the test on any contract violation it saw."""
    admin = emulator_process.admin
    admin.reset()
    admin.configure(job_seconds=2.0)
    yield admin
    violations = admin.violations()
    assert violations == [], f"the emulator saw contract violations: {json.dumps(violations, indent=1)[:4000]}"


@pytest.fixture(scope="session")
def spec_path():
    spec = find_spec()
    if spec is None:
        pytest.skip("official OpenAPI subset not found: set ATLAS_OPENAPI_SPEC or place ../shared/atlas-openapi beside the repo")
    return spec


@pytest.fixture(scope="session")
def collections():
    return COLLECTIONS_PATH


@pytest.fixture
def ansible(emulator_process, collections, tmp_path):
    return Playbooks(emulator_process.url, tmp_path, collections)
