"""The local CA: DNs in slash form, OpenSSL hash names, user/server/proxy certificates, the directory."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pandamock.scenario import load
from pandamock.tls import (
    CA_DN,
    PROXY_CERT_INFO_OID,
    Credential,
    LocalCA,
    TLSError,
    is_proxy,
    issue,
    make_ca,
    make_proxy,
    parse_dn,
    proxy_cert_info,
    server_hosts,
    slash_dn,
    subject_hash,
)

JDOE_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"
OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def ca(ca_dir):
    return LocalCA(ca_dir).ensure()


def _openssl(*args: str, stdin: bytes | None = None) -> str:
    return subprocess.run([OPENSSL, *args], input=stdin, capture_output=True, check=True).stdout.decode()


# --- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("identity", load("default").identities, ids=lambda identity: identity["name"])
def test_scenario_dns_round_trip(identity):
    name = parse_dn(identity["dn"])
    assert slash_dn(name) == identity["dn"]
    assert name.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)[0].value == "ch"


def test_slash_dn_uses_openssl_short_names():
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CERN"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Jane Doe"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "jane@example.org"),
        ]
    )
    assert slash_dn(name) == "/C=CH/O=CERN/CN=Jane Doe/emailAddress=jane@example.org"
    assert parse_dn("/C=CH/O=CERN/CN=Jane Doe/Email=jane@example.org") == name


@pytest.mark.parametrize(
    "dn, problem",
    [
        ("DC=ch/CN=x", "is not in slash form"),
        ("/DC=ch/XX=y", "cannot read the component 'XX=y'"),
        ("/DC=ch/CN=", "cannot read the component 'CN='"),
        ("/C=Switzerland/CN=x", "'C=Switzerland'"),
    ],
)
def test_parse_dn_refuses_what_it_cannot_read(dn, problem):
    with pytest.raises(TLSError, match=problem):
        parse_dn(dn)


def test_subject_hash_of_the_ca_name_is_openssls():
    # the value `openssl x509 -hash` prints for the CA's name (fixed: it depends on the name only)
    assert subject_hash(parse_dn(CA_DN)) == "bc267d53"


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    "dn",
    [
        JDOE_DN,
        "/DC=org/DC=Example/OU=Mixed  CASE   spaces/CN= padded /emailAddress=Jane.Doe@Example.ORG",
        "/C=CH/O=CERN/L=Genève/CN=Ünïcode Ñame",
        "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1",
    ],
)
def test_subject_hash_matches_openssl(ca, dn):
    certificate = issue(ca.ca, dn).cert_pem()
    assert subject_hash(parse_dn(dn)) == _openssl("x509", "-noout", "-subject_hash", stdin=certificate).strip()


def test_proxy_cert_info_der():
    # SEQUENCE { SEQUENCE { OID 1.3.6.1.5.5.7.21.1 (inheritAll) } }
    assert proxy_cert_info().hex() == "300c300a06082b06010505071501"
    # SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.3536.1.1.1.9 (Globus limited proxy) } }
    assert proxy_cert_info(limited=True).hex() == "300f300d060b2b060104019b5001010109"


# --- the CA directory --------------------------------------------------------------------------
def test_ca_is_created_once_and_reloaded(ca, ca_dir):
    again = LocalCA(ca_dir).ensure()
    assert again.ca.certificate == ca.ca.certificate
    assert again.ca.key.private_numbers() == ca.ca.key.private_numbers()
    certificate = ca.ca.certificate
    assert slash_dn(certificate.subject) == CA_DN == slash_dn(certificate.issuer)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert stat.S_IMODE((ca_dir / "ca" / "ca.key").stat().st_mode) == 0o600
    hashed = ca.cert_dir / f"{subject_hash(certificate.subject)}.0"
    assert [path.name for path in ca.cert_dir.iterdir()] == [hashed.name]
    assert hashed.read_bytes() == ca.ca_file.read_bytes() == ca.ca.cert_pem()


def test_concurrent_first_use_makes_one_ca(tmp_path):
    with ThreadPoolExecutor(4) as pool:
        cas = list(pool.map(lambda _: LocalCA(tmp_path).ensure().ca.certificate, range(4)))
    assert all(certificate == cas[0] for certificate in cas)
    assert LocalCA(tmp_path).ensure().ca.certificate == cas[0]


def test_lost_hash_file_is_written_again(tmp_path):
    ca = LocalCA(tmp_path).ensure()
    hashed = next(ca.cert_dir.iterdir())
    hashed.unlink()
    LocalCA(tmp_path).ensure()
    assert hashed.read_bytes() == ca.ca.cert_pem()


def test_user_certificate(ca):
    credential = ca.user("jdoe", JDOE_DN)
    certificate = credential.certificate
    assert credential.dn == JDOE_DN
    assert certificate.issuer == ca.ca.certificate.subject
    assert credential.chain == (ca.ca.certificate,)
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and not key_usage.key_cert_sign  # may sign proxies, not certificates
    assert not is_proxy(certificate)
    # kept and reused
    cert_file, key_file = ca.user_files("jdoe", JDOE_DN)
    assert ca.user("jdoe", JDOE_DN).certificate == certificate
    assert x509.load_pem_x509_certificate(cert_file.read_bytes()) == certificate
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # a scenario that gives the name another DN gets a new certificate
    other = ca.user("jdoe", "/DC=org/DC=example/CN=Jane Doe")
    assert other.dn == "/DC=org/DC=example/CN=Jane Doe"
    assert ca.user("jdoe", JDOE_DN).dn == JDOE_DN


def test_user_names_must_be_file_names(ca):
    with pytest.raises(TLSError, match="cannot be used as a file name"):
        ca.user("../evil", JDOE_DN)


def test_proxy_certificate(ca):
    user = ca.user("jdoe", JDOE_DN)
    proxy = make_proxy(user, lifetime=dt.timedelta(hours=2), serial=987654321)
    assert proxy.dn == JDOE_DN + "/CN=987654321"
    assert proxy.certificate.issuer == user.certificate.subject
    assert proxy.chain == (user.certificate, ca.ca.certificate)
    extension = proxy.certificate.extensions.get_extension_for_oid(PROXY_CERT_INFO_OID)
    assert extension.critical is True
    assert extension.value.value == proxy_cert_info()
    assert is_proxy(proxy.certificate)
    lifetime = proxy.certificate.not_valid_after_utc - proxy.certificate.not_valid_before_utc
    assert dt.timedelta(hours=2) < lifetime <= dt.timedelta(hours=2, minutes=5)
    limited = make_proxy(user, limited=True)
    assert limited.dn == JDOE_DN + "/CN=limited proxy"
    assert limited.certificate.extensions.get_extension_for_oid(PROXY_CERT_INFO_OID).value.value == proxy_cert_info(
        limited=True
    )


def test_proxy_file_layout(ca, tmp_path):
    path = ca.write_proxy("jdoe", JDOE_DN, tmp_path / "x509up_u1000")
    data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blocks = [line for line in data.decode().splitlines() if line.startswith("-----BEGIN")]
    assert blocks == ["-----BEGIN CERTIFICATE-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN CERTIFICATE-----"]
    proxy = Credential.from_pem(data)
    assert proxy.dn.startswith(JDOE_DN + "/CN=")
    assert proxy.chain == (ca.user("jdoe", JDOE_DN).certificate,)
    assert proxy.key.public_key().public_numbers() == proxy.certificate.public_key().public_numbers()
    assert ca.write_proxy("jdoe", JDOE_DN) == ca.proxy_file("jdoe")


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_openssl_verifies_the_proxy_chain(ca, tmp_path):
    path = ca.write_proxy("jdoe", JDOE_DN, tmp_path / "proxy.pem")
    user_cert, _ = ca.user_files("jdoe", JDOE_DN)
    args = ["-CApath", str(ca.cert_dir), "-untrusted", str(user_cert), str(path)]
    assert _openssl("verify", "-allow_proxy_certs", *args).strip() == f"{path}: OK"
    refused = subprocess.run([OPENSSL, "verify", *args], capture_output=True, text=True)  # proxies not allowed
    assert refused.returncode != 0


def test_server_certificate(ca):
    path = ca.server_file(["localhost", "127.0.0.1", "::1"])
    server = Credential.from_pem(path.read_bytes())
    names = server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert server.chain == (ca.ca.certificate,)
    assert ca.server_file(["127.0.0.1", "localhost", "::1"]) == path  # same names, same file
    assert ca.server_file(["localhost"]) != path


def test_server_certificate_is_renewed_when_expiring(ca, tmp_path):
    path = ca.server_file(["expiring.example"])
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    path.write_bytes(issue(ca.ca, "/CN=expiring.example", hosts=["expiring.example"], not_after=soon).bundle_pem())
    assert ca.server_file(["expiring.example"]) == path
    assert Credential.from_pem(path.read_bytes()).certificate.not_valid_after_utc > soon + dt.timedelta(days=300)


def test_certificates_of_another_ca_are_reissued(ca, tmp_path):
    other = make_ca("/DC=org/DC=elsewhere/CN=Other CA")
    stray = issue(other, JDOE_DN)
    user_dir = ca.user_dir("stray")
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "usercert.pem").write_bytes(stray.cert_pem())
    (user_dir / "userkey.pem").write_bytes(stray.key_pem())
    assert ca.user("stray", JDOE_DN).certificate.issuer == ca.ca.certificate.subject


def test_server_hosts():
    assert server_hosts("127.0.0.1")[:3] == ["localhost", "127.0.0.1", "::1"]
    assert "0.0.0.0" not in server_hosts("0.0.0.0")
    assert "panda.example.org" in server_hosts("panda.example.org")


# --- pandamock certs ---------------------------------------------------------------------------
def _certs(*args: str):
    from click.testing import CliRunner

    from pandamock.cli import main

    return CliRunner().invoke(main, ["certs", *args])


def test_certs_command(tmp_path):
    directory = tmp_path / "tls"
    summary = _certs("--tls-dir", str(directory))
    assert summary.exit_code == 0, summary.output
    ca = LocalCA(directory).ensure()
    assert f"CA certificate (bundle): {ca.ca_file}\n" in summary.output
    assert f"X509_CERT_DIR:           {ca.cert_dir}\n" in summary.output
    assert "identities:              pilot, jdoe, higgs, mallory\n" in summary.output
    assert _certs("ca", "--tls-dir", str(directory)).output == ca.ca_file.read_text()
    assert _certs("ca", "--tls-dir", str(directory), "--out", str(tmp_path / "bundle.pem")).exit_code == 0
    assert (tmp_path / "bundle.pem").read_bytes() == ca.ca.cert_pem()
    assert _certs("cert-dir", "--tls-dir", str(directory)).output.strip() == str(ca.cert_dir)
    _certs("cert-dir", "--tls-dir", str(directory), "--out", str(tmp_path / "grid-certificates"))
    assert [p.name for p in (tmp_path / "grid-certificates").iterdir()] == [next(ca.cert_dir.iterdir()).name]


def test_certs_user_and_proxy_commands(tmp_path):
    directory = str(tmp_path / "tls")
    cert_path, key_path = _certs("user", "jdoe", "--tls-dir", directory).output.split()
    assert Credential.from_pem(open(cert_path, "rb").read() + open(key_path, "rb").read()).dn == JDOE_DN
    copied = _certs("user", "jdoe", "--tls-dir", directory, "--out-dir", str(tmp_path / "globus")).output.split()
    assert copied == [str(tmp_path / "globus" / "usercert.pem"), str(tmp_path / "globus" / "userkey.pem")]
    assert stat.S_IMODE((tmp_path / "globus" / "userkey.pem").stat().st_mode) == 0o600
    proxy_path = _certs("proxy", "jdoe", "--tls-dir", directory, "--hours", "1").output.strip()
    proxy = Credential.from_pem(open(proxy_path, "rb").read())
    assert proxy.dn.startswith(JDOE_DN + "/CN=") and is_proxy(proxy.certificate)
    lifetime = proxy.certificate.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(minutes=55) < lifetime <= dt.timedelta(hours=1)
    _certs("proxy", "jdoe", "--tls-dir", directory, "--hours", "-2", "--out", str(tmp_path / "old"))
    expired = Credential.from_pem((tmp_path / "old").read_bytes())
    assert expired.certificate.not_valid_after_utc < dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    limited = _certs("proxy", "pilot", "--tls-dir", directory, "--limited", "--out", str(tmp_path / "limited"))
    assert Credential.from_pem((tmp_path / "limited").read_bytes()).dn.endswith(
        "/CN=Robot: ATLAS Pilot1/CN=limited proxy"
    )
    assert limited.output.strip() == str(tmp_path / "limited")
    refused = _certs("proxy", "nobody", "--tls-dir", directory)
    assert refused.exit_code == 2
    assert "no identity 'nobody' in scenario 'default'" in refused.output


def test_certs_env_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PANDAMOCK_HTTPS_PORT", "25443")
    output = _certs("env", "higgs", "--tls-dir", str(tmp_path)).output
    ca = LocalCA(tmp_path)
    assert output.splitlines() == [
        f"export X509_USER_PROXY={ca.proxy_file('higgs')}",
        f"export X509_USER_CERT={ca.user_dir('higgs') / 'usercert.pem'}",
        f"export X509_USER_KEY={ca.user_dir('higgs') / 'userkey.pem'}",
        f"export X509_CERT_DIR={ca.cert_dir}",
        "export PANDA_URL_SSL=https://127.0.0.1:25443/server/panda",
        "export PANDA_URL=https://127.0.0.1:25443/server/panda",
        "export PANDACACHE_URL=https://127.0.0.1:25443/server/panda",
        "export PANDA_BEHIND_REAL_LB=1",
    ]
    monkeypatch.setenv("PANDAMOCK_HTTPS_PORT", "-1")
    assert "PANDA_URL_SSL" not in _certs("env", "higgs", "--tls-dir", str(tmp_path)).output


def test_certs_command_refuses_a_dn_it_cannot_use(tmp_path):
    scenario = tmp_path / "odd.yaml"
    scenario.write_text("name: odd\nidentities:\n  - name: tokenonly\n    dn: Jane Doe/CN=nickname:jdoe\n")
    result = _certs("user", "tokenonly", "--tls-dir", str(tmp_path / "tls"), "--scenario", str(scenario))
    assert result.exit_code == 2
    assert "DN 'Jane Doe/CN=nickname:jdoe' is not in slash form (/DC=.../CN=...)" in result.output


def test_damaged_files(tmp_path):
    ca = LocalCA(tmp_path).ensure()
    cert_file, key_file = ca.user_files("jdoe", JDOE_DN)
    key_file.write_text("-----BEGIN RSA PRIVATE KEY-----\ngarbage\n-----END RSA PRIVATE KEY-----\n")
    assert ca.user("jdoe", JDOE_DN).dn == JDOE_DN  # reissued
    server = ca.server_file(["localhost"])
    server.write_text("not a certificate")
    assert Credential.from_pem(ca.server_file(["localhost"]).read_bytes()).chain == (ca.ca.certificate,)
    ca.ca_file.write_text("damaged")
    with pytest.raises(TLSError, match="the CA in .* cannot be read"):
        LocalCA(tmp_path).ensure()


def test_a_new_ca_of_the_same_name_reissues_everything(tmp_path):
    ca = LocalCA(tmp_path).ensure()
    old_user = ca.user("jdoe", JDOE_DN).certificate
    old_server = ca.server_file(["localhost"]).read_bytes()
    shutil.rmtree(tmp_path / "ca")  # "reset the CA"
    fresh = LocalCA(tmp_path).ensure()
    assert fresh.ca.certificate.subject == ca.ca.certificate.subject
    assert fresh.ca.certificate != ca.ca.certificate
    new_user = fresh.user("jdoe", JDOE_DN).certificate
    assert new_user != old_user
    new_user.verify_directly_issued_by(fresh.ca.certificate)
    assert fresh.server_file(["localhost"]).read_bytes() != old_server
    assert [path.read_bytes() for path in fresh.cert_dir.iterdir()] == [fresh.ca.cert_pem()]
