"""containerd's hosts.toml as containerd reads it: order, server fallback, capabilities, TLS, headers (pure)."""

import hashlib

import pytest

from kubespray_verify.mirrors import endpoints, hosts_toml
from kubespray_verify.http.policy import ProxySettings

PATH = "/etc/containerd/certs.d/docker.io/hosts.toml"

KUBESPRAY_DOCKER_IO = """\
server = "https://docker.io"

[host."https://mirror-a.site:5000"]
  capabilities = ["pull", "resolve"]
  skip_verify = false

[host."http://mirror-b.site:5000"]
  capabilities = ["pull"]
  skip_verify = true

[host."https://mirror-c.site/v2/docker.io"]
  capabilities = ["pull", "resolve"]
  override_path = true
  ca = ["/etc/containerd/certs.d/docker.io/ca.crt"]
  [host."https://mirror-c.site/v2/docker.io".header]
    authorization = "Basic a3ViZXNwcmF5OnNlY3JldA=="
"""


def parsed(text=KUBESPRAY_DOCKER_IO, registry="docker.io"):
    return hosts_toml.parse(text, PATH, registry)


def test_hosts_in_file_order_then_the_server():
    hosts = parsed()
    assert [(e.role, e.url) for e in hosts.endpoints] == [
        ("mirror", "https://mirror-a.site:5000"), ("mirror", "http://mirror-b.site:5000"),
        ("mirror", "https://mirror-c.site/v2/docker.io"), ("server", "https://docker.io")]


def test_only_resolve_hosts_turn_a_tag_into_a_digest():
    tried, skipped = hosts_toml.tag_resolution(parsed())
    assert [e.url for e in tried] == ["https://mirror-a.site:5000", "https://mirror-c.site/v2/docker.io",
                                      "https://docker.io"]
    assert [(e.url, "lack resolve" in why) for e, why in skipped] == [("http://mirror-b.site:5000", True)]


@pytest.mark.parametrize("url, override, api", [
    ("https://mirror-a.site:5000", False, "https://mirror-a.site:5000/v2"),
    ("https://mirror-c.site/v2/docker.io", True, "https://mirror-c.site/v2/docker.io"),
    ("https://mirror-d.site/prefix/", False, "https://mirror-d.site/prefix/v2"),
])
def test_api_root(url, override, api):
    assert hosts_toml.Endpoint(url.rstrip("/"), "mirror", override_path=override).api == api


@pytest.mark.parametrize("text, registry, server", [
    ('[host."https://m.site"]\n', "docker.io", "https://registry-1.docker.io"),
    ('[host."https://m.site"]\n', "quay.io", "https://quay.io"),
    ('server = "http://10.0.0.2:5000"\n', "10.0.0.2:5000", "http://10.0.0.2:5000"),
    ('server = "registry.site"\n', "registry.site", "https://registry.site"),
])
def test_server_explicit_or_containerds_default(text, registry, server):
    hosts = hosts_toml.parse(text, PATH, registry)
    assert (hosts.server.url, hosts.server.implicit) == (server, "server =" not in text)


def test_top_level_keys_configure_the_server():
    hosts = hosts_toml.parse('server = "https://r.site"\ncapabilities = ["pull"]\nskip_verify = true\n', PATH, "r.site")
    assert (hosts.server.capabilities, hosts.server.skip_verify) == (("pull",), True)
    assert hosts_toml.tag_resolution(hosts)[0] == []


@pytest.mark.parametrize("files, registry, source", [
    ({"docker.io": (PATH, KUBESPRAY_DOCKER_IO)}, "docker.io", PATH),
    ({"_default": ("/c/_default/hosts.toml", 'server = "https://fallback.site"\n')}, "quay.io", "/c/_default/hosts.toml"),
    ({"docker.io": (PATH, KUBESPRAY_DOCKER_IO)}, "quay.io", "no hosts.toml for quay.io: containerd's default"),
])
def test_the_registry_dir_then_default_then_containerds_default(files, registry, source):
    assert hosts_toml.for_registry(files, registry).source() == source


def test_headers_are_kept_as_a_place_in_the_file_never_the_value():
    secret = "Basic a3ViZXNwcmF5OnNlY3JldA=="
    mirror_c = parsed().endpoints[2]
    (ref,) = mirror_c.headers
    assert (ref.name, ref.line, ref.sha256) == ("authorization", 16, hashlib.sha256(secret.encode()).hexdigest())
    assert secret not in repr(parsed())


@pytest.mark.parametrize("registry, mirrors, server, flagged", [
    ("docker.io", True, None, True),  # implicit server: registry-1.docker.io
    ("docker.io", True, "https://registry-1.docker.io", True),
    ("registry.k8s.io", True, "https://registry.k8s.io", True),
    ("europe-docker.pkg.dev", True, "https://europe-docker.pkg.dev", True),
    ("docker.io", False, None, False),  # no mirror: the public registry is the plan, not a fallback
    ("10.0.0.2:5000", True, "http://10.0.0.2:5000", False),
    ("docker.io", True, "https://harbor.site", False),
])
def test_a_public_server_behind_mirrors_is_flagged(registry, mirrors, server, flagged):
    text = (f'server = "{server}"\n' if server else "") + ('[host."https://mirror.site"]\n' if mirrors else "")
    assert (hosts_toml.public_fallback(hosts_toml.parse(text, PATH, registry)) is not None) is flagged


