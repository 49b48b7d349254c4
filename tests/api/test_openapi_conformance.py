"""The API keeps the promises of its OpenAPI document under generated traffic
(schemathesis, positive and negative cases, as a learner, an instructor and the admin):
no 5xx, every status documented, every body of its declared type and schema, invalid
data refused, valid data accepted. A fixed seed keeps the run the same every time."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.helpers import seed_learner
from tests.conftest import DEV_VARS, INSTRUCTOR, TENANT_A, token

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = """
[checks.positive_data_acceptance]
# A schema-valid request may still be refused for what the server holds: a stale
# If-Match (412), nothing measured yet or no launch known for the course (409).
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]

# Imports whose rules span the whole document (a concept's prerequisites must exist and
# form no cycle; a course may not attach concepts of other courses; params.json must name
# the tenant's concepts) refuse well-shaped but inconsistent data with 422 naming the ids;
# struggle-rule overrides must keep their tiers in order (idle_tier1_s < idle_tier2_s ...).
[[operations]]
include-path-regex = "knowledge-graph$|learner-model$|struggle-rules$|question-bank/import$"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]

[checks.negative_data_rejection]
# Invalid data is rejected; a body over the 64 KiB request cap (an import with more items
# than allowed can be that large) is rejected before it is read, with 413.
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

[checks.missing_required_header]
# A missing If-Match is 428 Precondition Required (RFC 6585), whatever else was sent.
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
"""


def run_schemathesis(url: str, authorization: str, tmp_path: Path) -> subprocess.CompletedProcess:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    return subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config), "--no-color", "run", f"{url}/openapi.json",
         "-H", f"Authorization: {authorization}", "--checks", "all", "--max-examples", "5", "--seed", "20261122",
         "--generation-deterministic", "--workers", "1", "--request-timeout", "10"],
        capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("who", ["learner", "instructor", "admin"])
def test_the_api_conforms_to_its_openapi_document(http_host, who, tmp_path):
    import asyncio

    host = http_host.host
    asyncio.run(seed_learner(host, TENANT_A, "learner-1", extra_rows=True))  # the server is idle meanwhile
    authorization = {
        "learner": f"Bearer {token(host, user='learner-1')}",
        "instructor": f"Bearer {token(host, user='teacher-1', roles=[INSTRUCTOR])}",
        "admin": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}",
    }[who]
    out = run_schemathesis(http_host.url, authorization, tmp_path)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "No issues found" in out.stdout or " passed" in out.stdout, out.stdout[-3000:]
