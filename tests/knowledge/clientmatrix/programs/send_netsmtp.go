// Send one message with Go's net/smtp, as an application does.
package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/smtp"
	"os"
	"time"
)

type run struct {
	Host, Mode, User, Password, From, To string
	Port                                 int
	Timeout                              float64
}

func main() {
	var r run
	if err := json.Unmarshal([]byte(os.Args[1]), &r); err != nil {
		log.Fatal(err)
	}
	addr := net.JoinHostPort(r.Host, fmt.Sprint(r.Port))
	dialer := &net.Dialer{Timeout: time.Duration(r.Timeout * float64(time.Second))}
	config := &tls.Config{ServerName: r.Host}
	var conn net.Conn
	var err error
	if r.Mode == "tls" {
		conn, err = tls.DialWithDialer(dialer, "tcp", addr, config)
	} else {
		conn, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		log.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(dialer.Timeout))
	c, err := smtp.NewClient(conn, r.Host)
	if err != nil {
		log.Fatal(err)
	}
	if r.Mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			log.Fatal("smtp: server doesn't support STARTTLS")
		}
		if err := c.StartTLS(config); err != nil {
			log.Fatal(err)
		}
	}
	if r.User != "" {
		if err := c.Auth(smtp.PlainAuth("", r.User, r.Password, r.Host)); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.Mail(r.From); err != nil {
		log.Fatal(err)
	}
	if err := c.Rcpt(r.To); err != nil {
		log.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprint(w, "Subject: report\r\n\r\nNightly report attached.\r\n")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	c.Quit()
}
