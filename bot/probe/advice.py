"""
What to do about each finding, in words for the person at the mail client.

Short enough for a Slack message; the knowledge-base entry linked to a finding's
category (``kb_entry``) gives the long version.
"""

from __future__ import annotations

# Finding id -> what to do about it, in words for the person at the mail client.
ADVICE = {
    "dns-failure": (
        "Check the spelling of the server name; the mail provider's setup page gives "
        "the exact SMTP host."
    ),
    "connection-refused": (
        "Nothing accepts connections on this port: check the port (587 for STARTTLS, "
        "465 for SSL/TLS) and that the mail service is running."
    ),
    "connection-timeout": (
        "Packets get no answer: a firewall, ISP or cloud provider is probably blocking "
        "the port (outbound 25 often is). Try 587 or 465, or ask the network admin."
    ),
    "no-greeting": (
        "The server accepted the connection but said nothing and did not answer TLS "
        "either: it may be overloaded, tarpitting this client, or behind a broken "
        "proxy."
    ),
    "closed-before-greeting": (
        "The server hangs up at once: it may limit connections per client or block this"
        " address. Ask the mail admin to check the server log."
    ),
    "not-smtp": (
        "Something other than an SMTP server answers on this port (a web server "
        "answers HTTP): check the host and port in the mail client; SMTP uses 587 "
        "(STARTTLS), 465 (SSL/TLS) or 25."
    ),
    "rate-limited": (
        "The server is turning clients away for now (too many connections or messages)."
        " Wait and retry; if it persists, ask the provider about limits."
    ),
    "sender-blocklisted": (
        "The server refuses this client outright, often because its IP is on a "
        "blocklist. Check the address on the blocklists named in the reply."
    ),
    "ehlo-failed": (
        "The server rejected EHLO, so it cannot offer STARTTLS; ask the mail admin."
    ),
    "starttls-not-offered": (
        "Enable STARTTLS on the server (Postfix: smtpd_tls_security_level = may), or "
        "use the provider's port that offers it; a firewall doing SMTP inspection can "
        "also strip STARTTLS."
    ),
    "starttls-refused": (
        "The server advertises STARTTLS but cannot start it (often a missing or "
        "unreadable certificate or key on the server). Ask the mail admin to check its "
        "TLS settings and log."
    ),
    "handshake-failed": (
        "The port is right but the server's TLS is broken or too old for this client "
        "(protocol, cipher or key). Ask the admin to check the TLS configuration."
    ),
    "port-mismatch-tls": (
        "Set the client's encryption to SSL/TLS (implicit TLS) for this port, or use "
        "port 587 with STARTTLS."
    ),
    "port-mismatch-starttls": (
        "Set the client's encryption to STARTTLS for this port, or use port 465 with "
        "SSL/TLS."
    ),
    "implicit-tls": (
        "Set the client's encryption to SSL/TLS (not STARTTLS) for this port."
    ),
    "cert-untrusted": (
        "Clients refuse this certificate. Install one from a public CA (e.g. Let's "
        "Encrypt) with its full chain, or trust the private CA on every client."
    ),
    "cert-expired": "Renew the certificate and reload the mail server.",
    "cert-hostname": (
        "Point the client at a name the certificate covers, or reissue the certificate "
        "to include this name."
    ),
    "cert-expiring": "Renew the certificate before it expires.",
    "weak-key": (
        "Reissue the certificate with an RSA key of at least 2048 bits (or an EC key) "
        "and reload the mail server; current clients refuse smaller keys."
    ),
    "tls-legacy": (
        "Enable TLS 1.2 and 1.3 on the server (Postfix: smtpd_tls_protocols = "
        ">=TLSv1.2 with a current OpenSSL); current clients refuse older versions."
    ),
    "weak-dh": (
        "Give the server a DH group of at least 2048 bits (Postfix: "
        "smtpd_tls_dh1024_param_file = a 2048-bit `openssl dhparam` file; Exim: "
        "tls_dhparam) or prefer ECDHE suites, then reload it."
    ),
    "client-cert-required": (
        "Mail clients do not present certificates: stop requiring one on this port "
        "(Postfix: smtpd_tls_req_ccert = no; Exim: tls_verify_hosts empty, use "
        "tls_try_verify_hosts), or give the client a certificate the server trusts "
        "if this port is meant for certificate-authenticated relays only."
    ),
    "client-cert-requested": (
        "Nothing to do: the server asks for a client certificate but accepts clients "
        "without one."
    ),
    "port-465-starttls": (
        "Either make port 465 implicit TLS (Postfix: smtpd_tls_wrappermode = yes on "
        "the 465 service) or tell users to pick STARTTLS for this port; most clients "
        "assume SSL/TLS on 465 and fail with a timeout or 'wrong version number'."
    ),
    "auth-before-tls": (
        "Offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes), so no "
        "client can send a password in clear text."
    ),
    "stalled": (
        "The server stopped answering mid-session; retry, and ask the admin if it "
        "lasts."
    ),
}
