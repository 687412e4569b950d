package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// The SDK's warnings come out through the logger given in Config, in its
// format: with a JSON handler, a JSON record.
func TestSDKWarningsGoThroughSlog(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	cfg, err := Config{Bucket: "bucket", Endpoint: "http://127.0.0.1:1", Logger: log}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	client, _, err := newClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sdk, ok := client.Options().Logger.(sdkLogger)
	if !ok {
		t.Fatalf("the client logs to %T, not the given logger", client.Options().Logger)
	}
	sdk.Logf(logging.Warn, "retry %d of %s", 3, "GetObject")
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %v: %s", err, out.String())
	}
	if rec["level"] != "WARN" || rec["msg"] != "retry 3 of GetObject" || rec["component"] != "aws-sdk" {
		t.Errorf("record %v", rec)
	}
}
