from tests.registries import (  # noqa: F401  (fixtures)
    file_server,
    plain_registry,
    registry_ca,
    tls_registry,
    token_issuer,
    token_registry,
)
