"""
Realistic 40 KB logs with one real error buried in them (seeded, reproducible).

The noise is what an application or server log holds on an ordinary day: nginx access
and error lines (HTTP status codes that look like SMTP reply codes), syslog (systemd,
cron, sshd, kernel), Python/Java/Node application logs, health checks, and a few
warnings from other software (an upstream that refused a connection, a slow query, an
HTTPS retry). The error is inserted whole, as a block of lines, at a random line.

    from longlog import bury
    text = bury(error, random.Random(seed))
"""

from __future__ import annotations

import random
from collections.abc import Callable

SIZE = 40_000

_PATHS = (
    "/",
    "/api/v1/orders",
    "/api/v1/orders/{n}",
    "/api/v1/users/me",
    "/static/app.{n}.js",
    "/static/css/main.css",
    "/healthz",
    "/login",
    "/favicon.ico",
    "/graphql",
    "/wp-login.php",
    "/.env",
    "/metrics",
)
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.3 Safari/605.1.15",
    "kube-probe/1.29",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Prometheus/2.50.1",
    "Go-http-client/1.1",
)
_STATUS = (200,) * 14 + (
    201,
    204,
    301,
    302,
    304,
    304,
    400,
    401,
    403,
    404,
    404,
    499,
    500,
    502,
)
_MONTH = "Mar"
_HOSTS = ("web01", "web02", "api-7c9d", "worker-3")


