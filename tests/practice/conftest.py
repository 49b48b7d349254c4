"""The test platform rig of tests/lti (a DemoLMS on loopback, registered with the tool)."""

from tests.lti.conftest import lti, platform  # noqa: F401  (fixtures)
