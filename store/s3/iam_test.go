package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// iamUser is one of the users scripts/s3server creates for the IAM roles.
type iamUser struct{ access, secret string }

func iamUsers(t *testing.T) map[string]iamUser {
	raw := os.Getenv("LOGSHIP_TEST_S3_IAM_USERS")
	if raw == "" {
		t.Skip("no IAM test users: scripts/s3server start creates them")
	}
	users := map[string]iamUser{}
	for _, f := range strings.Fields(raw) {
		p := strings.SplitN(f, ":", 3)
		if len(p) == 3 {
			users[p[0]] = iamUser{p[1], p[2]}
		}
	}
	return users
}

var policyBlock = regexp.MustCompile("(?s)\n### (Primary|DR site|Retention job)[^\n]*\n.*?```json\n(.*?)```")

// securityPolicies reads the three policies of docs/SECURITY.md and makes
// them one bucket policy, each statement for its role's user: the test
// checks the documented JSON itself.
func securityPolicies(t *testing.T, bucket, prefix string, users map[string]iamUser) string {
	doc, err := os.ReadFile("../../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	role := map[string]string{"Primary": "primary", "DR site": "dr", "Retention job": "retention"}
	var all []map[string]any
	blocks := policyBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) != 3 {
		t.Fatalf("docs/SECURITY.md has %d policies, want the primary's, the DR site's and the retention job's", len(blocks))
	}
	for _, m := range blocks {
		text := strings.NewReplacer("BUCKET", bucket, "PREFIX", prefix).Replace(m[2])
		var p struct{ Statement []map[string]any }
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatalf("policy of %s in docs/SECURITY.md: %v", m[1], err)
		}
		for _, st := range p.Statement {
			st["Sid"] = role[m[1]] + st["Sid"].(string)
			st["Principal"] = map[string]any{"AWS": []string{users[role[m[1]]].access}}
			all = append(all, st)
		}
	}
	out, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": all})
	return string(out)
}

// TestIAMPolicies puts the documented policies on a bucket of versitygw
// and checks what each role may do: the primary writes and reads but
// deletes only transient objects, the DR site only reads, the retention
// job reads and deletes; nobody reaches outside the prefix.
func TestIAMPolicies(t *testing.T) {
	srv := testServer(t)
	users := iamUsers(t)
	ctx := context.Background()
	root := srv.rawClient(t)
	bucket := policyBucket(t, root, users, false)
	versioned := policyBucket(t, root, users, true)
	client := func(u iamUser) *awss3.Client {
		return awss3.New(awss3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.endpoint), UsePathStyle: true,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: u.access, SecretAccessKey: u.secret}, nil
			}),
		})
	}
	put := func(c *awss3.Client, k string) error {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k),
			Body: bytes.NewReader([]byte("x")), IfNoneMatch: aws.String("*"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		return err
	}
	get := func(c *awss3.Client, k string) error {
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	del := func(c *awss3.Client, k string) error {
		_, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		return err
	}
	data := []string{"pfx/main/wal/000000010000000000000001", "pfx/main/catalog/backups/20261127T0433Z.json", "pfx/main/backups/20261127T0433Z/part-000001", "pfx/_groups/g/m.json"}
	transient := []string{"pfx/main/check/probe-1", "pfx/.check-probe-1", "pfx/main/catalog/leases/a~000001.json",
		"pfx/main/catalog/marknames/m", "pfx/main/catalog/pins/mark~m", "pfx/main/verify/x.delta"}
	outside := []string{"other/main/wal/000000010000000000000001"}
	// may[role][op] says which keys the role may put, get or delete.
	type rights struct{ put, get, del []string }
	both := append(append([]string{}, data...), transient...)
	may := map[string]rights{
		"primary":   {put: both, get: both, del: transient},
		"dr":        {get: both},
		"retention": {get: both, del: both},
	}
	in := func(l []string, k string) bool {
		for _, x := range l {
			if x == k {
				return true
			}
		}
		return false
	}
	check := func(who, op, k string, err error, want bool) {
		t.Helper()
		switch {
		case want && err != nil:
			t.Errorf("%s may %s %s, but: %v", who, op, k, err)
		case !want && err == nil:
			t.Errorf("%s must not %s %s, but could", who, op, k)
		case !want && !strings.Contains(err.Error(), "AccessDenied"):
			t.Errorf("%s %s %s: %v, want AccessDenied", who, op, k, err)
		}
	}
	for who, r := range may {
		c := client(users[who])
		versionRights(t, root, c, versioned, who)
		if _, err := c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("%s: head bucket: %v", who, err)
		}
		if _, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("pfx/")}); err != nil {
			t.Errorf("%s: list: %v", who, err)
		}
		for _, k := range append(append([]string{}, both...), outside...) {
			_ = del(root, k)
			check(who, "put", k, put(c, k), in(r.put, k))
			if err := put(root, k); err != nil && !in(r.put, k) {
				t.Fatal(err)
			}
			check(who, "get", k, get(c, k), in(r.get, k))
			check(who, "delete", k, del(c, k), in(r.del, k))
		}
	}
}

// policyBucket creates a bucket with the policies of docs/SECURITY.md,
// versioned or not.
func policyBucket(t *testing.T, root *awss3.Client, users map[string]iamUser, versioned bool) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	bucket := "logship-iam-" + hex.EncodeToString(b)
	if _, err := root.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if versioned {
		if _, err := root.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
	policy := securityPolicies(t, bucket, "pfx", users)
	if _, err := root.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("put bucket policy: %v\n%s", err, policy)
	}
	return bucket
}

// versionRights checks the version actions of each role: the DR site lists
// and reads versions (--s3-read-original), the retention job lists and
// deletes them (purge with --s3-object-lock), the primary neither.
func versionRights(t *testing.T, root, c *awss3.Client, bucket, who string) {
	t.Helper()
	ctx := context.Background()
	key := aws.String("pfx/main/wal/00000001000000000000000F")
	out, err := root.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: key, Body: bytes.NewReader([]byte("v"))})
	if err != nil {
		t.Fatal(err)
	}
	id := out.VersionId
	if aws.ToString(id) == "" {
		t.Fatal("no version id: the bucket is not versioned")
	}
	_, err = c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("pfx/")})
	if (err == nil) != (who != "primary") {
		t.Errorf("%s: list versions: %v", who, err)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: key, VersionId: id})
	if err == nil {
		get.Body.Close()
	}
	if (err == nil) != (who == "dr") {
		t.Errorf("%s: get a version: %v", who, err)
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key, VersionId: id})
	if (err == nil) != (who == "retention") {
		t.Errorf("%s: delete a version: %v", who, err)
	}
	root.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key, VersionId: id})
}
