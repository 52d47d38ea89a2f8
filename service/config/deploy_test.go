package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDrainDelay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  string
		args []string
		want time.Duration
	}{
		{"", nil, 5 * time.Second}, // the default: a few seconds
		{"0", nil, 0},
		{"0s", nil, 0},
		{"1500ms", nil, 1500 * time.Millisecond},
		{"2", nil, 2 * time.Second},
		{"9s", []string{"--drain-delay", "0"}, 0}, // a flag wins
	} {
		cfg, err := LoadConfig(c.args, envOf(withEnv(map[string]string{"LKTOKEN_DRAIN_DELAY": c.env})), &bytes.Buffer{})
		if err != nil {
			t.Errorf("LKTOKEN_DRAIN_DELAY=%q %v: %v", c.env, c.args, err)
			continue
		}
		if cfg.DrainDelay != c.want {
			t.Errorf("LKTOKEN_DRAIN_DELAY=%q %v: %s, want %s", c.env, c.args, cfg.DrainDelay, c.want)
		}
	}
	for _, bad := range []string{"-1s", "soon", "1x"} {
		_, err := LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_DRAIN_DELAY": bad})), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), `LKTOKEN_DRAIN_DELAY "`+bad+`": must be a duration from 0 to 1h, such as 5s`) {
			t.Errorf("LKTOKEN_DRAIN_DELAY=%q: %v", bad, err)
		}
	}
}

func TestFunctionsCustomHandlerPort(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(nil, envOf(withEnv(map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071"})), &bytes.Buffer{})
	if err != nil || cfg.Listen != "127.0.0.1:7071" {
		t.Errorf("listen %q, err %v: want 127.0.0.1:7071", cfg.Listen, err)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "http"}, nil, `FUNCTIONS_CUSTOMHANDLER_PORT "http": must be a TCP port`},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"}, nil, `FUNCTIONS_CUSTOMHANDLER_PORT "70000": must be a TCP port`},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071", "LKTOKEN_LISTEN": ":8080"}, nil, `leave LKTOKEN_LISTEN unset`},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071"}, []string{"--listen", ":9000"}, `and --listen ":9000" are both set`},
	} {
		_, err := LoadConfig(c.args, envOf(withEnv(c.env)), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.env, c.args, err, c.want)
		}
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, nil, "127.0.0.1:8080"},
		{map[string]string{"LKTOKEN_LISTEN": ":8080"}, nil, ":8080"},
		{map[string]string{"LKTOKEN_LISTEN": ":8080"}, []string{"--listen", "127.0.0.1:9"}, "127.0.0.1:9"},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071"}, nil, "127.0.0.1:7071"},
		// Nothing else of the configuration matters: no credentials needed.
		{map[string]string{"LKTOKEN_LOG_LEVEL": "loud"}, nil, "127.0.0.1:8080"},
	} {
		got, err := ListenAddr(c.args, envOf(c.env))
		if err != nil || got != c.want {
			t.Errorf("%v %v: %q, %v; want %q", c.env, c.args, got, err, c.want)
		}
	}
	if _, err := ListenAddr([]string{"--dev"}, envOf(nil)); err == nil {
		t.Error("--dev: want an error (healthcheck takes only --listen)")
	}
}
