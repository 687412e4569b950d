package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/crypt"
	"github.com/logship/logship/object"
)

// defaultConfigFile is read when it exists and no --config is given.
const defaultConfigFile = "/etc/logship/logship.yaml"

// Config is every global setting, resolved once: flag > LOGSHIP_* env >
// config file > default.
type Config struct {
	Store            string
	Source           string
	LogFormat        string
	LogLevel         string
	Compression      object.Compression
	CompressionLevel int
	PushParallel     int
	FetchAhead       int
	PG               string // libpq connection string of the source
	OnFailure        string // shell command run when a job fails (see package hook)
	OnSuccess        string // shell command run when a scheduled job succeeds
	S3               S3Config
	// Encryption: recipients seal new objects (nil: objects are stored in
	// clear, as before); IdentityFile names the identities that open them.
	Recipients     *crypt.Recipients
	IdentityFile   string
	AllowPlaintext bool
}

// S3Config holds S3 settings that do not fit in the store URL. Credentials
// are deliberately absent: they come only from the standard AWS chain.
type S3Config struct {
	Endpoint       string
	Region         string
	PathStyle      bool
	SSE            string
	SSEKMSKeyID    string
	RequestTimeout time.Duration
	// ObjectLock is --s3-object-lock MODE:DAYS, "" for none.
	ObjectLock string
	// ReadOriginal is --s3-read-original.
	ReadOriginal bool
}

// setting is one global option: its flag name is also its config-file key,
// and its environment variable is LOGSHIP_ + the name in upper snake case.
type setting struct {
	name, usage, def string
	isBool           bool
}

var settings = []setting{
	{name: "store", def: "file:///var/lib/logship", usage: "where backups live: file:///path or s3://bucket/prefix"},
	{name: "source", def: "main", usage: "name of the PostgreSQL cluster (one store prefix per source)"},
	{name: "log-format", def: "text", usage: "log format: text or json"},
	{name: "log-level", def: "info", usage: "log level: debug, info, warn, error"},
	{name: "compression", def: "zstd", usage: "compression of stored objects: zstd or none"},
	{name: "compression-level", def: "3", usage: "zstd level, 1 (fastest) to 19; on WAL, 1 stores about 9% more than 3 for about 30% less CPU (docs/PERFORMANCE.md)"},
	{name: "push-parallel", def: "4", usage: "WAL files wal-push stores at once: the one asked for and the next ones PostgreSQL has ready (1 = only the one asked for)"},
	{name: "fetch-ahead", def: "16", usage: "most segments wal-fetch fetches ahead of the one asked for, in parallel; the window starts at 4 and doubles while PostgreSQL uses it (0 = none)"},
	{name: "pg", def: "", usage: "libpq connection string of the source (PG* variables also apply)"},
	{name: "on-failure", def: "", usage: "shell command run when a scheduled job or wal-push fails (LOGSHIP_HOOK_* variables say what failed)"},
	{name: "on-success", def: "", usage: "shell command run when a scheduled job succeeds"},
	{name: "s3-endpoint", def: "", usage: "S3 endpoint URL for S3-compatible servers (AWS_ENDPOINT_URL also works)"},
	{name: "s3-region", def: "", usage: "S3 region (default: from the AWS configuration, else us-east-1)"},
	{name: "s3-path-style", isBool: true, usage: "use path-style S3 addressing (most S3-compatible servers need it)"},
	{name: "s3-request-timeout", def: "30s", usage: "deadline of each S3 request attempt (5 attempts with backoff)"},
	{name: "s3-sse", def: "", usage: "S3 server-side encryption: AES256 or aws:kms"},
	{name: "s3-sse-kms-key-id", def: "", usage: "KMS key id for --s3-sse aws:kms"},
	{name: "s3-read-original", isBool: true, usage: "read each object's oldest version in a versioned bucket: what logship wrote, before any overwrite or delete (to restore after an attack; see docs/SECURITY.md)"},
	{name: "s3-object-lock", def: "", usage: "S3 Object Lock retention of every data object written, GOVERNANCE:DAYS or COMPLIANCE:DAYS (the bucket must have Object Lock enabled)"},
	{name: "encrypt-to", def: "", usage: "encrypt every object holding database bytes for this age recipient (age1..., from logship key generate); repeatable; in the config file or environment, comma-separated"},
	{name: "recipients-file", def: "", usage: "file of age recipients to encrypt for, one a line (adds to --encrypt-to)"},
	{name: "allow-plaintext", isBool: true, usage: "let wal-push and backup store clear objects into a source whose record says it is encrypted"},
	{name: "identity-file", def: "", usage: "age identity file (mode 0600 or 0640) that opens encrypted objects, for every command that reads data"},
}

