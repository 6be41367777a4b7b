"""Container runtimes (containerd, docker, containers-storage for cri-o), pure.

`parsers`: what a runtime prints about its images → `NodeImage`s; `commands`: the argv a runtime runs
to pull, tag, export, import and remove an image. Imports only the plain values (`refs`, `digests`,
`kubespray`); runs nothing itself.
"""
