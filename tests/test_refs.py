"""Image reference parsing and normalisation, digest normalisation."""

import pytest

from kubespray_verify.refs import parse_reference, Reference
from kubespray_verify.digests import normalize_digest

HEX = "4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108"
D = f"sha256:{HEX}"


@pytest.mark.parametrize(
    "text, registry, repository, tag, digest",
    [
        ("pause:3.10", "docker.io", "library/pause", "3.10", None),
        ("pause", "docker.io", "library/pause", "latest", None),
        ("calico/node:v3.29.1", "docker.io", "calico/node", "v3.29.1", None),
        ("docker.io/pause:3.10", "docker.io", "library/pause", "3.10", None),
        ("index.docker.io/library/pause:3.10", "docker.io", "library/pause", "3.10", None),
        ("index.docker.io/calico/node:v3", "docker.io", "calico/node", "v3", None),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", None),
        ("registry.k8s.io/coredns/coredns:v1.11.3", "registry.k8s.io", "coredns/coredns", "v1.11.3", None),
        ("quay.io/cilium/cilium:v1.16.3", "quay.io", "cilium/cilium", "v1.16.3", None),
        ("localhost/pause:3.10", "localhost", "pause", "3.10", None),
        ("localhost:5000/pause", "localhost:5000", "pause", "latest", None),
        ("127.0.0.1:5000/kube-proxy:v1.31.4", "127.0.0.1:5000", "kube-proxy", "v1.31.4", None),
        ("mirror.lan:5000/pause", "mirror.lan:5000", "pause", "latest", None),
        ("Mirror.LAN:5000/pause:1", "mirror.lan:5000", "pause", "1", None),
        ("[::1]:5000/pause:1", "[::1]:5000", "pause", "1", None),
        (f"pause@{D}", "docker.io", "library/pause", None, D),
        (f"registry.k8s.io/pause:3.10@{D}", "registry.k8s.io", "pause", "3.10", D),
        (f"registry.k8s.io/pause@SHA256:{HEX.upper()}", "registry.k8s.io", "pause", None, D),
        ("host:5000/a/b/c:tag_1.2-x", "host:5000", "a/b/c", "tag_1.2-x", None),
        ("a__b/c-d--e.f:1", "docker.io", "a__b/c-d--e.f", "1", None),
        ("  pause:3.10\n", "docker.io", "library/pause", "3.10", None),
    ],
)
def test_parse_reference(text, registry, repository, tag, digest):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("pause:3.10", "docker.io/library/pause:3.10"),
        ("pause", "docker.io/library/pause:latest"),
        ("index.docker.io/pause:3.1", "docker.io/library/pause:3.1"),
        ("127.0.0.1:5000/pause", "127.0.0.1:5000/pause:latest"),
        (f"quay.io/a/b:1@{D}", f"quay.io/a/b:1@{D}"),
        (f"quay.io/a/b@{D}", f"quay.io/a/b@{D}"),
    ],
)
def test_normalized_form(text, normalized):
    ref = parse_reference(text)
    assert ref.normalized == normalized
    assert str(ref) == normalized
    assert parse_reference(normalized) == ref


@pytest.mark.parametrize(
    "a, b",
    [
        ("pause:3.10", "docker.io/library/pause:3.10"),
        ("pause:3.10", "index.docker.io/library/pause:3.10"),
        ("docker.io/pause:3.10", "index.docker.io/pause:3.10"),
        ("calico/node:v3", "docker.io/calico/node:v3"),
        ("pause", "pause:latest"),
        ("REGISTRY.example.com/pause:1", "registry.example.com/pause:1"),
        (f"pause@sha256:{HEX.upper()}", f"pause@{D}"),
    ],
)
def test_equal_after_normalisation(a, b):
    assert parse_reference(a) == parse_reference(b)
    assert hash(parse_reference(a)) == hash(parse_reference(b))


@pytest.mark.parametrize(
    "a, b",
    [
        ("pause:3.1", "pause:3.10"),
        ("registry.k8s.io/pause:3.10", "pause:3.10"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/library/pause:3.10"),
        ("localhost:5000/pause:3.10", "localhost/pause:3.10"),
        ("mirror:5000/pause:3.10", "mirror/pause:3.10"),
        ("pause:3.10", f"pause:3.10@{D}"),
        ("calico/node:v3", "node:v3"),
    ],
)
def test_different_references(a, b):
    assert parse_reference(a) != parse_reference(b)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Pause:3.10", "lowercase"),
        ("registry.k8s.io/Pause:3.10", "lowercase"),
        ("pause@", "sha256:<hex>"),
        (f"pause@{HEX}", "sha256:<hex>"),
        ("pause@sha256:abc", "64 hexadecimal"),
        (f"pause@sha512:{HEX}", "only sha256"),
        ("reg:5000/", "no repository"),
        (":3.10", "no repository"),
        ("a//b:1", "not a valid repository"),
        ("-pause:1", "not a valid repository"),
        ("pause:.bad", "not a valid tag"),
        ("pause:" + "x" * 129, "not a valid tag"),
        ("host:port:1/x", "not a valid host"),
        ("reg.io/" + "a" * 300, "longer than 255"),
    ],
)
def test_invalid_references_name_the_text(text, message):
    with pytest.raises(ValueError) as exc:
        parse_reference(text)
    assert message in str(exc.value)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    "fields, normalized",
    [
        (("index.docker.io", "pause", "3.10", None), "docker.io/library/pause:3.10"),
        (("docker.io", "calico/node", "v3", None), "docker.io/calico/node:v3"),
        (("quay.io", "a/b", None, f"sha256:{HEX.upper()}"), f"quay.io/a/b@{D}"),
        (("quay.io", "a/b", None, None), "quay.io/a/b"),
    ],
)
def test_constructor_normalises(fields, normalized):
    assert Reference(*fields).normalized == normalized


@pytest.mark.parametrize(
    "text, name, path",
    [
        ("pause:3.10", "docker.io/library/pause", "pause"),
        ("calico/node:v3", "docker.io/calico/node", "calico/node"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause", "pause"),
        ("mirror:5000/library/pause:3.10", "mirror:5000/library/pause", "library/pause"),
    ],
)
def test_name_and_path(text, name, path):
    ref = parse_reference(text)
    assert (ref.name, ref.path) == (name, path)


@pytest.mark.parametrize(
    "value, expected",
    [
        (HEX, D),
        (HEX.upper(), D),
        (f"sha256:{HEX}", D),
        (f"SHA256:{HEX.upper()}", D),
        (f"  sha256:{HEX}\n", D),
    ],
)
def test_normalize_digest(value, expected):
    assert normalize_digest(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "64 hexadecimal"),
        ("sha256:", "64 hexadecimal"),
        (HEX[:-1], "64 hexadecimal"),
        (HEX + "0", "64 hexadecimal"),
        ("g" * 64, "64 hexadecimal"),
        (f"sha512:{HEX}{HEX}", "only sha256"),
        (f"md5:{HEX}", "only sha256"),
        (f"sha256:{HEX}:x", "64 hexadecimal"),
        (None, "not a string"),
    ],
)
def test_normalize_digest_rejects(value, message):
    with pytest.raises(ValueError) as exc:
        normalize_digest(value)
    assert message in str(exc.value)
    assert repr(value) in str(exc.value)