@pytest.mark.parametrize("url, registry, ns", [
    ("https://mirror.site", "docker.io", "docker.io"),
    ("https://registry-1.docker.io", "docker.io", None),
    ("http://10.0.0.2:5000", "10.0.0.2:5000", None),
    ("http://10.0.0.3:5000", "10.0.0.2:5000", "10.0.0.2:5000"),
])
def test_a_mirror_is_asked_with_the_registry_namespace(url, registry, ns):
    assert hosts_toml.namespace_param(hosts_toml.Endpoint(url, "mirror"), registry) == ns


@pytest.mark.parametrize("text, says", [
    ('server = "https://r.site"\n[host."https://m.site"\n', "not valid TOML"),
    ('[host."ftp://m.site"]\n', "'ftp://m.site' is not an http(s) URL"),
    ('[host."https://m.site"]\ncapabilities = ["pull", "fetch"]\n', "unknown capabilities fetch"),
    ('[host."https://m.site"]\nskip_verify = "yes"\n', "skip_verify must be true or false"),
    ('server = 5000\n', "`server` must be a URL string"),
    ('[host."https://m.site"]\nca = 3\n', "ca must be a path or a list of paths"),
])
def test_a_file_containerd_cannot_use_is_one_error_naming_it(text, says):
    with pytest.raises(hosts_toml.HostsTomlError) as caught:
        hosts_toml.parse(text, PATH, "docker.io")
    assert str(caught.value).startswith(PATH) and says in str(caught.value)


def test_route_of_a_containerd_node():
    route = endpoints.containerd_route("docker.io", {"docker.io": (PATH, KUBESPRAY_DOCKER_IO)}, ProxySettings())
    assert [(e.label, e.ns, e.skip_verify) for e in route.endpoints] == [
        ("mirror https://mirror-a.site:5000", "docker.io", False),
        ("mirror https://mirror-c.site/v2/docker.io", "docker.io", False),
        ("server https://docker.io", None, False)]
    assert route.passed_over[0][0] == "mirror http://mirror-b.site:5000"
    assert route.public_fallback == "server https://docker.io"
    assert route.endpoints[1].node_json()["headers"][0]["path"] == PATH


def test_route_of_a_containerd_node_with_an_unusable_file():
    route = endpoints.containerd_route("docker.io", {"docker.io": (PATH, "server = \n")}, ProxySettings())
    assert route.endpoints == () and route.error.startswith(f"containerd cannot use {PATH}: not valid TOML")


INVENTORY_MIRRORS = [
    {"prefix": "10.0.0.2:5000", "server": "http://10.0.0.2:5000",
     "mirrors": [{"host": "http://10.0.0.2:5000", "capabilities": ["pull", "resolve"], "skip_verify": True}]},
    {"prefix": "docker.io", "mirrors": [{"host": "https://harbor.site", "capabilities": "pull",
                                         "auth": {"username": "robot", "password": "s3cret"}}]},
]
KUBESPRAY_WRITES = ('server = "http://10.0.0.2:5000"\n\n[host."http://10.0.0.2:5000"]\n'
                    '  capabilities = ["pull","resolve"]\n  skip_verify = true\n  override_path = false\n')


def test_before_kubespray_wrote_it_the_hosts_toml_comes_from_the_inventory():
    hosts = hosts_toml.from_inventory(INVENTORY_MIRRORS, "docker.io")
    assert [(e.role, e.url, e.capabilities) for e in hosts.endpoints] == [
        ("mirror", "https://harbor.site", ("pull",)), ("server", "https://docker.io", hosts_toml.ALL_CAPABILITIES)]
    assert "s3cret" not in repr(hosts) and hosts_toml.from_inventory(INVENTORY_MIRRORS, "quay.io") is None
    route = endpoints.containerd_route("docker.io", {}, ProxySettings(), INVENTORY_MIRRORS)
    assert route.source == "no hosts.toml for docker.io yet: the one Kubespray writes from containerd_registries_mirrors"


def test_the_inventory_and_the_file_kubespray_writes_give_the_same_endpoints():
    """Then the probes planned before the node answered stand: no second round trip."""
    predicted = endpoints.containerd_route("10.0.0.2:5000", {}, ProxySettings(), INVENTORY_MIRRORS)
    found = endpoints.containerd_route("10.0.0.2:5000", {"10.0.0.2:5000": (PATH, KUBESPRAY_WRITES)}, ProxySettings(),
                                       INVENTORY_MIRRORS)
    assert [e.node_json() for e in predicted.endpoints] == [e.node_json() for e in found.endpoints]
    assert found.source == PATH


def test_an_inventory_entry_containerd_could_not_use_is_named():
    with pytest.raises(hosts_toml.HostsTomlError, match=r"containerd_registries_mirrors\[prefix=quay.io\]: each of"):
        hosts_toml.from_inventory([{"prefix": "quay.io", "mirrors": [{"capabilities": ["pull"]}]}], "quay.io")
