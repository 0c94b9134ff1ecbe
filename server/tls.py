"""A small private certificate authority for the broker's TLS: for tests and small deployments.

`make_ca` creates the CA that boxes trust (its certificate goes to each box at enrolment),
`make_server_cert` the broker's certificate for the names and addresses boxes connect to, and
`make_client_cert` a box's own certificate when the broker requires one. Keys are EC P-256
(quick to make, quick on a Raspberry Pi's handshakes), written as PEM with mode 0600; a large
deployment would use its organisation's PKI instead.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity clients commonly accept for a server certificate


@dataclass(frozen=True)
class CertFiles:
    """A certificate and its private key, both PEM."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hoi Xa"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey):
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / f"{stem}.key"
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path = folder / f"{stem}.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertFiles(cert_path, key_path)


def _load(ca: CertFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key} is not an EC private key")
    return cert, key


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int):
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate a little clock skew
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_ca(
    folder: Path, common_name: str = "Hoi Xa fleet CA", *, days: int = CA_DAYS
) -> CertFiles:
    """A self-signed CA (ca.crt, ca.key) that may sign leaf certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _write(Path(folder), "ca", cert, key)


def _leaf(
    folder: Path,
    stem: str,
    ca: CertFiles,
    common_name: str,
    usage: x509.ObjectIdentifier,
    days: int,
    extra: Sequence[x509.ExtensionType] = (),
) -> CertFiles:
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), ca_cert.subject, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return _write(Path(folder), stem, builder.sign(ca_key, hashes.SHA256()), key)


def make_server_cert(
    folder: Path,
    ca: CertFiles,
    hosts: Sequence[str],
    *,
    stem: str = "server",
    days: int = LEAF_DAYS,
) -> CertFiles:
    """The broker's certificate, valid for each host name or IP address in `hosts` (SAN)."""
    if not hosts:
        raise ValueError("a server certificate needs at least one host name or address")
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    san = x509.SubjectAlternativeName(names)
    return _leaf(folder, stem, ca, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, days, [san])


def make_client_cert(
    folder: Path, ca: CertFiles, common_name: str, *, days: int = LEAF_DAYS
) -> CertFiles:
    """A box's client certificate; its common name is the device id (`<device id>.crt/.key`)."""
    return _leaf(folder, common_name, ca, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, days)
