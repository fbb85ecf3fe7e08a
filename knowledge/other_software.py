"""
The vocabulary by which a pasted TLS, connection or DNS error names the software that
printed it when that software is not mail: its packages, namespaces, stack-frame files,
log prefixes, URL schemes and well-known ports.

A bare "certificate has expired" or "SSL_connect returned=1 ... certificate verify
failed" reads the same from a mail library as from an HTTPS client, a push service or
a database driver; what tells them apart is what surrounds it. Each group below names
where its words come from (the software's own source, documentation or message
catalogue, or a registry). `knowledge.context` reads them (lower-cased substring tests
and two regexes) after SMTP's own words, so "smtp", "EHLO", a mail port or a mail
library in the paste still makes it mail. Deliberately absent: words that mail
software prints too (Android's BoringSSL "OPENSSL_internal", NSS's
"ssl_error_rx_record_too_long", PHP's `ssl://` and `tls://` stream wrappers, Netty,
which Apache James's SMTP server uses, and products that send mail themselves, such
as Jenkins, Grafana or Keycloak).
"""

from __future__ import annotations

import re
from typing import Final

# Names that settle it even beside a mail provider's name or a word such as "Gmail":
# the paste was printed by an HTTP or RPC stack that SMTP clients never use.
DECISIVE: Final = (
    # .NET: HttpClient lives in System.Net.Http, SmtpClient in System.Net.Mail
    # (learn.microsoft.com API reference); SocketsHttpHandler's ConnectHelper frames.
    "system.net.http",
    "connecthelper.establishssl",
    # gRPC core's own source files and its transport security interface (grpc/grpc
    # src/core/tsi and src/core/lib/security/transport).
    "ssl_transport_security",
    "security_handshaker",
    "tsi_protocol_failure",
    # Java's HTTPS URL connection (java.net.HttpsURLConnection, sun.net.www.protocol).
    "httpsurlconnection",
    "sun.net.www.protocol",
)

