package s3_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/store/s3"
)

// TestCABundleFromEnvironment: a server whose certificate no system root
// signs (a self-hosted S3 over TLS) is trusted through AWS_CA_BUNDLE, the
// AWS SDK's own setting; logship has no CA option of its own and needs
// none as long as its HTTP client stays one the SDK can add roots to.
func TestCABundleFromEnvironment(t *testing.T) {
	f, _ := newFake(t)
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	cfg := f.config(srv)
	cfg.MaxAttempts = 1

	t.Setenv("AWS_CA_BUNDLE", "")
	if _, err := s3.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Open without the CA bundle: got %v, want a certificate error", err)
	}

	bundle := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, block, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	if _, err := s3.Open(context.Background(), cfg); err != nil {
		t.Fatalf("Open with AWS_CA_BUNDLE: %v", err)
	}
}
