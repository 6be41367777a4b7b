"""kubespray-verify: know before a Kubespray deploy whether every node has what it needs."""

__version__ = "0.1.0"
