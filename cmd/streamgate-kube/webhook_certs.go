package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile and keyFile and reads them
// again when either file changes: cert-manager renews the Secret, and the
// kubelet swaps the mounted files, while the webhook keeps running.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	certMod time.Time
	keyMod  time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.get()
}

func (r *certReloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certInfo, err1 := os.Stat(r.certFile)
	keyInfo, err2 := os.Stat(r.keyFile)
	if err1 == nil && err2 == nil && r.cert != nil && certInfo.ModTime().Equal(r.certMod) && keyInfo.ModTime().Equal(r.keyMod) {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.cert != nil {
			// A renewal caught half-written: keep serving the previous pair.
			return r.cert, nil
		}
		return nil, fmt.Errorf("loading the TLS certificate -tls-cert %s and key -tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert = &cert
	if err1 == nil && err2 == nil {
		r.certMod, r.keyMod = certInfo.ModTime(), keyInfo.ModTime()
	}
	return r.cert, nil
}
