"""HTTPS for the emulator: a local certificate authority and the TLS listener beside the HTTP one.

The real server listens on 25443 (HTTPS, Apache mod_ssl + mod_gridsite, client certificates
optional) and 25080 (plain HTTP). pandamock does the same with cheroot:

* :class:`LocalCA` keeps a small CA in a directory (by default ``~/.config/pandamock/tls``),
  created on first use: the CA certificate and an ``X509_CERT_DIR``-style directory holding it
  under its OpenSSL hash name (``<hash>.0``), a server certificate for localhost/127.0.0.1, user
  certificates with the scenario identities' DNs in PanDA's slash form, and RFC 3820 proxy
  certificates (``<user DN>/CN=<number>``) written as ``X509_USER_PROXY`` files (proxy
  certificate, its key, then the user certificate).
* :class:`ClientCertificateAdapter` is cheroot's builtin TLS adapter with client certificates
  optional (``CERT_OPTIONAL``), verified against the local CA, RFC 3820 proxies allowed, and
  the DNs exported the way mod_ssl's ``LegacyDNStringFormat`` does (``SSL_CLIENT_S_DN`` =
  ``/DC=ch/DC=cern/OU=Users/CN=...``). An expired or untrusted certificate ends the handshake.
* :func:`https_server` builds the HTTPS :class:`~pandamock.server.MockServer` for ``serve``.

All cryptography is done by the ``cryptography`` package; the only bytes built here are the DER
encodings of the RFC 3820 ``ProxyCertInfo`` extension value and of OpenSSL's canonical name form
(for the ``<hash>.0`` file names), which ``cryptography`` does not provide.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import re
import secrets
import socket
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

if TYPE_CHECKING:
    from .config import Settings
    from .server import MockServer

try:  # POSIX file locks keep concurrent processes (pytest-xdist workers, serve + certs) apart
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CA_DN = "/DC=org/DC=pandamock/CN=pandamock local CA"
SERVER_DN_PREFIX = "/DC=org/DC=pandamock/OU=Hosts/CN="
KEY_SIZE = 2048
CA_LIFETIME = dt.timedelta(days=3650)
CERT_LIFETIME = dt.timedelta(days=365)
PROXY_LIFETIME = dt.timedelta(hours=12)
RENEW_BEFORE = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)
HANDSHAKE_TIMEOUT = 10.0

#: RFC 3820 proxyCertInfo extension and the proxy policy languages.
PROXY_CERT_INFO_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.14")
POLICY_INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
POLICY_LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"  # Globus' limited-proxy policy language
LIMITED_PROXY_CN = "limited proxy"

#: OpenSSL short names of DN attributes (what ``X509_NAME_oneline`` prints).
_SHORT_NAMES: dict[ObjectIdentifier, str] = {
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.USER_ID: "UID",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.TITLE: "title",
    NameOID.STREET_ADDRESS: "street",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.PSEUDONYM: "pseudonym",
}
_OIDS_BY_SHORT_NAME = {short.lower(): oid for oid, short in _SHORT_NAMES.items()}
_OIDS_BY_SHORT_NAME.update({"e": NameOID.EMAIL_ADDRESS, "email": NameOID.EMAIL_ADDRESS, "uid": NameOID.USER_ID})
_DN_SPLIT = re.compile(r"/(?=[A-Za-z][A-Za-z0-9.]*=)")


class TLSError(ValueError):
    """A DN or a certificate request that cannot be served; the message says why."""


# -- distinguished names ---------------------------------------------------------------------
def slash_dn(name: x509.Name) -> str:
    """A name in OpenSSL's one-line form, as mod_ssl exports it with ``LegacyDNStringFormat``."""
    parts = []
    for rdn in name.rdns:
        attributes = [f"{_SHORT_NAMES.get(a.oid, a.oid.dotted_string)}={a.value}" for a in rdn]
        parts.append("+".join(attributes))
    return "".join(f"/{part}" for part in parts)


