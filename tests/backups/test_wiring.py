"""wrangler.jsonc declares the backup Workflows the way the platform needs them, and the
local host builds a binding for each from the same entries."""

import pytest

from devhost.config import ConfigError, load_config
from devhost.runtime_shim import import_entry
from tests.conftest import ROOT
from tests.test_config import _copy_project


def test_wrangler_declares_the_backup_workflows_and_entry_exports_their_classes():
    import bindings

    config = load_config(ROOT)
    assert "python_workflows" in config.compatibility_flags
    assert {(w.binding, w.class_name) for w in config.workflows} == {
        ("EXPORT_WORKFLOW", "TenantExportWorkflow"), ("RESTORE_WORKFLOW", "TenantRestoreWorkflow"),
        ("INSIGHTS_WORKFLOW", "TenantInsightsWorkflow")}
    assert set(bindings.WORKFLOWS) == {w.binding for w in config.workflows}
    entry = import_entry(ROOT)
    for w in config.workflows:
        assert issubclass(getattr(entry, w.class_name), entry.WorkflowEntrypoint)
    assert config.vars["EXPORT_RETENTION_DAYS"] == "30"


async def test_the_local_host_builds_one_workflow_binding_per_entry(host):
    assert set(host.workflows) == {"EXPORT_WORKFLOW", "RESTORE_WORKFLOW", "INSIGHTS_WORKFLOW"}
    assert host.env.EXPORT_WORKFLOW is host.workflows["EXPORT_WORKFLOW"]
    assert str(host.workflows["EXPORT_WORKFLOW"].path).startswith(str(host.state_root))


def test_a_workflow_entry_naming_a_missing_class_or_bad_limit_is_refused(tmp_path):
    from devhost.host import LocalHost

    proj = _copy_project(tmp_path)
    text = (proj / "wrangler.jsonc").read_text()
    (proj / "wrangler.jsonc").write_text(text.replace('"class_name": "TenantRestoreWorkflow"', '"class_name": "Nope"'))
    with pytest.raises(ConfigError, match="RESTORE_WORKFLOW: class Nope"):
        LocalHost(proj, state_root=tmp_path / "s", dev_vars={})
    (proj / "wrangler.jsonc").write_text(text.replace('"class_name": "TenantRestoreWorkflow"',
                                                      '"class_name": "TenantRestoreWorkflow", "limits": {"steps": 0}'))
    with pytest.raises(ConfigError, match="limits.steps"):
        load_config(proj)
