"""One command per check, as a hand-written testinfra suite would do it."""


def test_file(node, naive_file):
    f = node.file(naive_file["dest"])
    assert f.exists
    assert "sha256:" + f.sha256sum == naive_file["checksum"]
    if naive_file["mode"]:
        assert oct(f.mode)[2:].zfill(4) == naive_file["mode"]


def test_image(node, naive_image, runtime):
    ref = f"{naive_image['repo']}:{naive_image['tag']}"
    if runtime == "containerd":
        out = node.check_output("ctr -n k8s.io images ls -q")
        assert ref in out.split()
    elif runtime == "docker":
        node.check_output(f"docker image inspect {ref}")
    else:
        node.check_output(f"podman image exists {ref}")