def parse_dn(dn: str) -> x509.Name:
    """A PanDA slash-form DN (``/DC=ch/DC=cern/OU=Users/CN=Jane Doe``) as an X.509 name."""
    if not dn.startswith("/"):
        raise TLSError(f"DN {dn!r} is not in slash form (/DC=.../CN=...)")
    rdns = []
    for part in _DN_SPLIT.split(dn[1:]):
        key, sep, value = part.partition("=")
        oid = _OIDS_BY_SHORT_NAME.get(key.lower())
        if not sep or oid is None or not value:
            raise TLSError(f"DN {dn!r}: cannot read the component {part!r}")
        try:
            rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)]))
        except ValueError as exc:
            raise TLSError(f"DN {dn!r}: {part!r}: {exc}") from None
    return x509.Name(rdns)


# -- minimal DER (extension value and OpenSSL's canonical name encoding) ---------------------
def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _der(0x06, bytes(body))


def proxy_cert_info(limited: bool = False) -> bytes:
    """DER of ``ProxyCertInfo ::= SEQUENCE { proxyPolicy SEQUENCE { policyLanguage OID } }``."""
    language = POLICY_LIMITED if limited else POLICY_INHERIT_ALL
    return _der(0x30, _der(0x30, _der_oid(language)))


def _canonical_value(value: str) -> str:
    """OpenSSL's ``asn1_string_canon``: trim, collapse ASCII whitespace runs, lower-case ASCII."""
    value = value.strip(" \t\n\v\f\r")
    value = re.sub(r"[ \t\n\v\f\r]+", " ", value)
    return "".join(ch.lower() if ch.isascii() else ch for ch in value)


