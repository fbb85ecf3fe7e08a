// nodemailer's smtp-server on 127.0.0.1, configured by one JSON argument, for the probe
// tests. Prints "LISTENING <port>" once it accepts connections and exits when its
// standard input closes (so it never outlives the test that started it).
"use strict";
const fs = require("fs");
const { SMTPServer } = require("smtp-server");

const options = JSON.parse(process.argv[2] || "{}");
const config = {
  name: options.name || "mail.test",
  banner: options.banner || "smtp-server test peer",
  secure: Boolean(options.secure),
  hideSTARTTLS: Boolean(options.hideSTARTTLS),
  allowInsecureAuth: Boolean(options.allowInsecureAuth),
  authOptional: options.authOptional !== false,
  authMethods: options.authMethods || ["PLAIN", "LOGIN"],
  disabledCommands: options.disabledCommands || [],
  logger: false,
  onAuth(auth, session, callback) {
    callback(new Error("Invalid username or password"));
  },
  onData(stream, session, callback) {
    stream.resume();
    stream.on("end", () => callback());
  },
};
// Without a key and certificate, smtp-server uses its own built-in self-signed pair.
if (options.key) config.key = fs.readFileSync(options.key);
if (options.cert) config.cert = fs.readFileSync(options.cert);
if (options.minVersion) config.minVersion = options.minVersion;
if (options.maxVersion) config.maxVersion = options.maxVersion;

const server = new SMTPServer(config);
server.on("error", (err) => process.stderr.write(`smtp-server: ${err.message}\n`));
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${server.server.address().port}\n`);
});
process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
