package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
	"github.com/logship/logship/store/storetest"
)

func TestMain(m *testing.M) {
	// Without credentials the AWS chain would ask the EC2 metadata service
	// at 169.254.169.254; tests send nothing off this machine.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// server is the S3 test server that scripts/s3server started.
type server struct {
	endpoint, bucket string
}

// testServer returns the server from the environment. It skips the test
// when there is none, except in CI (LOGSHIP_REQUIRE_S3=1), where a missing
// server is a failure rather than a silently skipped suite.
func testServer(tb testing.TB) server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs an S3 server: skipped by -short")
	}
	srv := server{os.Getenv("LOGSHIP_TEST_S3_ENDPOINT"), os.Getenv("LOGSHIP_TEST_S3_BUCKET")}
	if srv.endpoint == "" || srv.bucket == "" {
		const how = "scripts/s3server start DIR && . DIR/env"
		if os.Getenv("LOGSHIP_REQUIRE_S3") == "1" {
			tb.Fatalf("LOGSHIP_REQUIRE_S3=1 but LOGSHIP_TEST_S3_ENDPOINT or LOGSHIP_TEST_S3_BUCKET is unset; run %s", how)
		}
		tb.Skipf("no S3 test server; run %s", how)
	}
	return srv
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// freshPrefix gives each test its own prefix, so that tests never see each
// other's objects and need no cleanup between runs.
func freshPrefix(tb testing.TB) string {
	b := make([]byte, 6)
	rand.Read(b)
	name := unsafeChars.ReplaceAllString(tb.Name(), "_")
	return "test/" + name + "-" + hex.EncodeToString(b)
}

func (srv server) config(tb testing.TB) s3.Config {
	return s3.Config{
		Bucket:         srv.bucket,
		Prefix:         freshPrefix(tb),
		Endpoint:       srv.endpoint,
		PathStyle:      true,
		RequestTimeout: 10 * time.Second,
	}
}

func open(tb testing.TB, cfg s3.Config) *s3.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := s3.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open %+v: %v", cfg, err)
	}
	return s
}

// rawClient talks to the test server directly, to look at what the store
// left behind.
func (srv server) rawClient(tb testing.TB) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}, nil
		}),
	})
}

func TestConformance(t *testing.T) {
	srv := testServer(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, srv.config(t)) })
}

// TestConditionalOff checks the HEAD-then-PUT fallback for servers without
// If-None-Match. It cannot pass the suite's concurrent Put: that race is
// the documented price of "off".
func TestConditionalOff(t *testing.T) {
	srv := testServer(t)
	cfg := srv.config(t)
	cfg.ConditionalWrites = "off"
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	for _, size := range []int{10, 6 << 20} {
		key := fmt.Sprintf("off/%d", size)
		data := storetest.Data(uint64(size), size)
		storetest.Put(t, s, key, data)
		err := s.Put(context.Background(), key, bytes.NewReader(storetest.Data(1, size)), int64(size))
		if !errors.Is(err, store.ErrExist) {
			t.Fatalf("second put of %d bytes: %v, want ErrExist", size, err)
		}
		if got := storetest.Get(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("second put of %d bytes changed the object", size)
		}
	}
}

func TestString(t *testing.T) {
	srv := testServer(t)
	cfg := srv.config(t)
	s := open(t, cfg)
	if got, want := s.String(), "s3://"+srv.bucket+"/"+cfg.Prefix; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if strings.Contains(s.String(), os.Getenv("AWS_SECRET_ACCESS_KEY")) {
		t.Error("String() holds the secret key")
	}
}