OTHER: Final = (
    # Apple Push Notification service and its clients (Apple's APNs documentation:
    # api.push.apple.com, the legacy gateway.push.apple.com binary interface; node-apn's
    # lib/credentials, Ruby's rpush and houston, Go's apns2), Firebase Cloud Messaging
    # (fcm.googleapis.com), OneSignal.
    "apns",
    "/apn/lib/",
    "node_modules/apn",
    "push.apple.com",
    "push notification",
    "pushnotification",
    "push certificate",
    "rpush",
    "fcm.googleapis",
    "firebase",
    "onesignal",
    # Rocket.Chat's push relay (apps/meteor/app/push/server/push.ts: "Error sending
    # push to gateway (N try) ->", "Trying sending push to gateway again in").
    "push to gateway",
    "push gateway",
    # Alibaba Nacos' configuration client (ServerHttpAgent: "[NACOS ConnectException
    # httpGet] currentServerAddr:http://..."), an HTTP client of its registry.
    "[nacos ",
    "nacos.client",
    # Ruby's package manager and HTTP clients (RubyGems' Gem::RemoteFetcher messages,
    # Bundler; the httparty, rest-client, excon, typhoeus gems; open-uri).
    "rubygems",
    "gem install",
    "gem update",
    "could not find a valid gem",
    "unable to download data from",
    "gem::",
    "bundle install",
    "httparty",
    "rest-client",
    "restclient",
    "excon",
    "typhoeus",
    "open-uri",
    "open_uri",
    # Python's HTTP stacks beyond requests/urllib3 (httplib2, http.client's own
    # exceptions, httpcore, pycurl, PyOpenSSL's urllib3 contrib module).
    "httplib2",
    "http.client.",
    "httpcore",
    "pycurl",
    "urllib3/contrib",
    # JavaScript HTTP clients and Node's HTTP module frames (undici, superagent,
    # node:_http_client / ClientRequest).
    "undici",
    "superagent",
    "node_modules/request/",
    "request-promise",
    "requestify",
    "_http_client",
    "clientrequest",
    # OkHttp's HttpLoggingInterceptor ("<-- HTTP FAILED: ...").
    "http failed:",
    # Java and .NET HTTP/SOAP clients (Apache HttpComponents, Jersey, Spring's
    # RestTemplate and WebClient, OpenFeign, WCF's System.ServiceModel, RestSharp,
    # Flurl; JMeter's samplers).
    "org.apache.http",
    "glassfish.jersey",
    "resttemplate",
    "feign",
    "system.servicemodel",
    "restsharp",
    "flurl",
    "jmeter",
    "soapclient",
    "wsdl",
    # Rust HTTP clients (reqwest, hyper, ureq).
    "reqwest",
    "hyper::",
    "ureq::",
    # Database clients named by their own settings and messages: MySQL's client error
    # catalogue (CR_SSL_CONNECTION_ERROR, "SSL connection error: %s"), libpq's sslmode
    # values and sslrootcert, JDBC's useSSL/requireSSL, SQL Server's
    # TrustServerCertificate and SSMS, MySQL Connector/.NET and Python.
    "ssl connection error:",
    "sslmode",
    "verify-full",
    "verify-ca",
    "sslrootcert",
    "usessl",
    "requiressl",
    "trustservercertificate",
    "ssms",
    "sql server management studio",
    "mysqlconnector",
    "mysql.data",
    "mysql.connector",
    "pymysql",
    "mysqldb",
    "mysql2",
    "asyncpg",
    # libpq's lost-connection message and the Ruby pg gem's exceptions.
    "ssl syscall error",
    "pg::",
    "npgsql",
    "tableplus",
    "dbeaver",
    "sequel pro",
    # MongoDB drivers' errors and settings (MongoDB Node driver, Mongoose, the .NET
    # driver's CompositeServerSelector).
    "mongoose",
    "tlsallowinvalidcertificates",
    "tlscafile",
    "serverselector",
    # Redis clients and server (redis-rb, phpredis, predis, redis-plus-plus,
    # StackExchange.Redis; the server's "Error accepting a client connection").
    "predis",
    "phpredis",
    "stackexchange.redis",
    "error accepting a client connection",
    # Message brokers and streaming (RabbitMQ's client libraries and Erlang reports,
    # NATS, Pulsar, ActiveMQ, STOMP, Azure Event Grid; Kafka's SslTransportLayer).
    "rabbitmq.client",
    "amqpclient",
    "sslauthenticationexception",
    "nats:",
    "nats.",
    "pulsar",
    "activemq",
    "stomp",
    # Container registries and the Docker daemon (Docker Engine API's "Error response
    # from daemon", the Registry HTTP API v2 paths, Harbor, Quay).
    "error response from daemon",
    "/v2/",
    "/v1/users/",
    "docker login",
    "goharbor",
    "quay.io",
    "ghcr.io",
    # Kubernetes (kubeconfig, kube-apiserver's request authentication, minikube, k3d,
    # microk8s, OpenShift's oc).
    "kubeconfig",
    "authenticate the request",
    "minikube",
    "microk8s",
    "k3d",
    "openshift",
    # git over HTTPS (git's own messages: "Cloning into", "RPC failed; curl",
    # fetch-pack and index-pack).
    "cloning into",
    "rpc failed; curl",
    "fetch-pack",
    "index-pack",
    "git fetch",
    "git clone",
    "remote: ",
    # Package managers and language toolchains (pip, conda, npm/yarn, NuGet, Go
    # modules, Homebrew, CocoaPods, apt/yum/dnf).
    "pip install",
    "conda install",
    "anaconda",
    "yarn",
    # Yarn 1's report of any failed fetch (its "unexpectedError" message).
    'error an unexpected error occurred: "',
    "nuget",
    "go get",
    "go mod",
    "proxy.golang.org",
    "homebrew",
    "brew install",
    "cocoapods",
    "pod install",
    "apt-get",
    "yum ",
    "dnf ",
    # Cloud SDKs and their endpoints (AWS SDKs, Azure SDK's Azure.Core pipeline,
    # Google API client libraries, gcloud).
    "aws-sdk",
    "awssdk",
    "azure.core",
    "azure.identity",
    "azure.storage",
    "googleapiclient",
    "google.api_core",
    "gcloud",
    "blob.core.windows.net",
    "storage.googleapis.com",
    # OAuth 2.0 / OpenID Connect token and discovery endpoints (RFC 6749, RFC 8414,
    # OpenID Connect Discovery 1.0).
    "/oauth/token",
    "/oauth2/token",
    "token endpoint",
    "openid-configuration",
    "jwks",
    ".well-known/",
    # Proxies, VPNs and tunnels (Clash and V2Ray "dial proxy", Shadowsocks, Trojan,
    # WireGuard, OpenConnect, Cisco AnyConnect, FortiClient, strongSwan/IPsec,
    # Tailscale, ZeroTier, proxychains).
    "dial proxy",
    "proxy error",
    "v2ray",
    "xray",
    "clash",
    "shadowsocks",
    "wireguard",
    "openconnect",
    "anyconnect",
    "forticlient",
    "strongswan",
    "ipsec",
    "tailscale",
    "zerotier",
    "proxychains",
    # DNS over TLS/HTTPS clients (RFC 7858, RFC 8484: /dns-query; dnscrypt-proxy).
    "dns-query",
    "dnscrypt",
    "dns over https",
    "dns-over-https",
    # Web requests described as such and webhooks' deliveries.
    "api request",
    "http request",
    "https request",
    "rest api",
    "graphql",
    # The same in Chinese ("HTTP request", "HTTPS protocol").
    "http请求",
    "https请求",
    "https协议",
    "could not send webhook",
    # Browsers' certificate pages (Chrome's interstitials, Firefox's error codes
    # other than NSS's mail-shared ones).
    "your connection is not private",
    "can't provide a secure connection",
    "can’t provide a secure connection",
    "sec_error_",
    # Monitoring and observability agents that are not mail senders.
    "prometheus",
    "telegraf",
    "influxdb",
    "datadog",
    "opentelemetry",
    "otlp",
    "elastic.co",
    "kibana",
    "logstash",
    "filebeat",
    "fluentd",
    "fluent-bit",
    # Secrets, service discovery and key-value stores (HashiCorp's Vault and Consul,
    # etcd).
    "hashicorp",
    "etcd",
    # Remote management (WinRM's WS-Management, PowerShell remoting).
    "winrm",
    "wsman",
    # MQTT clients: libmosquitto's mosquitto_strerror(MOSQ_ERR_TLS) and the
    # mosquitto_pub/sub log formats ("OpenSSL Error[0]: ...", "Client x sending
    # CONNECT"), Eclipse Paho's connect-failure callback.
    "a tls error occurred",
    "openssl error[",
    "sending connect",
    "paho",
    # conda's repodata fetch ("Fetching package metadata: SSL verification error") and
    # its subcommands.
    "fetching package metadata",
    "conda search",
    "conda create",
    "conda update",
    # Database connection strings and Prisma's engine errors ("P1011: Error opening a
    # TLS connection ... review your connection string").
    "connection string",
    "prisma",
    # Node's got and request HTTP clients name their failures RequestError.
    "requesterror",
    # GNU Wget's own messages (src/http.c, src/gnutls.c, src/openssl.c, src/host.c):
    # its CA-file notice, its TLS failure after a connect, its certificate errors.
    "loaded ca certificate '",
    "unable to establish ssl connection",
    "error: the certificate of ",
    "the certificate's owner does not match hostname",
    # PHP's URL-aware stream functions fetching a page (PHP manual: file_get_contents,
    # "Failed to open stream: HTTP request failed"); PHP mailers open their SMTP
    # streams with stream_socket_client, never with these.
    "file_get_contents(",
    "http request failed!",
    # Node's database and cache drivers and ORMs, named by their package folders in
    # a stack frame, their log prefix or their own errors: node-postgres
    # (lib/connection.js: "The server does not support SSL connections"), mysql2 and
    # mysqljs (error codes HANDSHAKE_SSL_ERROR, HANDSHAKE_NO_SSL_SUPPORT,
    # PROTOCOL_CONNECTION_LOST), ioredis ("[ioredis] Unhandled error event"),
    # node-redis, the MongoDB driver, Sequelize, TypeORM, Knex.
    "node_modules/pg/",
    "node_modules/pg-pool/",
    "the server does not support ssl connections",
    "node_modules/mysql2/",
    "node_modules/mysql/",
    "handshake_ssl_error",
    "handshake_no_ssl_support",
    "protocol_connection_lost",
    # mysqljs and mysql2 copy a connect timeout's code into a field of their own.
    "errorno: '",
    "ioredis",
    "node_modules/redis/",
    "node_modules/@redis/",
    "node_modules/mongodb/",
    "sequelize",
    "typeorm",
    "node_modules/knex/",
    # SQL Server's Node driver tedious (lib/errors.js ConnectionError, in its package
    # folder).
    "node_modules/tedious/",
    # Go's net/http server logging a client's failed handshake (net/http server.go:
    # "http: TLS handshake error from %s: %v"): a web server's own log of an incoming
    # connection, not a client's failure to reach a mail server.
    "http: tls handshake error from",
)

