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

// The attack of docs/SECURITY.md: PostgreSQL archives to a bucket with
// Object Lock through --s3-object-lock; then the primary's credentials
// overwrite every object and delete every other one. Restores with
// --s3-read-original still reach every mark, data-exact.
func TestS3ObjectLockAttack(t *testing.T) {
	t.Parallel()
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

	// The attack, with the credentials the primary has.
	var keys []string
	pages := awss3.NewListObjectsV2Paginator(raw, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) < 10 {
		t.Fatalf("only %d objects in the bucket: %v", len(keys), keys)
	}
	for i, k := range keys {
		if _, err := raw.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("ransom")}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	if r := logship(t, nil, append(flags, "verify", "--deep", "--no-record")...); r.code == 0 {
		t.Fatalf("verify passes on the attacked bucket read as usual: the attack did nothing\n%s", r.stdout)
	}
	origFlags := append(append([]string{}, flags...), "--s3-read-original")
	mustLogship(t, nil, append(origFlags, "verify", "--deep", "--no-record")...)
	for _, m := range []string{"m1", "m2"} {
		r, out := restoreAndStart(t, origFlags, "--mark", m, "--no-archive")
		if got := stateOf(t, r.query); got != want[m] {
			t.Fatalf("restored %s after the attack: %+v, want %+v (reached %+v)", m, got, want[m], out.Reached)
		}
	}
}
