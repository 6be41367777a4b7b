"""The local air-gapped Kubespray site: mirrors, registries and nodes in network namespaces."""
