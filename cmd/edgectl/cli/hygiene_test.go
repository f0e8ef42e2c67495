package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// commandPaths lists every command and subcommand, from the same
// introspection shell completion uses.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	completionTree()
	var out [][]string
	var walk func(path []string)
	walk = func(path []string) {
		name := strings.Join(path, " ")
		if subs := subcommandsOf[name]; len(subs) > 0 {
			out = append(out, path) // the parent has help too
			for _, s := range subs {
				walk(append(append([]string(nil), path...), s))
			}
			return
		}
		out = append(out, path)
	}
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		walk([]string{n})
	}
	return out
}

// TestHelpEveryCommand: -h and --help exit 0 and print, on stdout, a
// usage line, a synopsis and the flags.
func TestHelpEveryCommand(t *testing.T) {
	paths := commandPaths(t)
	if len(paths) < 35 {
		t.Fatalf("%d commands and subcommands found; want every one", len(paths))
	}
	for _, path := range paths {
		name := strings.Join(path, " ")
		for _, h := range []string{"-h", "--help"} {
			var out, errb bytes.Buffer
			err := run(context.Background(), append(append([]string(nil), path...), h), &out, &errb)
			if !errors.Is(err, flag.ErrHelp) || ExitCode(err) != 0 {
				t.Errorf("edgectl %s %s: %v (exit %d); want help, exit 0", name, h, err, ExitCode(err))
				continue
			}
			s := out.String()
			if !strings.HasPrefix(s, "usage: edgectl "+path[0]) {
				t.Errorf("edgectl %s %s: stdout does not start with its usage line:\n%s", name, h, s)
			}
			if hp, ok := help[name]; !ok || hp.synopsis == "" || !strings.Contains(s, strings.Fields(hp.synopsis)[0]) {
				t.Errorf("edgectl %s %s: no synopsis (help[%q] = %+v)", name, h, name, hp)
			}
			if fs := flagSets[name]; fs != nil {
				n := 0
				fs.VisitAll(func(*flag.Flag) { n++ })
				if n > 0 && !strings.Contains(s, "\nflags:\n  --") {
					t.Errorf("edgectl %s %s: flags not listed:\n%s", name, h, s)
				}
			}
		}
	}
	// Top level.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); ExitCode(err) != 0 || !strings.Contains(out.String(), "usage: edgectl COMMAND") {
		t.Errorf("edgectl --help: %v\n%s", err, out.String())
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "no command given"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"deploy", "--bogus"}, 2, "flag provided but not defined: -bogus; see 'edgectl deploy --help'"},
		{[]string{"rollout"}, 2, "want a subcommand"},
		{[]string{"rollout", "nope"}, 2, `unknown subcommand "nope"`},
		{[]string{"completion", "fish"}, 2, "want bash or zsh"},
		{[]string{"inspect", "/nonexistent.tflite"}, 1, ""},
		{[]string{"rollout", "status", "--state", "/nonexistent"}, 1, "no such file"},
	}
	for _, tt := range tests {
		out, err := edgectl(t, tt.args...)
		if got := ExitCode(err); got != tt.code || (tt.msg != "" && !strings.Contains(Message(err), tt.msg)) {
			t.Errorf("edgectl %q: exit %d, %v\n%s; want exit %d and %q", tt.args, got, err, out, tt.code, tt.msg)
		}
	}
}

// goIdentRE finds what looks like a Go identifier in a message: pkg.Name.
var goIdentRE = regexp.MustCompile(`\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b|network Error|Go struct field`)

