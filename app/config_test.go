package app_test

import (
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/cache"
)

// configEnv is every variable ParseConfig reads; each test starts with all
// of them unset (ParseConfig treats empty as unset).
var configEnv = []string{"ADDR", "DATABASE_PATH", "REDIS_URL", "CACHE_DEFAULT", "CACHE_TTL", "SLOW_QUERY_MS",
	"MEMORY_CACHE_MB", "WEATHER_LATENCY_MS", "WEATHER_TTL", "WEATHER_UPSTREAM_URL", "DEV",
	"ADMIN_TOKEN", "EDIT_REQUIRES_ADMIN", "PPROF", "ALLOWED_HOSTS"}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c app.Config) string
		err   string // part of the expected error; empty means success
	}{
		{name: "defaults", check: func(c app.Config) string {
			if c.Addr != "127.0.0.1:8080" || c.DatabasePath != "data/workshop.db" || c.RedisURL != "redis://127.0.0.1:6379/0" ||
				c.DefaultMode != cache.ModeMemory || c.TTL != 5*time.Minute || c.SlowQuery != 300*time.Millisecond || c.MemoryBytes != 64<<20 ||
				c.WeatherLatency != time.Second || c.WeatherTTL != 60*time.Second || c.Dev {
				return "not the documented defaults"
			}
			return ""
		}},
		{name: "env", env: map[string]string{"ADDR": ":9999", "DATABASE_PATH": "/tmp/x.db", "REDIS_URL": "redis://r:1/2",
			"CACHE_DEFAULT": "redis", "CACHE_TTL": "30s", "SLOW_QUERY_MS": "0", "MEMORY_CACHE_MB": "8",
			"WEATHER_LATENCY_MS": "5", "WEATHER_TTL": "2m", "DEV": "1"}, check: func(c app.Config) string {
			if c.Addr != ":9999" || c.DatabasePath != "/tmp/x.db" || c.RedisURL != "redis://r:1/2" || c.DefaultMode != cache.ModeRedis ||
				c.TTL != 30*time.Second || c.SlowQuery != 0 || c.MemoryBytes != 8<<20 || c.WeatherLatency != 5*time.Millisecond ||
				c.WeatherTTL != 2*time.Minute || !c.Dev {
				return "env values not applied"
			}
			return ""
		}},
		{name: "flag wins over env", env: map[string]string{"ADDR": ":1", "SLOW_QUERY_MS": "10", "CACHE_DEFAULT": "redis", "CACHE_TTL": "1m"},
			args: []string{"-addr", ":2", "-slow-query-ms", "20", "-cache-default", "none", "-cache-ttl", "2m"},
			check: func(c app.Config) string {
				if c.Addr != ":2" || c.SlowQuery != 20*time.Millisecond || c.DefaultMode != cache.ModeNone || c.TTL != 2*time.Minute {
					return "flags did not win"
				}
				return ""
			}},
		{name: "empty env is unset", env: map[string]string{"SLOW_QUERY_MS": ""}, check: func(c app.Config) string {
			if c.SlowQuery != 300*time.Millisecond {
				return "empty SLOW_QUERY_MS not treated as unset"
			}
			return ""
		}},
		{name: "allowed hosts", env: map[string]string{"ALLOWED_HOSTS": " classroom.local, Teacher-Laptop ,,"}, check: func(c app.Config) string {
			if strings.Join(c.AllowedHosts, "|") != "classroom.local|Teacher-Laptop" {
				return "ALLOWED_HOSTS not split into trimmed names"
			}
			return ""
		}},
		{name: "allowed hosts flag wins", env: map[string]string{"ALLOWED_HOSTS": "a.example"}, args: []string{"-allowed-hosts", "b.example"},
			check: func(c app.Config) string {
				if strings.Join(c.AllowedHosts, "|") != "b.example" {
					return "-allowed-hosts did not win"
				}
				return ""
			}},
		{name: "no allowed hosts by default", check: func(c app.Config) string {
			if len(c.AllowedHosts) != 0 {
				return "ALLOWED_HOSTS not empty by default"
			}
			return ""
		}},
		{name: "allowed host with port", env: map[string]string{"ALLOWED_HOSTS": "classroom.local:8080"}, err: "ALLOWED_HOSTS"},
		{name: "allowed host as URL", args: []string{"-allowed-hosts", "http://classroom.local"}, err: "ALLOWED_HOSTS"},
		{name: "bad ttl", env: map[string]string{"CACHE_TTL": "soon"}, err: "CACHE_TTL"},
		{name: "negative ttl", env: map[string]string{"CACHE_TTL": "-5s"}, err: "CACHE_TTL"},
		{name: "zero ttl flag", args: []string{"-cache-ttl", "0s"}, err: "CACHE_TTL"},
		{name: "slow query not a number", env: map[string]string{"SLOW_QUERY_MS": "fast"}, err: "SLOW_QUERY_MS"},
		{name: "slow query negative", env: map[string]string{"SLOW_QUERY_MS": "-1"}, err: "SLOW_QUERY_MS"},
		{name: "slow query too big", env: map[string]string{"SLOW_QUERY_MS": "60001"}, err: "SLOW_QUERY_MS"},
		{name: "slow query overflow", args: []string{"-slow-query-ms", "99999999999999999999"}, err: "SLOW_QUERY_MS"},
		{name: "memory zero", env: map[string]string{"MEMORY_CACHE_MB": "0"}, err: "MEMORY_CACHE_MB"},
		{name: "memory not a number", env: map[string]string{"MEMORY_CACHE_MB": "lots"}, err: "MEMORY_CACHE_MB"},
		{name: "weather latency bad", env: map[string]string{"WEATHER_LATENCY_MS": "1.5"}, err: "WEATHER_LATENCY_MS"},
		{name: "weather ttl bad", env: map[string]string{"WEATHER_TTL": "60"}, err: "WEATHER_TTL"},
		{name: "unknown mode", env: map[string]string{"CACHE_DEFAULT": "disk"}, err: "CACHE_DEFAULT"},
		{name: "mode alias is not a default", args: []string{"-cache-default", "on"}, err: "CACHE_DEFAULT"},
		{name: "unknown flag", args: []string{"-bogus"}, err: "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range configEnv {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := app.ParseConfig(tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error: got %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: got %+v", msg, c)
			}
		})
	}
}
