package main_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// grepS3 lists every object under the --store prefix of flags through the
// S3 API, GETs each, and returns the keys whose bytes (or zstd decodings)
// hold marker, and how many objects it read.
func grepS3(t *testing.T, flags []string, marker []byte) (hits []string, objects int) {
	t.Helper()
	var url string
	for i, f := range flags {
		if f == "--store" && i+1 < len(flags) {
			url = flags[i+1]
		}
	}
	bucket, prefix, ok := strings.Cut(strings.TrimPrefix(url, "s3://"), "/")
	if !ok {
		t.Fatalf("no s3://bucket/prefix in %v", flags)
	}
	ctx := context.Background()
	raw := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(os.Getenv("LOGSHIP_TEST_S3_ENDPOINT")), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}, nil
		}),
	})
	pages := awss3.NewListObjectsV2Paginator(raw, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := raw.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("GET %s: %v", aws.ToString(o.Key), err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("GET %s: %v", aws.ToString(o.Key), err)
			}
			objects++
			if containsAnywhere(b, marker) {
				hits = append(hits, aws.ToString(o.Key))
			}
		}
	}
	return hits, objects
}