// TestErrorsForPeople: failures name what to do, never Go identifiers.
func TestErrorsForPeople(t *testing.T) {
	t.Setenv("EDGECTL_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	keys, modelKey := makeKeys(t)
	agentKey, _ := filepath.Glob(filepath.Join(keys, "agent-*.key"))
	bin := filepath.Join(t.TempDir(), "edged-linux-amd64")
	os.WriteFile(bin, elfHeader(62), 0o755) // an x86-64 executable, not really edged
	policy := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(policy, []byte("min_samples: ten\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string // in the message
	}{
		{"root key for a bundle", []string{"bundle", "--name", "m", "--version", "1", "--model", filepath.Join(models, "iris.tflite"), "--key", filepath.Join(keys, "root.key"), "--out", t.TempDir() + "/b"},
			"this is the root key"},
		{"model key for the agent", []string{"update-agent", "--broker", "127.0.0.1:1", "--binary", bin, "--version", "1.4.0", "--key", modelKey, "--device", "d1"},
			"certified for model, not agent; make one with: edgectl keys rotate DIR --purpose agent"},
		{"no key at all", []string{"update-agent", "--broker", "127.0.0.1:1", "--binary", bin, "--version", "1.4.0", "--device", "d1"},
			"no signing key: give --key FILE or --keys DIR"},
		{"broker down, host:port", []string{"push", "--broker", "127.0.0.1:1", "--bundle", writeBundle(t, modelKey), "--connect-timeout", "1s"},
			"cannot reach the broker at tcp://127.0.0.1:1 within 1s: connection refused"},
		{"no broker", []string{"status"}, "no broker: give --broker URL"},
		{"bad scheme", []string{"status", "--broker", "http://x:1"}, `scheme "http"; want tcp, ssl, tls, ws or wss`},
		{"bad policy", []string{"bundle", "--name", "m", "--version", "1", "--model", filepath.Join(models, "iris.tflite"), "--key", modelKey, "--policy", policy, "--out", t.TempDir() + "/b"},
			"line 1: cannot unmarshal"},
		{"keys rotate without a root", []string{"keys", "rotate", t.TempDir(), "--purpose", "command"}, "the root key"},
		{"agent key ok but broker down", []string{"update-agent", "--broker", "127.0.0.1:1", "--connect-timeout", "1s", "--binary", bin, "--version", "1.4.0", "--key", agentKey[0], "--device", "d1"},
			"cannot reach the broker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := edgectl(t, tt.args...)
			if err == nil {
				t.Fatalf("edgectl %q succeeded; want an error\n%s", tt.args, out)
			}
			msg := Message(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
			if m := goIdentRE.FindString(msg + "\n" + out); m != "" {
				t.Errorf("message shows the Go identifier %q:\n%s\n%s", m, msg, out)
			}
		})
	}
}

func writeBundle(t *testing.T, key string) string {
	t.Helper()
	dir, err := bundleWith(t, key, "iris.tflite")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBrokerURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"127.0.0.1:1883", "tcp://127.0.0.1:1883", ""},
		{"broker.lan", "tcp://broker.lan:1883", ""},
		{"[::1]:1884", "tcp://[::1]:1884", ""},
		{"tcp://h:1", "tcp://h:1", ""},
		{"ssl://h", "ssl://h:8883", ""},
		{"mqtt://h:2", "tcp://h:2", ""},
		{"mqtts://h", "ssl://h:8883", ""},
		{"wss://h/mqtt", "wss://h/mqtt", ""},
		{"http://h:1", "", `scheme "http"`},
		{"tcp://:1883", "", "has no host"},
		{"tcp://n1:1, n2:2,mqtt://n3", "tcp://n1:1,tcp://n2:2,tcp://n3:1883", ""},
		{"tcp://n1:1,http://n2", "", `scheme "http"`},
		{" , ", "", "is not a broker URL"},
	}
	for _, tt := range tests {
		got, err := brokerURL(tt.in)
		if got != tt.want || (err != nil) != (tt.err != "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("brokerURL(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestConfigContexts: contexts in the file, the current one, $EDGECTL_*
// over the context, flags over both.
func TestConfigContexts(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EDGECTL_CONFIG", filepath.Join(dir, "sub", "config.yaml"))
	for _, env := range []string{"EDGECTL_CONTEXT", "EDGECTL_BROKER", "EDGECTL_KEYS", "EDGECTL_GROUP", "EDGECTL_MQTT_PASSWORD", "EDGECTL_USER", "EDGECTL_CA"} {
		t.Setenv(env, "")
	}
	os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
	for _, args := range [][]string{
		{"config", "set-context", "lab", "--broker", "lab.lan", "--keys", filepath.Join(dir, "keys"), "--group", "cams", "--user", "op", "--password-file", filepath.Join(dir, "pw")},
		{"config", "set-context", "prod", "--broker", "ssl://prod.example:8883", "--use"},
	} {
		if out, err := edgectl(t, args...); err != nil {
			t.Fatalf("edgectl %q: %v\n%s", args, err, out)
		}
	}
	out, err := edgectl(t, "config", "get-contexts")
	if err != nil || !regexpLine(out, `^\*\s+prod\s+ssl://prod.example:8883`) || !regexpLine(out, `^lab\s+tcp://lab.lan:1883\s+`) {
		t.Errorf("get-contexts = %v\n%s", err, out)
	}
	s, err := resolveContext("")
	if err != nil || s.Name != "prod" || s.Broker != "ssl://prod.example:8883" {
		t.Fatalf("current context = %+v, %v; want prod", s, err)
	}
	t.Setenv("EDGECTL_CONTEXT", "lab")
	s, err = resolveContext("")
	if err != nil || s.Broker != "tcp://lab.lan:1883" || s.Group != "cams" || s.User != "op" || s.password != "s3cret" || s.Keys != filepath.Join(dir, "keys") {
		t.Fatalf("$EDGECTL_CONTEXT=lab: %+v, %v", s, err)
	}
	t.Setenv("EDGECTL_BROKER", "env.lan:1999")
	t.Setenv("EDGECTL_MQTT_PASSWORD", "fromenv")
	var bf brokerFlags
	if _, err = bf.resolve(); err != nil || bf.url != "env.lan:1999" || bf.password != "fromenv" || bf.user != "op" {
		t.Fatalf("env over context: flags %+v, %v", bf, err)
	}
	bf = brokerFlags{url: "flag.lan", context: "prod"}
	if _, err = bf.resolve(); err != nil || bf.url != "flag.lan" {
		t.Fatalf("flag over env: %+v, %v", bf, err)
	}
	if _, err := resolveContext("nope"); err == nil || !strings.Contains(err.Error(), `context "nope" is not in`) {
		t.Errorf("unknown context: %v", err)
	}
	if out, err := edgectl(t, "config", "use-context", "nope"); err == nil {
		t.Errorf("use-context nope succeeded:\n%s", out)
	}
	if out, err := edgectl(t, "config", "delete-context", "lab"); err != nil {
		t.Errorf("delete-context: %v\n%s", err, out)
	}
	c, _, _ := loadConfig()
	if len(c.Contexts) != 1 || c.CurrentContext != "prod" {
		t.Errorf("after delete: %+v", c)
	}
}

// TestCompletion: the script hooks edgectl itself, and the tree knows
// subcommands, flags and which flags take files.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh"} {
		out, err := edgectl(t, "completion", sh)
		if err != nil || !strings.Contains(out, `complete -o default -C "$(command -v edgectl)" edgectl`) {
			t.Errorf("completion %s = %v\n%s", sh, err, out)
		}
	}
	root := completionTree()
	start := root.Sub["rollout"].Sub["start"]
	for _, f := range []string{"bake", "per-minute", "max-error-rate", "state", "broker", "context"} {
		if _, ok := start.Flags[f]; !ok {
			t.Errorf("rollout start completes no --%s", f)
		}
	}
	if p := start.Flags["state"]; p == nil {
		t.Error("--state predicts nothing; want files")
	}
	if p, ok := root.Sub["deploy"].Flags["wait"]; !ok || p != nil {
		t.Error("deploy --wait: want a flag that takes no value")
	}
	if got := root.Sub["completion"].Args.Predict(""); strings.Join(got, ",") != "bash,zsh" {
		t.Errorf("completion args %v; want bash, zsh", got)
	}
}

// elfHeader is the 64-byte header of a little-endian 64-bit ELF
// executable for machine (62: x86-64, 183: AArch64), without sections.
func elfHeader(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1               // ELFCLASS64, little-endian, EV_CURRENT
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], machine)
	binary.LittleEndian.PutUint32(h[20:], 1)  // EV_CURRENT
	binary.LittleEndian.PutUint16(h[52:], 64) // e_ehsize
	return h
}
