"""
A mail domain's transport security as senders enforce it
(``smtpbot check DOMAIN --mx``): its MX hosts probed on port 25, MTA-STS
(RFC 8461), DANE (RFC 7672) and TLS-RPT (RFC 8460), with one verdict for the domain.

    check    check_domain: DNS, policy preflight, probes, fetch       asyncio
    lookup   DNS through the system resolver, AD/DO                   dnspython
    fetch    the MTA-STS policy over HTTPS, bounded                   asyncio, ssl
    mtasts   record and policy parsing, mx patterns                   pure
    dane     TLSA records and certificate matching                    pure
    tlsrpt   the TLS-RPT record                                       pure
    stsjudge MTA-STS over the probes                                  pure
    danejudge DANE over the probes                                    pure
    judge    the domain's verdict; what the judges share              pure
    model    the records                                              pure
    render   the JSON object and the text report                      pure
"""
