package restore

import (
	"slices"
	"testing"
)

func TestF12_ServerEnvDropsSourceSecrets(t *testing.T) {
	in := []string{"PATH=/bin", "LOGSHIP_PG=host=x password=s", "PGPASSWORD=s", "PGPORT=1", "HOME=/root",
		"LOGSHIP_STORE=file:///s", "LOGSHIP_PGX=keep", "AWS_PROFILE=dr"}
	want := []string{"PATH=/bin", "LOGSHIP_STORE=file:///s", "LOGSHIP_PGX=keep", "AWS_PROFILE=dr"}
	if got := serverEnv(in); !slices.Equal(got, want) {
		t.Fatalf("serverEnv = %q, want %q", got, want)
	}
}