// repeatable settings take their flag several times; their config and
// environment values are comma-separated.
var repeatable = map[string]bool{"encrypt-to": true}

func envName(name string) string {
	return "LOGSHIP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func globalFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: []string{"LOGSHIP_CONFIG"},
			Usage: "YAML config file; keys are the flag names (default " + defaultConfigFile + " if it exists)"},
	}
	for _, s := range settings {
		env := []string{envName(s.name)}
		if s.isBool {
			flags = append(flags, &cli.BoolFlag{Name: s.name, EnvVars: env, Usage: s.usage})
			continue
		}
		if repeatable[s.name] {
			flags = append(flags, &cli.StringSliceFlag{Name: s.name, EnvVars: env, Usage: s.usage})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: s.name, EnvVars: env, Usage: s.usage, Value: s.def})
	}
	return flags
}

// loadConfig resolves the settings of c (and its parents) for the source
// it picks: --source, else the file's source key, else the only entry of
// sources:, else the default.
func loadConfig(c *cli.Context) (Config, error) {
	f, err := loadConfigFile(c.String("config"))
	if err != nil {
		return Config{}, err
	}
	name, err := f.pickSource(c)
	if err != nil {
		return Config{}, err
	}
	return resolveConfig(c, f, name)
}

// resolveConfig resolves the settings for source: flag > LOGSHIP_* env >
// sources.<source> > the file's top level > default.
func resolveConfig(c *cli.Context, f *configFile, source string) (Config, error) {
	get := func(name string) string {
		if name == "source" {
			return source
		}
		for _, s := range settings {
			if s.name != name {
				continue
			}
			if c.IsSet(name) {
				if s.isBool {
					return strconv.FormatBool(c.Bool(name))
				}
				if repeatable[name] {
					return strings.Join(c.StringSlice(name), ",")
				}
				return c.String(name)
			}
			if v, ok := f.sources[source][name]; ok {
				return v
			}
			if v, ok := f.top[name]; ok {
				return v
			}
			return s.def
		}
		panic("unknown setting " + name)
	}
	cfg := Config{
		IdentityFile: get("identity-file"),
		Store:        get("store"),
		Source:       get("source"),
		LogFormat:    get("log-format"),
		LogLevel:     get("log-level"),
		PG:           get("pg"),
		OnFailure:    get("on-failure"),
		OnSuccess:    get("on-success"),
		S3: S3Config{
			Endpoint:    get("s3-endpoint"),
			Region:      get("s3-region"),
			SSE:         get("s3-sse"),
			SSEKMSKeyID: get("s3-sse-kms-key-id"),
			ObjectLock:  get("s3-object-lock"),
		},
	}
	return cfg, checkConfig(&cfg, get)
}

// checkConfig parses and checks the settings that are not plain text.
func checkConfig(cfg *Config, get func(string) string) error {
	var err error
	if cfg.S3.RequestTimeout, err = time.ParseDuration(get("s3-request-timeout")); err != nil || cfg.S3.RequestTimeout <= 0 {
		return fmt.Errorf("s3-request-timeout %q: want a duration such as 30s", get("s3-request-timeout"))
	}
	if cfg.S3.PathStyle, err = parseBool("s3-path-style", get("s3-path-style")); err != nil {
		return err
	}
	if cfg.S3.ReadOriginal, err = parseBool("s3-read-original", get("s3-read-original")); err != nil {
		return err
	}
	if cfg.AllowPlaintext, err = parseBool("allow-plaintext", get("allow-plaintext")); err != nil {
		return err
	}
	if cfg.Compression, err = object.ParseCompression(get("compression")); err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	level, err := strconv.Atoi(get("compression-level"))
	if err != nil || level < 1 || level > 19 {
		return fmt.Errorf("compression-level %q: want a number from 1 to 19", get("compression-level"))
	}
	cfg.CompressionLevel = level
	if cfg.PushParallel, err = strconv.Atoi(get("push-parallel")); err != nil || cfg.PushParallel < 1 || cfg.PushParallel > 64 {
		return fmt.Errorf("push-parallel %q: want a number from 1 to 64", get("push-parallel"))
	}
	if cfg.FetchAhead, err = strconv.Atoi(get("fetch-ahead")); err != nil || cfg.FetchAhead < 0 || cfg.FetchAhead > 64 {
		return fmt.Errorf("fetch-ahead %q: want a number from 0 to 64", get("fetch-ahead"))
	}
	if err := catalog.ValidSourceName(cfg.Source); err != nil {
		return err
	}
	var to []string
	if v := get("encrypt-to"); v != "" {
		to = strings.Split(v, ",")
	}
	if cfg.Recipients, err = crypt.ParseRecipients(to, get("recipients-file")); err != nil {
		return err
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log-format %q: want text or json", cfg.LogFormat)
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	return nil
}

func parseBool(name, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want true or false", name, v)
	}
	return b, nil
}

