"""A throwaway redis-server that speaks only TLS (`tls-port`), with a test CA made here.

The CA, the server certificate (for 127.0.0.1 and localhost) and a client certificate are
made with the `cryptography` package; a second, unrelated CA lets a test prove that a wrong
CA fails the handshake. Clients may present a certificate (`tls-auth-clients optional`).
"""
from __future__ import annotations

import datetime
import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers_redis_cluster import require_binaries
from tests.servers_redis_group import ProcessGroup, free_port_pair, wait_for


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA certificate written to `<name>.crt`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_leaf(directory: Path, name: str, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate,
              server: bool) -> tuple[Path, Path]:
    """A certificate signed by `ca` (for 127.0.0.1 and localhost when `server`); returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2)))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


@dataclass
class TlsRedis:
    """A TLS-only redis-server and the files a client needs."""

    port: int
    ca: Path
    wrong_ca: Path
    client_cert: Path
    client_key: Path
    group: ProcessGroup

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": f"rediss://127.0.0.1:{self.port}/0", "REDIS_TLS_CA": str(self.ca)}

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, ssl=True, ssl_ca_certs=str(self.ca), decode_responses=True)


def start_tls_redis(d: Path) -> TlsRedis:
    """Make the CAs and certificates in `d` and start a TLS-only redis-server there."""
    require_binaries()
    ca, ca_key, ca_cert = make_ca(d, "test-ca")
    wrong_ca, _, _ = make_ca(d, "other-ca")
    server_cert, server_key = make_leaf(d, "server", ca_key, ca_cert, server=True)
    client_cert, client_key = make_leaf(d, "client", ca_key, ca_cert, server=False)
    group = ProcessGroup()
    port = free_port_pair()
    try:
        group.spawn(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                     "--tls-cert-file", str(server_cert), "--tls-key-file", str(server_key),
                     "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "optional", "--enable-debug-command", "yes",
                     "--save", "", "--appendonly", "no", "--dir", str(d), "--logfile", str(d / "redis.log")], d)
        server = TlsRedis(port, ca, wrong_ca, client_cert, client_key, group)
        wait_for(lambda: server.client().ping(), f"TLS redis on {port}")
    except BaseException:
        group.kill_all()
        raise
    return server


@pytest.fixture(scope="session")
def redis_tls() -> Iterator[TlsRedis]:
    """A TLS-only redis-server for the whole session (no persistence)."""
    with tempfile.TemporaryDirectory(prefix="redis-tls-") as tmp:
        server = start_tls_redis(Path(tmp))
        try:
            yield server
        finally:
            server.group.kill_all()
