package cli

// edgectl's config file: named contexts, like kubectl's, each with a
// broker, TLS files, an MQTT user, a key directory and a default group.
// Flags override EDGECTL_* variables, which override the context.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/edged-dev/edged/internal/atomicfile"
)

// Context is one named set of settings.
type Context struct {
	Name         string `yaml:"name"`
	Broker       string `yaml:"broker,omitempty"`
	CA           string `yaml:"ca,omitempty"`
	Cert         string `yaml:"cert,omitempty"`
	CertKey      string `yaml:"cert-key,omitempty"`
	User         string `yaml:"user,omitempty"`
	PasswordFile string `yaml:"password-file,omitempty"`
	Keys         string `yaml:"keys,omitempty"`
	Group        string `yaml:"group,omitempty"`
}

// contextSetting is one setting of a context: its name in the file and
// as a flag, its EDGECTL_* variable, whether it is a file path, and its
// place in a Context.
type contextSetting struct {
	name, env string
	path      bool
	usage     string
	of        func(*Context) *string
}

var contextSettings = []contextSetting{
	{"broker", "EDGECTL_BROKER", false, "broker `URL`: tcp://host:1883, ssl://host:8883, or host:port", func(x *Context) *string { return &x.Broker }},
	{"ca", "EDGECTL_CA", true, "CA `file` (PEM) for the broker's certificate", func(x *Context) *string { return &x.CA }},
	{"cert", "EDGECTL_CERT", true, "client certificate `file` (PEM)", func(x *Context) *string { return &x.Cert }},
	{"cert-key", "EDGECTL_CERT_KEY", true, "client certificate's key `file` (PEM)", func(x *Context) *string { return &x.CertKey }},
	{"user", "EDGECTL_USER", false, "MQTT user `name`", func(x *Context) *string { return &x.User }},
	{"password-file", "", true, "`file` holding the MQTT password ($EDGECTL_MQTT_PASSWORD wins)", func(x *Context) *string { return &x.PasswordFile }},
	{"keys", "EDGECTL_KEYS", true, "key `directory` (edgectl keys init DIR)", func(x *Context) *string { return &x.Keys }},
	{"group", "EDGECTL_GROUP", false, "default `group` for fleet commands", func(x *Context) *string { return &x.Group }},
}

// contextSettingNamed is the setting of that name.
func contextSettingNamed(name string) (contextSetting, bool) {
	for _, s := range contextSettings {
		if s.name == name {
			return s, true
		}
	}
	return contextSetting{}, false
}

// Config is the config file.
type Config struct {
	CurrentContext string    `yaml:"current-context,omitempty"`
	Contexts       []Context `yaml:"contexts,omitempty"`
}

// configPath is the config file's path: $EDGECTL_CONFIG, else
// $XDG_CONFIG_HOME/edgectl/config.yaml, else ~/.config/edgectl/config.yaml.
func configPath() string {
	if p := os.Getenv("EDGECTL_CONFIG"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "edgectl", "config.yaml")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "edgectl", "config.yaml")
	}
	return ""
}

// loadConfig reads the config file; a missing one is an empty config.
func loadConfig() (*Config, string, error) {
	path := configPath()
	var c Config
	if path == "" {
		return &c, "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &c, path, nil
	}
	if err != nil {
		return nil, path, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, path, fmt.Errorf("config file %s: %v", path, err)
	}
	seen := map[string]bool{}
	for _, x := range c.Contexts {
		if x.Name == "" || seen[x.Name] {
			return nil, path, fmt.Errorf("config file %s: context name %q empty or repeated", path, x.Name)
		}
		seen[x.Name] = true
	}
	return &c, path, nil
}

func (c *Config) save(path string) error {
	if path == "" {
		return errors.New("no config file: set $EDGECTL_CONFIG or $HOME")
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

func (c *Config) find(name string) *Context {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

// settings are the resolved values of a command's context.
type settings struct {
	Context
	password string
}

// resolveContext picks the context (flag, $EDGECTL_CONTEXT, the file's
// current one), applies EDGECTL_* variables over it and expands paths
// relative to the config file.
func resolveContext(name string) (*settings, error) {
	c, path, err := loadConfig()
	if err != nil {
		return nil, err
	}
	s := &settings{}
	if name == "" {
		name = os.Getenv("EDGECTL_CONTEXT")
	}
	if name == "" {
		name = c.CurrentContext
	}
	if name != "" {
		x := c.find(name)
		if x == nil {
			return nil, fmt.Errorf("context %q is not in %s; 'edgectl config get-contexts' lists them", name, path)
		}
		s.Context = *x
	}
	dir := filepath.Dir(path)
	for _, cs := range contextSettings {
		p := cs.of(&s.Context)
		if cs.path {
			*p = expandPath(*p, dir)
		}
		if v := os.Getenv(cs.env); cs.env != "" && v != "" {
			*p = v
		}
	}
	s.password = os.Getenv("EDGECTL_MQTT_PASSWORD")
	if s.password == "" && s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("context %q: password-file: %w", name, err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
	}
	return s, nil
}

// expandPath expands ~ and makes a relative path relative to dir.
func expandPath(p, dir string) string {
	if p == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, rest)
		}
	}
	if !filepath.IsAbs(p) && dir != "" {
		return filepath.Join(dir, p)
	}
	return p
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "config", map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"view":           configView,
		"get-contexts":   configGetContexts,
		"use-context":    configUseContext,
		"set-context":    configSetContext,
		"delete-context": configDeleteContext,
	}, args, stdout, stderr)
}