func TestMultipart(t *testing.T) {
	srv := testServer(t)
	cfg := srv.config(t)
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		size int
	}{
		{"two parts, last one short", 5<<20 + 1},
		{"three parts", 12 << 20},
		{"exact parts", 10 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "mp/" + unsafeChars.ReplaceAllString(tc.name, "_")
			data := storetest.Data(uint64(tc.size), tc.size)
			storetest.Put(t, s, key, data)
			if got := storetest.Get(t, s, key); !bytes.Equal(got, data) {
				t.Fatalf("get: %d bytes differ from the %d put", len(got), len(data))
			}
			err := s.Put(ctx, key, bytes.NewReader(storetest.Data(7, tc.size)), int64(tc.size))
			if !errors.Is(err, store.ErrExist) {
				t.Fatalf("second put: %v, want ErrExist", err)
			}
			if got := storetest.Get(t, s, key); !bytes.Equal(got, data) {
				t.Fatal("second put changed the object")
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		data := storetest.Data(8, 11<<20)
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() { errs <- s.Put(ctx, "mp/race", bytes.NewReader(data), int64(len(data))) }()
		}
		won := 0
		for range cap(errs) {
			if err := <-errs; err == nil {
				won++
			} else if !errors.Is(err, store.ErrExist) {
				t.Errorf("put: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d puts succeeded, want 1", won)
		}
		if got := storetest.Get(t, s, "mp/race"); !bytes.Equal(got, data) {
			t.Error("content differs")
		}
	})

	t.Run("cancelled mid-upload leaves nothing", func(t *testing.T) {
		data := storetest.Data(9, 15<<20)
		cctx, cancel := context.WithCancel(ctx)
		body := &cancelAfter{Reader: bytes.NewReader(data), n: 7 << 20, cancel: cancel}
		if err := s.Put(cctx, "mp/cancelled", body, int64(len(data))); err == nil {
			t.Fatal("put: no error after cancel")
		}
		storetest.AssertAbsent(t, s, "mp/cancelled")
		assertNoUploads(t, srv, cfg.Prefix)
	})

	assertNoUploads(t, srv, cfg.Prefix)
}

// cancelAfter cancels a context once n bytes were read through it.
type cancelAfter struct {
	*bytes.Reader
	n      int64
	read   int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += int64(n)
	if c.read >= c.n {
		c.cancel()
	}
	return n, err
}

// assertNoUploads checks that no multipart upload was left open under
// prefix: failed uploads must be aborted.
func assertNoUploads(t *testing.T, srv server, prefix string) {
	t.Helper()
	out, err := srv.rawClient(t).ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{
		Bucket: aws.String(srv.bucket), Prefix: aws.String(prefix + "/"),
	})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %s left open", aws.ToString(u.Key))
	}
}

// TestOpenRealErrors checks the configuration errors a real server leads
// to, with the credentials and bucket a user could get wrong.
func TestOpenRealErrors(t *testing.T) {
	srv := testServer(t)
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY")
	for _, tc := range []struct {
		name, key, secret, bucket string
		err                       string
	}{
		{"unknown key", "AKIDUNKNOWN", secret, srv.bucket, "does not know the AWS access key ID"},
		{"wrong secret", os.Getenv("AWS_ACCESS_KEY_ID"), "wrong-secret-not-to-be-printed", srv.bucket, "secret access key does not match"},
		{"missing bucket", os.Getenv("AWS_ACCESS_KEY_ID"), secret, "no-such-bucket-here", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", tc.key)
			t.Setenv("AWS_SECRET_ACCESS_KEY", tc.secret)
			cfg := srv.config(t)
			cfg.Bucket = tc.bucket
			_, err := s3.Open(context.Background(), cfg)
			if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want ErrConfig with %q", err, tc.err)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

// TestEndpointFromEnvironment checks that the SDK's AWS_ENDPOINT_URL is
// honoured, with path-style addressing for an IP endpoint.
func TestEndpointFromEnvironment(t *testing.T) {
	srv := testServer(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.endpoint)
	cfg := srv.config(t)
	cfg.Endpoint = ""
	cfg.PathStyle = false
	s := open(t, cfg)
	storetest.Put(t, s, "k", []byte("v"))
	if got := storetest.Get(t, s, "k"); string(got) != "v" {
		t.Fatalf("got %q", got)
	}
}