# URL schemes of other protocols (IANA URI Schemes registry: mqtt, mqtts (provisional),
# amqp(s), ldap(s), redis, rediss, postgres(ql), mysql, mongodb(+srv), ws(s), nats,
# kafka, grpc(s); JDBC's "jdbc:" URLs). Not ssl:// or tls://: PHP's stream wrappers
# carry SMTP as well.
_SCHEMES: Final = (
    r"\b(?:mqtts?|amqps?|ldaps?|rediss?|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?"
    r"|wss?|nats|kafka|grpcs?|sqlserver|clickhouse|cassandra|neo4j|bolt|couchbase"
    r"|s3|gs|oci|docker|git|svn|ssh|sftp|ftps|smb|nfs|rtsp|rtmps?|sips?|xmpp|irc|ircs)"
    r"://"
)
# Well-known ports of services that are not mail, written as a host's port or after
# "port" (IANA Service Name and Transport Protocol Port Number Registry: 80 http, 636
# ldaps, 853 domain-s, 989/990 ftps, 992 telnets, 2376 docker-s, 2379/2380 etcd, 3269
# msft-gc-ssl, 5061 sips, 5671 amqps, 5986 wsmans, 6697 ircs-u, 8883 secure-mqtt; by
# the products' documentation: Apple's 5223 and legacy 2195/2196 for APNs, Kafka's 9093
# SSL listener, Azure Cache for Redis's 6380, NATS's 4222, Vault's 8200, development
# web servers' 8000, RabbitMQ's management 15672, Kubernetes' kubelet 10250,
# Elasticsearch's 9300). 993 and 995 (IMAPS, POP3S) are mail and absent.
_PORTS: Final = (
    r"(?:\bport\W{1,3}|[\w\])]:)"
    r"(?:80|636|853|989|990|992|2195|2196|2376|2379|2380|3269|4222|5061|5223|5671|5986|"
    r"6380|6697|8000|8200|8883|9093|9300|10250|15672)\b(?![.:]\d)"
)
# A client's server address setting given as an http:// or https:// URL with its port
# ("currentServerAddr:http://127.0.0.1:8848", "endpoint=https://10.0.0.5:9443"): an
# HTTP client's connection, whatever errno follows. Mail ports written so are left to
# the mail words; a URL merely mentioned (a web UI's address) is not a setting.
_HTTP_ADDRESS: Final = (
    r"(?:addr(?:ess)?|server|endpoint|url|uri|host)\s{0,2}[:=]\s{0,2}['\"]?"
    r"https?://[\w.-]+:(?!(?:25|465|587|2525)\b)\d{2,5}\b(?![.:]\d)"
)
# Go's url.Error: 'Get "https://host/path": <error>', and the same without a verb
# ('"https://host/list.dat": x509: ...'): a URL followed by the request's failure.
_GO_URL_ERROR: Final = (
    r"https?://[^\s\"']+\\?[\"']?: (?:x509|tls:|dial tcp|read tcp|write tcp|"
    r"remote error|net/http|eof|context deadline|proxyconnect|http2:)"
)