def subject_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` (``openssl x509 -hash``): the ``<hash>.0`` name in a CA directory."""
    canonical = bytearray()
    for rdn in name.rdns:
        entries = []
        for attribute in rdn:
            if not isinstance(attribute.value, str):
                raise TLSError(f"cannot hash the non-string name attribute {attribute.oid.dotted_string}")
            utf8 = _der(0x0C, _canonical_value(attribute.value).encode())
            entries.append(_der(0x30, _der_oid(attribute.oid.dotted_string) + utf8))
        canonical += _der(0x31, b"".join(sorted(entries)))
    digest = hashlib.sha1(bytes(canonical)).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


# -- credentials -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Credential:
    """A certificate, its private key and the certificates that lead to the CA."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def dn(self) -> str:
        return slash_dn(self.certificate.subject)

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)

    def bundle_pem(self) -> bytes:
        """Certificate, key, then chain: the layout of an ``X509_USER_PROXY`` file."""
        return self.cert_pem() + self.key_pem() + self.chain_pem()

    @classmethod
    def from_pem(cls, data: bytes) -> Credential:
        """Read a bundle written by :meth:`bundle_pem` (or a certificate file followed by its key)."""
        match = re.search(rb"-----BEGIN (?:RSA )?PRIVATE KEY-----.*?-----END (?:RSA )?PRIVATE KEY-----", data, re.S)
        if match is None:
            raise TLSError("no private key in the PEM data")
        try:
            certificates = x509.load_pem_x509_certificates(data)
            key = serialization.load_pem_private_key(match.group(0), password=None)
        except ValueError as exc:
            raise TLSError(f"unreadable PEM data: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TLSError("the private key is not an RSA key")
        return cls(certificates[0], key, tuple(certificates[1:]))

    def expires_within(self, delta: dt.timedelta) -> bool:
        return self.certificate.not_valid_after_utc - _now() < delta


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_usage(digital_signature: bool, key_encipherment: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(dn: str = CA_DN, lifetime: dt.timedelta = CA_LIFETIME) -> Credential:
    """A self-signed CA certificate."""
    key = new_key()
    name = parse_dn(dn)
    now = _now()
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(False, False, True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(certificate, key)


def issue(
    ca: Credential,
    dn: str,
    *,
    hosts: Iterable[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Credential:
    """An end-entity certificate signed by ``ca``: a server certificate when ``hosts`` are given
    (DNS names and IP addresses), a grid user certificate otherwise."""
    key = key or new_key()
    now = _now()
    public = key.public_key()
    hosts = list(hosts)
    builder = (
        x509.CertificateBuilder()
        .subject_name(parse_dn(dn))
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - BACKDATE)
        .not_valid_after(not_after or now + CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(True, True, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return Credential(builder.sign(ca.key, hashes.SHA256()), key, (ca.certificate,))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_proxy(
    issuer: Credential,
    lifetime: dt.timedelta = PROXY_LIFETIME,
    limited: bool = False,
    serial: int | None = None,
    not_before: dt.datetime | None = None,
) -> Credential:
    """An RFC 3820 proxy certificate of ``issuer`` (a user certificate or another proxy).

    Its subject is the issuer's subject plus ``/CN=<serial>`` (``/CN=limited proxy`` for a limited
    proxy, the form PanDA recognises), it carries the critical ``proxyCertInfo`` extension and is
    signed with the issuer's key; its chain is the issuer followed by the issuer's chain.
    """
    serial = serial if serial is not None else secrets.randbelow(2**31 - 2**20) + 2**20
    key = new_key()
    now = _now()
    start = not_before or now - BACKDATE
    end = (not_before or now) + lifetime
    if end <= start:  # a negative lifetime: a proxy that has already expired
        start = end - PROXY_LIFETIME
    common_name = LIMITED_PROXY_CN if limited else str(serial)
    subject = x509.Name([*issuer.certificate.subject.rdns, _cn_rdn(common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_key_usage(True, True, False), critical=True)
        .add_extension(x509.UnrecognizedExtension(PROXY_CERT_INFO_OID, proxy_cert_info(limited)), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
    return Credential(certificate, key, (issuer.certificate, *issuer.chain))


def _cn_rdn(value: str) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def is_proxy(certificate: x509.Certificate) -> bool:
    """Whether a certificate is an RFC 3820 proxy (has the proxyCertInfo extension)."""
    return any(extension.oid == PROXY_CERT_INFO_OID for extension in certificate.extensions)


# -- the CA directory ------------------------------------------------------------------------
def default_tls_dir() -> Path:
    """``$XDG_CONFIG_HOME/pandamock/tls`` (``~/.config/pandamock/tls``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "pandamock" / "tls"


def tls_dir(settings: Settings) -> Path:
    """The CA directory of a configuration (the ``tls_dir`` setting, else :func:`default_tls_dir`)."""
    return Path(settings.tls_dir).expanduser() if settings.tls_dir else default_tls_dir()


def _write(path: Path, data: bytes, private: bool = False) -> None:
    """Write a file atomically (readers never see half a file); keys are private to the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _safe_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.@-]+", name) or name.startswith("."):
        raise TLSError(f"identity name {name!r} cannot be used as a file name")
    return name


class LocalCA:
    """The emulator's certificate authority and the credentials it issued, kept in ``directory``.

    Layout (created on first use; every change is made under a file lock and written atomically)::

        ca/ca.pem ca/ca.key            the CA certificate (the CA bundle) and its key
        certificates/<hash>.0          X509_CERT_DIR: the CA under its OpenSSL hash name
        server/server-<id>.pem         server certificate + key + CA for one set of host names
        users/<name>/usercert.pem      user certificate of a scenario identity (its DN)
        users/<name>/userkey.pem       its key
        users/<name>/x509up            a proxy file: proxy certificate, proxy key, user certificate
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()
        self._ca: Credential | None = None

    # -- paths -------------------------------------------------------------------------------
    @property
    def ca_file(self) -> Path:
        """The CA bundle (PEM): what a client verifies the server with (``REQUESTS_CA_BUNDLE``)."""
        return self.directory / "ca" / "ca.pem"

    @property
    def cert_dir(self) -> Path:
        """The ``X509_CERT_DIR``-style directory (``<hash>.0``)."""
        return self.directory / "certificates"

    def user_dir(self, name: str) -> Path:
        return self.directory / "users" / _safe_name(name)

    def proxy_file(self, name: str) -> Path:
        return self.user_dir(name) / "x509up"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    # -- the CA ------------------------------------------------------------------------------
    @property
    def ca(self) -> Credential:
        """The CA credential, created on first use."""
        if self._ca is None:
            self.ensure()
        assert self._ca is not None
        return self._ca

    def ensure(self) -> LocalCA:
        """Create the CA (and the hashed CA directory) unless it exists; returns self."""
        with self._locked():
            key_file = self.directory / "ca" / "ca.key"
            if self.ca_file.exists() and key_file.exists():
                try:
                    ca = Credential.from_pem(self.ca_file.read_bytes() + key_file.read_bytes())
                except TLSError as exc:  # never replaced silently: clients may trust it
                    raise TLSError(f"the CA in {self.directory / 'ca'} cannot be read ({exc})") from None
            else:
                ca = make_ca()
                _write(key_file, ca.key_pem(), private=True)
                _write(self.ca_file, ca.cert_pem())
            hashed = self.cert_dir / f"{subject_hash(ca.certificate.subject)}.0"
            if not hashed.exists() or hashed.read_bytes() != ca.cert_pem():
                _write(hashed, ca.cert_pem())
            self._ca = ca
        return self

    # -- server ------------------------------------------------------------------------------
    def server_file(self, hosts: Iterable[str]) -> Path:
        """A PEM file (certificate, key, CA) for these host names (the first is the CN), (re)issued
        when missing, expiring or from another CA."""
        names = list(dict.fromkeys(hosts))
        if not names:
            raise TLSError("a server certificate needs at least one host name")
        ident = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:12]
        path = self.directory / "server" / f"server-{ident}.pem"
        ca = self.ca
        with self._locked():
            current = _readable(lambda: Credential.from_pem(path.read_bytes())) if path.exists() else None
            if current is not None and _issued_by(current, ca):
                return path
            credential = issue(ca, SERVER_DN_PREFIX + names[0], hosts=names)
            _write(path, credential.bundle_pem(), private=True)
        return path

    # -- users -------------------------------------------------------------------------------
    def user(self, name: str, dn: str) -> Credential:
        """The user certificate of identity ``name`` with ``dn``; issued when missing, expiring,
        for another DN or from another CA."""
        directory = self.user_dir(name)
        cert_file, key_file = directory / "usercert.pem", directory / "userkey.pem"
        ca = self.ca
        with self._locked():
            current = None
            if cert_file.exists() and key_file.exists():
                current = _readable(lambda: Credential.from_pem(cert_file.read_bytes() + key_file.read_bytes()))
            if current is not None and current.dn == slash_dn(parse_dn(dn)) and _issued_by(current, ca):
                return Credential(current.certificate, current.key, (ca.certificate,))
            credential = issue(ca, dn)
            _write(key_file, credential.key_pem(), private=True)
            _write(cert_file, credential.cert_pem())
        return credential

    def user_files(self, name: str, dn: str) -> tuple[Path, Path]:
        """``(usercert.pem, userkey.pem)`` of an identity (issued on first use)."""
        self.user(name, dn)
        directory = self.user_dir(name)
        return directory / "usercert.pem", directory / "userkey.pem"

    def write_proxy(
        self,
        name: str,
        dn: str,
        path: str | os.PathLike[str] | None = None,
        lifetime: dt.timedelta = PROXY_LIFETIME,
        limited: bool = False,
    ) -> Path:
        """A new proxy of identity ``name`` written as an ``X509_USER_PROXY`` file (mode 0600):
        proxy certificate, proxy key, user certificate."""
        proxy = make_proxy(self.user(name, dn), lifetime=lifetime, limited=limited)
        target = Path(path) if path is not None else self.proxy_file(name)
        without_ca = Credential(proxy.certificate, proxy.key, proxy.chain[:-1])  # as grid proxy files are
        _write(target, without_ca.bundle_pem(), private=True)
        return target

    # -- serving -----------------------------------------------------------------------------
    def ssl_adapter(self, hosts: Iterable[str]) -> ClientCertificateAdapter:
        """cheroot's TLS adapter serving a certificate for ``hosts`` and accepting client
        certificates (and their proxies) issued by this CA."""
        server = str(self.server_file(hosts))
        return ClientCertificateAdapter(server, server, str(self.ca_file))


def _issued_by(credential: Credential, ca: Credential) -> bool:
    """Whether a kept credential is still good: signed by this CA (not an earlier one of the same
    name), its key matching, and not about to expire."""
    try:
        credential.certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    same_key = credential.key.public_key().public_numbers() == credential.certificate.public_key().public_numbers()
    return same_key and not credential.expires_within(RENEW_BEFORE)


def _readable(read: Any) -> Credential | None:
    """An issued credential from its files, or None when they are damaged (it is then reissued)."""
    try:
        return read()
    except TLSError:
        return None


def server_hosts(bind_host: str) -> list[str]:
    """Names the server certificate covers: localhost, the loopback addresses, the bound address
    (unless a wildcard) and this machine's host name."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    if bind_host not in ("", "0.0.0.0", "::"):
        hosts.append(bind_host)
    with contextlib.suppress(OSError):
        hosts.append(socket.gethostname())
    return list(dict.fromkeys(host for host in hosts if host))


# -- the TLS adapter -------------------------------------------------------------------------
class ClientCertificateAdapter(BuiltinSSLAdapter):
    """cheroot's builtin adapter, configured like the real server's Apache (``SSLVerifyClient
    optional``, proxies allowed, ``+StdEnvVars +LegacyDNStringFormat``).

    ``SSL_CLIENT_S_DN``/``SSL_CLIENT_I_DN`` (and the server's) are the slash form of the DNs;
    cheroot's own component variables (``SSL_CLIENT_S_DN_CN`` ...) are kept as they are.
    """

    def __init__(self, certificate: str, private_key: str, ca_file: str) -> None:
        super().__init__(certificate, private_key, certificate_chain=ca_file)
        context = self.context
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # grid certificates are not all strict RFC 5280
        server = x509.load_pem_x509_certificates(Path(certificate).read_bytes())[0]
        self._server_env["SSL_SERVER_S_DN"] = slash_dn(server.subject)
        self._server_env["SSL_SERVER_I_DN"] = slash_dn(server.issuer)

    def wrap(self, sock: socket.socket) -> tuple[Any, dict]:
        # cheroot handshakes in its accepting thread: bound the time a silent client can hold it
        sock.settimeout(HANDSHAKE_TIMEOUT)
        return super().wrap(sock)

    def get_environ(self, sock: ssl.SSLSocket) -> dict:
        environ = super().get_environ(sock)
        der = sock.getpeercert(binary_form=True)
        if der:
            certificate = x509.load_der_x509_certificate(der)
            environ["SSL_CLIENT_S_DN"] = slash_dn(certificate.subject)
            environ["SSL_CLIENT_I_DN"] = slash_dn(certificate.issuer)
        return environ


def https_server(app: Any, settings: Settings) -> MockServer | None:
    """The HTTPS listener of ``serve`` (None when ``https_port`` is -1), not yet started."""
    from .server import MockServer

    if settings.https_port < 0:
        return None
    ca = LocalCA(tls_dir(settings))
    adapter = ca.ssl_adapter(server_hosts(settings.host))
    return MockServer(app, host=settings.host, port=settings.https_port, threads=settings.threads, ssl_adapter=adapter)