func configView(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config view", stdout, stderr)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	c, path, err := loadConfig()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s\n", path)
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	stdout.Write(b)
	return nil
}

func configGetContexts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config get-contexts", stdout, stderr)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	c, path, err := loadConfig()
	if err != nil {
		return err
	}
	if len(c.Contexts) == 0 {
		fmt.Fprintf(stdout, "no contexts in %s; make one with 'edgectl config set-context NAME --broker URL --use'\n", path)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tNAME\tBROKER\tKEYS\tGROUP")
	for _, x := range c.Contexts {
		cur := ""
		if x.Name == c.CurrentContext {
			cur = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cur, x.Name, x.Broker, x.Keys, x.Group)
	}
	return tw.Flush()
}

func configUseContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config use-context", stdout, stderr)
	name, c, path, err := contextCommand(fs, args)
	if err != nil {
		return err
	}
	if c.find(name) == nil {
		return fmt.Errorf("config use-context: no context %q in %s; make it with 'edgectl config set-context %s --broker URL'", name, path, name)
	}
	c.CurrentContext = name
	if err := c.save(path); err != nil {
		return fmt.Errorf("config use-context: %w", err)
	}
	fmt.Fprintf(stdout, "current context: %s\n", name)
	return nil
}

func configSetContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config set-context", stdout, stderr)
	var x Context
	for _, cs := range contextSettings {
		fs.StringVar(cs.of(&x), cs.name, "", cs.usage)
	}
	use := fs.Bool("use", false, "make it the current context")
	name, c, path, err := contextCommand(fs, args)
	if err != nil {
		return err
	}
	if x.Broker != "" {
		if x.Broker, err = brokerURL(x.Broker); err != nil {
			return fmt.Errorf("config set-context: --broker: %w", err)
		}
	}
	// Paths are stored absolute: the file is read from anywhere.
	for _, cs := range contextSettings {
		if p := cs.of(&x); cs.path && *p != "" && !strings.HasPrefix(*p, "~/") {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	cur := c.find(name)
	if cur == nil {
		c.Contexts = append(c.Contexts, Context{Name: name})
		cur = &c.Contexts[len(c.Contexts)-1]
	}
	fs.Visit(func(f *flag.Flag) {
		if cs, ok := contextSettingNamed(f.Name); ok {
			*cs.of(cur) = *cs.of(&x)
		}
	})
	if *use || c.CurrentContext == "" {
		c.CurrentContext = name
	}
	if err := c.save(path); err != nil {
		return fmt.Errorf("config set-context: %w", err)
	}
	fmt.Fprintf(stdout, "context %s saved in %s", name, path)
	if c.CurrentContext == name {
		fmt.Fprint(stdout, " (current)")
	}
	fmt.Fprintln(stdout)
	return nil
}

func configDeleteContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config delete-context", stdout, stderr)
	name, c, path, err := contextCommand(fs, args)
	if err != nil {
		return err
	}
	n := len(c.Contexts)
	c.Contexts = slices.DeleteFunc(c.Contexts, func(x Context) bool { return x.Name == name })
	if len(c.Contexts) == n {
		return fmt.Errorf("config delete-context: no context %q in %s", name, path)
	}
	if c.CurrentContext == name {
		c.CurrentContext = ""
	}
	if err := c.save(path); err != nil {
		return fmt.Errorf("config delete-context: %w", err)
	}
	fmt.Fprintf(stdout, "context %s deleted\n", name)
	return nil
}

// contextCommand parses a config command's flags and its one context
// NAME, and loads the config file.
func contextCommand(fs *flag.FlagSet, args []string) (name string, c *Config, path string, err error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", nil, "", err
	}
	if len(pos) != 1 {
		return "", nil, "", usageErrorf("%s: want one context NAME", strings.TrimPrefix(fs.Name(), "edgectl "))
	}
	c, path, err = loadConfig()
	return pos[0], c, path, err
}

// noArgs parses flags and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("%s: unexpected argument %q", strings.TrimPrefix(fs.Name(), "edgectl "), pos[0])
	}
	return nil
}
