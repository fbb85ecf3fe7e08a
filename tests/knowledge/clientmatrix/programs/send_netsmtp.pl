# Send one message with Perl's Net::SMTP (libnet), as a script does.
use strict;
use warnings;
use JSON::PP;
use Net::SMTP;

my $run = decode_json($ARGV[0]);
my $smtp = Net::SMTP->new(
    $run->{host},
    Port        => $run->{port},
    Timeout     => $run->{timeout},
    SSL         => $run->{mode} eq 'tls',
    SSL_ca_file => $run->{cafile},
) or die "Cannot connect to $run->{host}: $@\n";
if ($run->{mode} eq 'starttls') {
    $smtp->starttls(SSL_ca_file => $run->{cafile})
        or die "STARTTLS failed: " . ($smtp->message // '') . ($IO::Socket::SSL::SSL_ERROR // '') . "\n";
}
if ($run->{user}) {
    $smtp->auth($run->{user}, $run->{password})
        or die "Authentication failed: " . $smtp->code . " " . $smtp->message;
}
$smtp->mail($run->{from}) or die "MAIL FROM failed: " . $smtp->code . " " . $smtp->message;
$smtp->to($run->{to}) or die "RCPT TO failed: " . $smtp->code . " " . $smtp->message;
$smtp->data() or die "DATA failed: " . $smtp->code . " " . $smtp->message;
$smtp->datasend("Subject: report\n\nNightly report attached.\n");
$smtp->dataend() or die "Sending failed: " . $smtp->code . " " . $smtp->message;
$smtp->quit;
