# Send one message with Ruby's net/smtp, as an application does.
require "json"
require "net/smtp"
require "openssl"

run = JSON.parse(ARGV[0])
context = OpenSSL::SSL::SSLContext.new
context.set_params(ca_file: run["cafile"], verify_mode: OpenSSL::SSL::VERIFY_PEER)
smtp = Net::SMTP.new(run["host"], run["port"])
smtp.open_timeout = run["timeout"]
smtp.read_timeout = run["timeout"]
case run["mode"]
when "tls" then smtp.enable_tls(context)
when "starttls" then smtp.enable_starttls(context)
else smtp.disable_starttls
end
auth = run["user"] ? [run["user"], run["password"], :plain] : []
smtp.start("client.test", *auth) do |session|
  session.send_message("Subject: report\r\n\r\nNightly report attached.\r\n", run["from"], run["to"])
end
