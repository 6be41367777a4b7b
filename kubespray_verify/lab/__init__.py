"""The local air-gapped Kubespray site: mirrors, registries and nodes in network namespaces.

    from kubespray_verify.lab import Lab
    lab = Lab.up("kvlab")          # needs root
    ...
    lab.down()
"""

from kubespray_verify.lab.api import DEFAULT_PREFIX, Lab, RegistryInfo, status
from kubespray_verify.lab.drift import KINDS as DRIFT_KINDS
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.cleanup import teardown

__all__ = ["DEFAULT_PREFIX", "DRIFT_KINDS", "Lab", "LabError", "RegistryInfo", "status", "teardown"]
