// Send one message with Jakarta Mail, as an application does.
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.util.Properties;

public class Send {
    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1], mode = args[2], timeout = args[3];
        String user = args.length > 4 ? args[4] : null, password = args.length > 5 ? args[5] : null;
        Properties props = new Properties();
        props.put("mail.smtp.host", host);
        props.put("mail.smtp.port", port);
        props.put("mail.smtp.connectiontimeout", timeout);
        props.put("mail.smtp.timeout", timeout);
        props.put("mail.smtp.ssl.enable", String.valueOf(mode.equals("tls")));
        props.put("mail.smtp.starttls.enable", String.valueOf(mode.equals("starttls")));
        props.put("mail.smtp.starttls.required", String.valueOf(mode.equals("starttls")));
        props.put("mail.smtp.ssl.checkserveridentity", "true");
        props.put("mail.smtp.auth", String.valueOf(user != null));
        Session session = Session.getInstance(props);
        Message message = new MimeMessage(session);
        message.setFrom(new InternetAddress("app@client.test"));
        message.setRecipients(Message.RecipientType.TO, InternetAddress.parse("ops@mail.test"));
        message.setSubject("report");
        message.setText("Nightly report attached.");
        if (user != null) {
            Transport.send(message, user, password);
        } else {
            Transport.send(message);
        }
    }
}