// configFile is the settings of a config file. Unknown keys are errors,
// so that a typo never silently falls back to a default.
type configFile struct {
	path    string
	top     map[string]string            // settings at the top level
	sources map[string]map[string]string // sources.<name>.<setting>
	names   []string                     // of sources:, in file order
}

// sectionKeys are the top-level keys that are sections of their own: see
// config_jobs.go, config_groups.go, config_sources.go.
var sectionKeys = []string{jobsKey, groupsKey, sourcesKey}

func loadConfigFile(path string) (*configFile, error) {
	b, path, err := configBytes(path)
	f := &configFile{path: path, top: map[string]string{}}
	if b == nil || err != nil {
		return f, err
	}
	root, err := parseConfig(path, b)
	if err != nil || root == nil {
		return f, err
	}
	known := append([]string{}, sectionKeys...)
	for _, s := range settings {
		known = append(known, s.name)
	}
	if err := noDuplicateKeys(path, root); err != nil {
		return f, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == sourcesKey:
			if err := f.readSources(v); err != nil {
				return f, err
			}
		case slices.Contains(sectionKeys, k.Value):
		case !knownSettingName(k.Value):
			if nearest(k.Value, known) == "" {
				if j := nearest(k.Value, yamlKeysOf(reflect.TypeOf(JobsConfig{}), "main.JobsConfig")); j != "" {
					return f, configErr(path, k.Line, "unknown key %q (did you mean %s under jobs:?)", k.Value, j)
				}
			}
			return f, unknownKey(path, k.Line, k.Value, "", known)
		default:
			val, err := settingValue(path, k, v)
			if err != nil {
				return f, err
			}
			f.top[k.Value] = val
		}
	}
	return f, nil
}

// noDuplicateKeys refuses a key given twice in the mapping node: which
// one wins would be a guess.
func noDuplicateKeys(path string, node *yaml.Node) error {
	first := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if line, ok := first[k.Value]; ok {
			return configErr(path, k.Line, "key %q is given twice (first at line %d)", k.Value, line)
		}
		first[k.Value] = k.Line
	}
	return nil
}

func knownSettingName(name string) bool {
	for _, s := range settings {
		if s.name == name {
			return true
		}
	}
	return false
}

// settingValue is the value of the setting k as text; only plain values
// are settings.
func settingValue(path string, k, v *yaml.Node) (string, error) {
	var val any
	if err := v.Decode(&val); err != nil {
		return "", yamlErr(path, "", nil, nil, err)
	}
	switch val.(type) {
	case map[string]any, []any:
		return "", configErr(path, v.Line, "key %q must be a plain value, not a list or a mapping", k.Value)
	}
	return fmt.Sprint(val), nil
}

// parseConfig parses the file's YAML: its top-level mapping, nil for an
// empty file.
func parseConfig(path string, b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, yamlErr(path, "", nil, nil, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			return nil, nil
		}
		return nil, configErr(path, root.Line, "want key: value lines at the top level (store: ..., pg: ...)")
	}
	return root, nil
}

// configBytes reads the config file at path, or the default one; a missing
// default file is no error (nil bytes), a missing explicit one is.
func configBytes(path string) ([]byte, string, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigFile
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, path, nil
	case err != nil:
		return nil, path, fmt.Errorf("config file: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, path, nil
}

// configSection decodes the section key of the config file (jobs:,
// groups:) into v, strictly: an unknown key inside it is an error, so a
// typo never falls back to a default. It reports whether the section is
// there, and the file's path for error messages.
func configSection(c *cli.Context, key string, v any) (bool, string, error) {
	b, path, err := configBytes(c.String("config"))
	if b == nil || err != nil {
		return false, path, err
	}
	root, err := parseConfig(path, b)
	if err != nil || root == nil {
		return false, path, err
	}
	var node *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			node = root.Content[i+1]
		}
	}
	if node == nil {
		return false, path, nil
	}
	// Only a yaml.Decoder rejects unknown fields, and only decoding the
	// whole file keeps its line numbers: decode it into a struct that
	// has the section and takes every other key as it is.
	t := reflect.TypeOf(v).Elem()
	wrapper := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Section", Type: t, Tag: reflect.StructTag(`yaml:"` + key + `"`)},
		{Name: "Rest", Type: reflect.TypeOf(map[string]yaml.Node{}), Tag: `yaml:",inline"`},
	}))
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(wrapper.Interface()); err != nil {
		return false, path, yamlErr(path, key, t, node, err)
	}
	reflect.ValueOf(v).Elem().Set(wrapper.Elem().Field(0))
	return true, path, nil
}
