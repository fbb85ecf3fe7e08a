"""Sending services' API refusals of a From domain not verified in the account."""

from __future__ import annotations

import pytest

from knowledge.matcher import Matcher

ENTRY = "esp-api-sending-domain-not-verified"


@pytest.mark.parametrize(
    "text",
    [
        # Resend's API answer (its documentation's 403 for an unverified domain).
        '{\n  "statusCode": 403,\n  "name": "validation_error",\n  "message": "The '
        "news.example.org domain is not verified. Please, add and verify your domain "
        'on https://resend.com/domains"\n}',
        # python-sparkpost's SparkPostAPIException, as its own example prints it.
        "sparkpost.exceptions.SparkPostAPIException: Call to "
        "https://api.sparkpost.com/api/v1/transmissions returned 400, errors:\n\n"
        "Invalid domain Code: 7001 Description: Unconfigured Sending Domain "
        "<example.org>",
        # Amazon SES v2 through boto3.
        "botocore.errorfactory.MailFromDomainNotVerifiedException: An error occurred "
        "(MailFromDomainNotVerifiedException) when calling the SendEmail operation: "
        "The message can't be sent because the sending domain isn't verified.",
        # An SMTP relay's refusal after DATA.
        "SMTPDataError: (530, b'From/Sender domain is not verified for this "
        "workspace. From: alerts@example.org')",
    ],
)
def test_an_unverified_sending_domain_is_answered(shipped: Matcher, text: str) -> None:
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == "sender-not-permitted"
    assert diagnosis.entry is not None and diagnosis.entry.id == ENTRY


def test_the_same_service_s_tls_failure_is_not_a_sender_refusal(
    shipped: Matcher,
) -> None:
    """Naming the service is not enough: its HTTPS client's TLS error is not it."""
    text = (
        'requests.exceptions.SSLError: HTTPSConnectionPool(host="api.resend.com", '
        "port=443): Max retries exceeded with url: /emails (Caused by SSLError("
        "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
        "verify failed: self-signed certificate in certificate chain')))"
    )
    assert shipped.diagnose(text).category != "sender-not-permitted"
