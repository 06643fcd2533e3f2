"""The built-in demo: a simulated AWS Organization in moto, audited through the live code path."""

from awscompliance.demo.organization import DemoNotRunningError, start_demo

__all__ = ["DemoNotRunningError", "start_demo"]
