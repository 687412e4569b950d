package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// lockedArchive is a source archived by PostgreSQL into a bucket with
// Object Lock through --s3-object-lock, with a backup and the marks m1
// and m2 (want: the data at each).
type lockedArchive struct {
	raw    *awss3.Client // the primary's credentials, without logship
	bucket string
	flags  []string // --store … --source …, without --s3-object-lock
	want   map[string]dataState
}

func newLockedArchive(t *testing.T) lockedArchive {
	t.Helper()
	flags := s3Flags(t)
	endpoint := os.Getenv("LOGSHIP_TEST_S3_ENDPOINT")
	ctx := context.Background()
	raw := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}, nil
		}),
	})
	var rnd [6]byte
	rand.Read(rnd[:])
	bucket := "logship-attack-" + hex.EncodeToString(rnd[:])
	if _, err := raw.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Skipf("the S3 test server cannot create a bucket with Object Lock: %v", err)
	}
	flags[1] = "s3://" + bucket + "/cli"
	lockFlags := append(append([]string{}, flags...), "--s3-object-lock", "GOVERNANCE:1")

	var awsEnv []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			awsEnv = append(awsEnv, kv)
		}
	}
	c := archivingClusterOn(t, defaultPG, lockFlags, awsEnv)
	pgFlags := append(append([]string{}, lockFlags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	want := map[string]dataState{}
	for i, m := range []string{"m1", "m2"} {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Pgbench(t, "-n", "-t", "50", "-c", "1")
		want[m] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(pgFlags, "mark", m)...)
	}
	waitArchived(t, c, switchWAL(t, c))
	if r := logship(t, nil, append(pgFlags, "check")...); !strings.Contains(r.stdout, "object lock") {
		t.Errorf("check does not report the bucket's Object Lock:\n%s", r.stdout)
	}
	return lockedArchive{raw: raw, bucket: bucket, flags: flags, want: want}
}

// attack is what the primary's stolen credentials can do: overwrite every
// key that hit matches, and delete every other one of them. It answers the
// keys it touched.
func (a lockedArchive) attack(t *testing.T, hit func(key string) bool) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	pages := awss3.NewListObjectsV2Paginator(a.raw, &awss3.ListObjectsV2Input{Bucket: aws.String(a.bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); hit(k) {
				keys = append(keys, k)
			}
		}
	}
	for i, k := range keys {
		if _, err := a.raw.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(k), Body: strings.NewReader("ransom")}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := a.raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return keys
}

// The attack of docs/SECURITY.md: PostgreSQL archives to a bucket with
// Object Lock through --s3-object-lock; then the primary's credentials
// overwrite every object and delete every other one. Restores with
// --s3-read-original still reach every mark, data-exact.
func TestS3ObjectLockAttack(t *testing.T) {
	t.Parallel()
	a := newLockedArchive(t)
	if keys := a.attack(t, func(string) bool { return true }); len(keys) < 10 {
		t.Fatalf("only %d objects in the bucket: %v", len(keys), keys)
	}

	if r := logship(t, nil, append(a.flags, "verify", "--deep", "--no-record")...); r.code == 0 {
		t.Fatalf("verify passes on the attacked bucket read as usual: the attack did nothing\n%s", r.stdout)
	}
	origFlags := append(append([]string{}, a.flags...), "--s3-read-original")
	mustLogship(t, nil, append(origFlags, "verify", "--deep", "--no-record")...)
	for _, m := range []string{"m1", "m2"} {
		r, out := restoreAndStart(t, origFlags, "--mark", m, "--no-archive")
		if got := stateOf(t, r.query); got != a.want[m] {
			t.Fatalf("restored %s after the attack: %+v, want %+v (reached %+v)", m, got, a.want[m], out.Reached)
		}
	}
}

// With --s3-object-lock the records carry the version id of every data
// object written, and reads get exactly that version: after the primary's
// credentials overwrite and delete the WAL, backup parts, manifest and
// mark objects, restores to every mark are data-exact WITHOUT
// --s3-read-original.
func TestS3VersionIDAttack(t *testing.T) {
	t.Parallel()
	a := newLockedArchive(t)
	kinds := map[string]int{}
	for _, k := range a.attack(t, func(k string) bool { return !strings.HasPrefix(k, "cli/t/catalog/") }) {
		switch {
		case strings.HasPrefix(k, "cli/t/wal/"):
			kinds["wal"]++
		case strings.HasSuffix(k, "/backup_manifest"):
			kinds["manifest"]++
		case strings.Contains(k, "/part-"):
			kinds["part"]++
		case strings.HasPrefix(k, "cli/t/marks/"):
			kinds["mark"]++
		}
	}
	if kinds["wal"] < 4 || kinds["manifest"] != 1 || kinds["part"] < 1 || kinds["mark"] != 2 {
		t.Fatalf("the attack touched %v; want WAL, the manifest, parts and both marks", kinds)
	}
	// The attack did something: the keys read as usual are the attacker's.
	if r := logship(t, nil, append(a.flags, "verify", "--no-record")...); r.code == 0 {
		t.Fatalf("verify passes on the attacked bucket: the attack did nothing\n%s", r.stdout)
	}
	for _, m := range []string{"m1", "m2"} {
		r, out := restoreAndStart(t, a.flags, "--mark", m, "--no-archive")
		if got := stateOf(t, r.query); got != a.want[m] {
			t.Fatalf("restored %s after the attack: %+v, want %+v (reached %+v)", m, got, a.want[m], out.Reached)
		}
	}
}
