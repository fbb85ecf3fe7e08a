<?php
// Send one message with PHPMailer, as its README's example does (server dialogue shown).
use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\SMTP;
use PHPMailer\PHPMailer\Exception;

require '/usr/share/php/libphp-phpmailer/autoload.php';

$run = json_decode($argv[1], true);
$mail = new PHPMailer(true);
try {
    $mail->SMTPDebug = SMTP::DEBUG_SERVER;
    $mail->isSMTP();
    $mail->Host = $run['host'];
    $mail->Port = $run['port'];
    $mail->Timeout = $run['timeout'];
    $mail->getSMTPInstance()->Timelimit = $run['timeout'];
    if ($run['mode'] === 'tls') {
        $mail->SMTPSecure = PHPMailer::ENCRYPTION_SMTPS;
    } elseif ($run['mode'] === 'starttls') {
        $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
    } else {
        $mail->SMTPAutoTLS = false;
    }
    $mail->SMTPOptions = ['ssl' => ['cafile' => $run['cafile']]];
    if (!empty($run['user'])) {
        $mail->SMTPAuth = true;
        $mail->Username = $run['user'];
        $mail->Password = $run['password'];
    }
    $mail->setFrom($run['from']);
    $mail->addAddress($run['to']);
    $mail->Subject = 'report';
    $mail->Body = 'Nightly report attached.';
    $mail->send();
} catch (Exception $e) {
    echo "Message could not be sent. Mailer Error: {$mail->ErrorInfo}\n";
    exit(1);
}
