package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/logship/logship/catalog"
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
	S3               S3Config
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
	{name: "compression-level", def: "1", usage: "zstd level, 1 (fastest; on WAL it compresses about as well as 3) to 19"},
	{name: "push-parallel", def: "4", usage: "WAL files wal-push stores at once: the one asked for and the next ones PostgreSQL has ready (1 = only the one asked for)"},
	{name: "fetch-ahead", def: "4", usage: "segments wal-fetch fetches ahead of the one asked for, in parallel (0 = none)"},
	{name: "pg", def: "", usage: "libpq connection string of the source (PG* variables also apply)"},
	{name: "s3-endpoint", def: "", usage: "S3 endpoint URL for S3-compatible servers (AWS_ENDPOINT_URL also works)"},
	{name: "s3-region", def: "", usage: "S3 region (default: from the AWS configuration, else us-east-1)"},
	{name: "s3-path-style", isBool: true, usage: "use path-style S3 addressing (most S3-compatible servers need it)"},
	{name: "s3-request-timeout", def: "30s", usage: "deadline of each S3 request attempt (5 attempts with backoff)"},
	{name: "s3-sse", def: "", usage: "S3 server-side encryption: AES256 or aws:kms"},
	{name: "s3-sse-kms-key-id", def: "", usage: "KMS key id for --s3-sse aws:kms"},
}

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
		flags = append(flags, &cli.StringFlag{Name: s.name, EnvVars: env, Usage: s.usage, Value: s.def})
	}
	return flags
}

// loadConfig resolves the settings of c (and its parents).
func loadConfig(c *cli.Context) (Config, error) {
	file, err := readConfigFile(c.String("config"))
	if err != nil {
		return Config{}, err
	}
	get := func(name string) string {
		for _, s := range settings {
			if s.name != name {
				continue
			}
			if c.IsSet(name) {
				if s.isBool {
					return strconv.FormatBool(c.Bool(name))
				}
				return c.String(name)
			}
			if v, ok := file[name]; ok {
				return v
			}
			return s.def
		}
		panic("unknown setting " + name)
	}
	cfg := Config{
		Store:     get("store"),
		Source:    get("source"),
		LogFormat: get("log-format"),
		LogLevel:  get("log-level"),
		PG:        get("pg"),
		S3: S3Config{
			Endpoint:    get("s3-endpoint"),
			Region:      get("s3-region"),
			SSE:         get("s3-sse"),
			SSEKMSKeyID: get("s3-sse-kms-key-id"),
		},
	}
	if cfg.S3.RequestTimeout, err = time.ParseDuration(get("s3-request-timeout")); err != nil || cfg.S3.RequestTimeout <= 0 {
		return Config{}, fmt.Errorf("s3-request-timeout %q: want a duration such as 30s", get("s3-request-timeout"))
	}
	if cfg.S3.PathStyle, err = parseBool("s3-path-style", get("s3-path-style")); err != nil {
		return Config{}, err
	}
	if cfg.Compression, err = object.ParseCompression(get("compression")); err != nil {
		return Config{}, fmt.Errorf("compression: %w", err)
	}
	level, err := strconv.Atoi(get("compression-level"))
	if err != nil || level < 1 || level > 19 {
		return Config{}, fmt.Errorf("compression-level %q: want a number from 1 to 19", get("compression-level"))
	}
	cfg.CompressionLevel = level
	if cfg.PushParallel, err = strconv.Atoi(get("push-parallel")); err != nil || cfg.PushParallel < 1 || cfg.PushParallel > 64 {
		return Config{}, fmt.Errorf("push-parallel %q: want a number from 1 to 64", get("push-parallel"))
	}
	if cfg.FetchAhead, err = strconv.Atoi(get("fetch-ahead")); err != nil || cfg.FetchAhead < 0 || cfg.FetchAhead > 64 {
		return Config{}, fmt.Errorf("fetch-ahead %q: want a number from 0 to 64", get("fetch-ahead"))
	}
	if err := catalog.ValidSourceName(cfg.Source); err != nil {
		return Config{}, err
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		return Config{}, fmt.Errorf("log-format %q: want text or json", cfg.LogFormat)
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, fmt.Errorf("log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	return cfg, nil
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

// readConfigFile reads the YAML file at path (or the default file if it
// exists) into flat key → value strings. Unknown keys are errors, so that
// a typo never silently falls back to a default.
func readConfigFile(path string) (map[string]string, error) {
	b, path, err := configBytes(path)
	if b == nil || err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
	}
	out := map[string]string{}
	var unknown []string
	for k, v := range raw {
		if k == jobsKey || k == groupsKey {
			continue // sections of their own: see config_jobs.go, config_groups.go
		}
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		switch v.(type) {
		case map[string]any, []any:
			return nil, fmt.Errorf("config file %s: key %q must be a plain value", path, k)
		}
		out[k] = fmt.Sprint(v)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("config file %s: unknown key %q (known keys are the global flag names, e.g. store, source, pg)", path, unknown[0])
	}
	return out, nil
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
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return false, path, fmt.Errorf("config file %s: %w", path, err)
	}
	node, ok := doc[key]
	if !ok || node.Kind == 0 {
		return false, path, nil
	}
	// Re-encoded because only a yaml.Decoder rejects unknown fields.
	raw, err := yaml.Marshal(&node)
	if err != nil {
		return false, path, fmt.Errorf("config file %s: %s: %w", path, key, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return false, path, fmt.Errorf("config file %s: %s: %w", path, key, err)
	}
	return true, path, nil
}
