// Send one message with nodemailer, as a Node.js application does.
const nodemailer = require("nodemailer");
const fs = require("fs");

const run = JSON.parse(process.argv[2]);
const transporter = nodemailer.createTransport({
  host: run.host,
  port: run.port,
  secure: run.mode === "tls",
  requireTLS: run.mode === "starttls",
  ignoreTLS: run.mode === "plain",
  auth: run.user ? { user: run.user, pass: run.password } : undefined,
  tls: { ca: [fs.readFileSync(run.cafile)] },
  connectionTimeout: run.timeout * 1000,
  greetingTimeout: run.timeout * 1000,
  socketTimeout: run.timeout * 1000,
});
transporter
  .sendMail({ from: run.from, to: run.to, subject: "report", text: "Nightly report attached." })
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