def _ip(rng: random.Random) -> str:
    first = rng.choice((203, 198, 192))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _clock(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(24), rng.randrange(60), rng.randrange(60)


def _nginx_access(rng: random.Random) -> str:
    h, m, s = _clock(rng)
    path = rng.choice(_PATHS).format(n=rng.randrange(1, 99999))
    method = rng.choice(("GET",) * 6 + ("POST", "PUT", "DELETE", "HEAD"))
    return (
        f"{_ip(rng)} - - [12/{_MONTH}/2025:{h:02d}:{m:02d}:{s:02d} +0000] "
        f'"{method} {path} HTTP/1.1" {rng.choice(_STATUS)} {rng.randrange(0, 90000)} '
        f'"-" "{rng.choice(_AGENTS)}"'
    )


def _nginx_error(rng: random.Random) -> str:
    h, m, s = _clock(rng)
    pid = rng.randrange(10, 999)
    what = rng.choice(
        (
            "upstream timed out (110: Connection timed out) while reading response "
            "header from upstream",
            "connect() failed (111: Connection refused) while connecting to upstream",
            'open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or '
            "directory)",
            "client intended to send too large body: 10485761 bytes",
            "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::"
            "wrong version number) while SSL handshaking",
            'limiting requests, excess: 10.520 by zone "api"',
            "upstream prematurely closed connection while reading response header from "
            "upstream",
        )
    )
    return (
        f"2025/03/12 {h:02d}:{m:02d}:{s:02d} "
        f"[{rng.choice(('error', 'warn', 'error'))}] "
        f"{pid}#{pid}: *{rng.randrange(1, 99999)} {what}, client: {_ip(rng)}, server: "
        f'shop.example.com, request: "GET /api/v1/orders HTTP/1.1", upstream: '
        f'"http://127.0.0.1:8000/api/v1/orders", host: "shop.example.com"'
    )


def _syslog(rng: random.Random) -> str:
    h, m, s = _clock(rng)
    host = rng.choice(_HOSTS)
    n = rng.randrange(100, 65000)
    what = rng.choice(
        (
            f"systemd[1]: Started Session {n} of User deploy.",
            "systemd[1]: Starting Daily apt download activities...",
            "systemd[1]: logrotate.service: Deactivated successfully.",
            f"CRON[{n}]: (root) CMD (/usr/local/bin/backup.sh >/dev/null 2>&1)",
            f"CRON[{n}]: pam_unix(cron:session): session opened for user root(uid=0)",
            f"sshd[{n}]: Accepted publickey for deploy from {_ip(rng)} port {n} ssh2: "
            "ED25519 SHA256:Qk3J8wZb9",
            f"sshd[{n}]: Connection closed by authenticating user root {_ip(rng)} port "
            f"{n} [preauth]",
            f"sshd[{n}]: Invalid user admin from {_ip(rng)} port {n}",
            f"kernel: [{n}.{rng.randrange(1000):03d}] TCP: request_sock_TCP: Possible "
            "SYN flooding on port 443. Sending cookies.",
            f"kernel: [{n}.{rng.randrange(1000):03d}] eth0: renamed from veth{n}",
            f'dockerd[{n}]: time="2025-03-12T{h:02d}:{m:02d}:{s:02d}Z" level=info '
            'msg="ignoring event" module=libcontainerd namespace=moby',
            f'containerd[{n}]: time="2025-03-12T{h:02d}:{m:02d}:{s:02d}Z" level=info '
            'msg="shim disconnected" id=4f1c2a',
            f"systemd-resolved[{n}]: Using degraded feature set UDP instead of "
            "UDP+EDNS0 for DNS server 10.0.0.2.",
            f"chronyd[{n}]: Selected source 169.254.169.123",
        )
    )
    return f"{_MONTH} 12 {h:02d}:{m:02d}:{s:02d} {host} {what}"


def _python(rng: random.Random) -> str:
    h, m, s = _clock(rng)
    ms = rng.randrange(1000)
    level, logger, msg = rng.choice(
        (
            ("INFO", "app.views", "GET /api/v1/orders 200 in {n}ms"),
            ("INFO", "app.tasks", "task refresh_cache finished in 0.{n}s"),
            (
                "DEBUG",
                "sqlalchemy.engine.Engine",
                "SELECT orders.id, orders.total FROM "
                "orders WHERE orders.user_id = %(user_id_1)s LIMIT %(param_1)s",
            ),
            ("INFO", "gunicorn.access", '10.0.0.{n} "GET /healthz HTTP/1.1" 200 2'),
            ("WARNING", "app.cache", "cache miss for key user:{n}:profile"),
            (
                "INFO",
                "celery.worker.strategy",
                "Task app.tasks.sync_inventory[{n}] received",
            ),
            (
                "INFO",
                "celery.app.trace",
                "Task app.tasks.sync_inventory[{n}] succeeded in 0.{n}s: None",
            ),
            (
                "WARNING",
                "urllib3.connectionpool",
                "Retrying (Retry(total=2, connect=None, "
                "read=None, redirect=None, status=None)) after connection broken by "
                "'ReadTimeoutError(\"HTTPSConnectionPool(host='api.stripe.com', "
                "port=443): Read timed out. (read timeout=10)\")': /v1/charges",
            ),
            ("INFO", "django.server", '"GET /admin/ HTTP/1.1" 302 0'),
            ("WARNING", "django.request", "Not Found: /wp-login.php"),
            ("INFO", "app.auth", "user {n} logged in"),
        )
    )
    return (
        f"2025-03-12 {h:02d}:{m:02d}:{s:02d},{ms:03d} {level} [{logger}] "
        + msg.format(n=rng.randrange(1, 999))
    )


def _java(rng: random.Random) -> str:
    h, m, s = _clock(rng)
    ms = rng.randrange(1000)
    level, logger, msg = rng.choice(
        (
            (
                "INFO",
                "o.s.web.servlet.DispatcherServlet",
                "Completed initialization in 1 ms",
            ),
            (
                "INFO",
                "o.s.b.w.embedded.tomcat.TomcatWebServer",
                "Tomcat started on port(s): 8080 (http) with context path ''",
            ),
            (
                "DEBUG",
                "o.h.SQL",
                "select u1_0.id,u1_0.email from users u1_0 where u1_0.id=?",
            ),
            ("INFO", "c.e.shop.OrderService", "Order {n} placed, total=42.10 EUR"),
            (
                "WARN",
                "o.h.engine.jdbc.spi.SqlExceptionHelper",
                "SQL Warning Code: 0, SQLState: 00000",
            ),
            ("INFO", "c.z.hikari.HikariDataSource", "HikariPool-1 - Start completed."),
            (
                "INFO",
                "o.a.k.clients.consumer.KafkaConsumer",
                "[Consumer clientId=orders-1, "
                "groupId=orders] Subscribed to topic(s): orders",
            ),
        )
    )
    return (
        f"2025-03-12 {h:02d}:{m:02d}:{s:02d}.{ms:03d}  {level} 1 --- [nio-8080-exec-"
        f"{rng.randrange(1, 10)}] {logger} : " + msg.format(n=rng.randrange(1, 99999))
    )


def _node(rng: random.Random) -> str:
    n = rng.randrange(1, 9999)
    msg = rng.choice(
        (
            f'"req":{{"method":"GET","url":"/api/items/{n}"}},"res":{{"statusCode":200}},'
            f'"responseTime":{rng.randrange(1, 400)},"msg":"request completed"',
            f'"msg":"cache refreshed","keys":{n}',
            '"msg":"health check ok"',
            f'"msg":"job queued","job":"thumbnail","id":"{n}"',
        )
    )
    return (
        f'{{"level":{rng.choice((30, 30, 30, 20, 40))},"time":17102384{n:05d},"pid":7,'
        f'"hostname":"api-7c9d",{msg}}}'
    )


_SOURCES: tuple[tuple[Callable[[random.Random], str], int], ...] = (
    (_nginx_access, 30),
    (_syslog, 22),
    (_python, 20),
    (_java, 12),
    (_node, 10),
    (_nginx_error, 2),
)
_WEIGHTED = [fn for fn, weight in _SOURCES for _ in range(weight)]


def noise(rng: random.Random, size: int) -> list[str]:
    """Lines of ordinary log noise, about ``size`` characters in all."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(_WEIGHTED)(rng)
        lines.append(line)
        total += len(line) + 1
    return lines


def bury(error: str, rng: random.Random, size: int = SIZE) -> str:
    """``error`` inserted whole at a random line of ``size`` characters of noise."""
    lines = noise(rng, max(0, size - len(error)))
    at = rng.randrange(len(lines) + 1)
    return "\n".join([*lines[:at], error.strip("\n"), *lines[at:]])