# A failed lookup of a bare service name as container networks resolve them (Docker
# Compose, Kubernetes services): "getaddrinfo EAI_AGAIN api", "ENOTFOUND postgres",
# "hostname: 'redis'". Such names are an application's back ends, never its mail relay.
_SERVICE_LOOKUP: Final = (
    r"(?:getaddrinfo (?:eai_again|enotfound) |hostname: ')"
    r"(?:api|backend|db|database|redis|postgres(?:ql)?|mysql|mariadb|mongo(?:db)?|"
    r"rabbitmq|kafka|elasticsearch|minio|keycloak)\b(?![.-])|"
    # ... and a web or API endpoint's name ("www.", "api.", "cdn."), which a mail
    # client is never configured with.
    r"(?:getaddrinfo (?:eai_again|enotfound) |hostname: '|lookup )"
    r"(?:www|api|cdn|registry)\.[\w-]+\."
)
# GNU Wget's progress lines (src/http.c, src/host.c, src/connect.c): the request's
# header "--2024-05-02 09:14:07--  https://host/path", "Resolving host (host)... " and
# "Connecting to host (host)|1.2.3.4|:443... ", each ending in wget's three dots.
_WGET: Final = (
    r"^--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d--  (?:https?|ftps?)://|"
    r"^resolving \S+ \(\S+\)\.\.\. |"
    r"^connecting to \S+(?: \(\S+\))?(?:\|[\da-f.:]+\|)?:\d+\.\.\. "
)
# An `openssl s_client` command line that speaks TLS from the start to a port that is
# no mail port (OpenSSL's s_client manual: -connect host:port, -starttls protocol): a
# test of a web, database or other service. A mail test names -starttls, 465 or a
# host named as a mail server (mail., smtp., mx.).
_S_CLIENT: Final = (
    r"\bs_client\b(?![^\n]*(?:-starttls|[\s=/](?:mail|smtp|mx)\d*\.))"
    r"[^\n]*-connect[ =]\S+:"
    r"(?!(?:25|465|587|2525|110|143|993|995)\b)\d+\b"
)
# libcurl's own messages (lib/strerror.c, vtls: "SSL certificate problem: ...",
# "Failed to connect to HOST port N after N ms: Couldn't connect to server", "Could
# not resolve host: ...", its TLS backend's name before OpenSSL's reason,
# "OpenSSL/3.0.11: error:0A00010B:...") in a PHP exception or warning line
# ("... in /app/x.php:8"):
# PHP's mailers (PHPMailer, Symfony Mailer, SwiftMailer) speak SMTP over PHP's own
# streams, so a PHP program quoting libcurl was fetching a URL.
_PHP_LIBCURL: Final = (
    r"(?:ssl certificate problem: |couldn't connect to server|could not resolve host: |"
    r"(?:operation|connection) timed out after \d+ milliseconds|"
    r"no alternative certificate subject name matches|"
    r"failed to connect to \S+ port \d+|"
    r"\bopenssl/\d[\w.]*: |"
    r"certificate subject name '[^'\n]*' does not match)"
    r"[^\n]* in (?:/|[a-z]:\\)[^\n]*\.php(?::\d+| on line \d+)"
)
# mysqljs and mysql2 mark a connection's own failure "fatal: true" on the error object
# (lib/protocol/Protocol.js, lib/connection.js), as util.inspect prints it.
_MYSQLJS_FATAL: Final = r"^[ \t]+fatal: true,?$"
OTHER_RE: Final = re.compile(
    "|".join(
        (
            _SCHEMES,
            _PORTS,
            _HTTP_ADDRESS,
            _GO_URL_ERROR,
            _SERVICE_LOOKUP,
            _WGET,
            _S_CLIENT,
            _MYSQLJS_FATAL,
            _PHP_LIBCURL,
        )
    ),
    re.MULTILINE,
)

__all__ = ["DECISIVE", "OTHER", "OTHER_RE"]
