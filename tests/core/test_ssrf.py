"""The SSRF guard refuses metadata and link-local always, internal addresses unless allowlisted,
and checks every redirect hop."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ibcloud.core.ssrf import SSRFBlocked, check_url, fetch


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/to-metadata"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path.startswith("/hop"):
            self.send_response(302)
            self.send_header("Location", "/final")
            self.end_headers()
            return
        body = f"host={self.headers.get('Host')} path={self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_metadata_and_link_local_are_refused_even_when_allowlisted(settings, url):
    settings.IBCLOUD_SSRF_ALLOWLIST = [
        "169.254.0.0/16",
        "fe80::/10",
        "0.0.0.0/0",
        "::/0",
        "metadata.google.internal",
    ]
    with pytest.raises(SSRFBlocked):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_internal_addresses_are_refused_by_default(settings, url):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    with pytest.raises(SSRFBlocked):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "http://"]
)
def test_only_http_and_https_with_a_host(url):
    with pytest.raises(SSRFBlocked):
        check_url(url)


def test_allowlist_by_network_and_by_host(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["10.0.0.0/8", "localhost"]
    assert check_url("http://10.20.30.40/x").addresses == ("10.20.30.40",)
    assert check_url("http://localhost/").host == "localhost"
    with pytest.raises(SSRFBlocked):
        check_url("http://192.168.0.1/")


def test_public_address_is_allowed(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    assert check_url("https://93.184.216.34/").addresses == ("93.184.216.34",)


def test_fetch_local_server_only_when_allowlisted(settings, server):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    with pytest.raises(SSRFBlocked):
        fetch("GET", server + "/hello")
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    response = fetch("GET", server + "/hello")
    assert response.status_code == 200
    assert "path=/hello" in response.text
    # The Host header keeps the name from the URL although the connection is pinned to the IP.
    assert f"host={server.removeprefix('http://')}" in response.text


def test_fetch_follows_allowed_redirects(settings, server):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    response = fetch("GET", server + "/hop")
    assert "path=/final" in response.text


def test_redirect_to_a_blocked_address_is_refused(settings, server):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(SSRFBlocked):
        fetch("GET", server + "/to-metadata")


def test_redirect_limit(settings, server):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(requests.TooManyRedirects):
        fetch("GET", server + "/hop", max_redirects=0)


def test_dns_answer_is_checked(settings, monkeypatch):
    """A public-looking name that resolves to an internal address is refused."""
    import socket

    settings.IBCLOUD_SSRF_ALLOWLIST = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(SSRFBlocked):
        check_url("http://innocent.example.com/")


def test_connection_goes_to_the_checked_address(settings, server, monkeypatch):
    """DNS rebinding: the request uses the address the guard checked, not a second lookup."""
    import ibcloud.core.ssrf as ssrf

    port = server.rsplit(":", 1)[1]
    settings.IBCLOUD_SSRF_ALLOWLIST = ["rebind.invalid"]
    monkeypatch.setattr(ssrf, "_resolve", lambda host, port: ("127.0.0.1",))
    response = fetch("GET", f"http://rebind.invalid:{port}/pinned")
    assert "path=/pinned" in response.text
    assert f"host=rebind.invalid:{port}" in response.text


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for ``pinned.test``."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pinned.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pinned.test")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], str(cert_file)
    httpd.shutdown()
    httpd.server_close()


def test_https_keeps_sni_and_certificate_check_when_pinned(settings, tls_server, monkeypatch):
    import ibcloud.core.ssrf as ssrf

    port, ca_file = tls_server
    settings.IBCLOUD_SSRF_ALLOWLIST = ["pinned.test", "wrong-name.test"]
    monkeypatch.setattr(ssrf, "_resolve", lambda host, port: ("127.0.0.1",))
    response = fetch("GET", f"https://pinned.test:{port}/secure", verify=ca_file)
    assert "path=/secure" in response.text
    # The certificate is checked against the URL's host name, not the pinned IP.
    with pytest.raises(requests.exceptions.SSLError):
        fetch("GET", f"https://wrong-name.test:{port}/secure", verify=ca_file)
