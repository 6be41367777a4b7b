"""The local air-gapped Kubespray site: mirrors, registries and nodes in network namespaces.

The product's own test bed and demo. Uses the engine's rooms below it (plain values, `runtimes`,
`registry`, `resolve`); nothing of the engine imports the lab.

    from kubespray_verify.lab.api import Lab
    lab = Lab.up("kvlab")          # needs root
    ...
    lab.down()
"""
