// Package cli is edgectl, the operator's tool for edged, as a library:
// cmd/edgectl is a thin main over Run. Each command is one file here:
// models (infer, inspect, bench, profile, quantize, factorize, prune),
// keys and bundles (keys, bundle, verify), the fleet over MQTT (push, gc,
// deploy, update-agent, rollout, rollback, promote, pause, resume,
// cancel, canary, status, drift), the board (board, smoketest) and the
// tool itself (config, completion, version).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"infer":        {"run a model once on tensor files and write its outputs (the TFLite oracle's files)", runInfer},
		"inspect":      {"describe a model: inputs, outputs, ops, parameters, MACs, support", runInspect},
		"bench":        {"time a model's inference, per operator with --profile, or profile a model a running edged serves", runBench},
		"keys":         {"make a root key and signing keys by role (init), or a new signing key (rotate)", runKeys},
		"bundle":       {"check models and write a signed model bundle", runBundle},
		"verify":       {"verify a bundle against a root public key", runVerify},
		"push":         {"publish a bundle's blobs to the broker as retained chunks", runPush},
		"gc":           {"clear a bundle's blobs from the broker", runGC},
		"deploy":       {"push a bundle and send a deploy command to a device or group", runDeploy},
		"profile":      {"write a model's drift reference profile from sample inputs", runProfile},
		"drift":        {"show the fleet's latest drift states (from the broker)", runDrift},
		"status":       {"show the fleet's devices and telemetry (from the broker)", runStatus},
		"version":      {"print the version", runVersion},
		"update-agent": {"sign an edged binary, push it and send an update-agent command", runUpdateAgent},
		"rollout":      {"roll a bundle out to the fleet in waves with bake times and health gates (start, resume, status)", runRollout},
		"rollback":     {"return a device, a group or a rollout's devices from one version of a model to another", runRollback},
		"promote":      {"promote the candidate a device or group evaluates in shadow or canary", runPromote},
		"pause":        {"hold a canary evaluation on a device or group, or a rollout", runPause},
		"resume":       {"resume a held canary evaluation or a paused rollout", runResume},
		"cancel":       {"withdraw a command devices have not acted on yet, or stop a rollout where it stands", runCancel},
		"canary":       {"show canary evaluations: phase, per-arm figures, p-value, reason (status)", runCanary},
		"config":       {"show and edit edgectl's contexts: broker, TLS files, key directory, default group", runConfig},
		"completion":   {"print a shell completion script (bash or zsh)", runCompletion},
		"board":        {"print the detected board: model, cores, CPU features, accelerators, defaults", runBoard},
		"smoketest":    {"run a model on every backend of this board and compare each with the CPU runtime", runSmoketest},
		"quantize":     {"quantize a float model to int8 (calibrated, or weights only with --dynamic)", runQuantize},
		"factorize":    {"factorize fully-connected layers into two smaller ones (SVD)", runFactorize},
		"prune":        {"zero a model's smallest weights to a target sparsity", runPrune},
	}
}

// helpText is what -h prints above a command's flags.
type helpText struct {
	usage    string // after "usage: edgectl "
	synopsis string
}

// help holds every command's and subcommand's usage and synopsis, keyed
// by the name newFlags gets ("rollout start").
var help = map[string]helpText{
	"infer":                 {"infer --model M.tflite --input FILE [--input FILE ...] --out DIR [flags]", "Run a model once on raw little-endian tensors (or .npy), one file per input in subgraph order, and write DIR/output_K.bin per output."},
	"inspect":               {"inspect [--json] MODEL.tflite", "Describe a model: inputs, outputs, operators, parameters, MACs, arena size, sparsity, and whether edged runs it."},
	"bench":                 {"bench --model M.tflite [flags]", "Time a model's inference: warm-up runs, then median, min and spread of the timed runs. With --profile --url, print the per-operator profile of a model a running edged serves (its /debug/profile)."},
	"bundle":                {"bundle --name N --version V --model M.tflite [--key K | --keys DIR] --out DIR [flags]", "Check a model with the runtime and write a signed bundle: manifest.json and its blobs (variants, labels, drift profile, canary policy)."},
	"verify":                {"verify --root ROOT.pub --bundle DIR", "Verify a bundle's signature against the root public key and every blob against the manifest."},
	"push":                  {"push --bundle DIR [broker flags]", "Publish a bundle's blobs to the broker as retained chunks, for devices to fetch."},
	"gc":                    {"gc --bundle DIR [broker flags]", "Clear a bundle's retained blob chunks from the broker once no device needs them."},
	"deploy":                {"deploy --bundle DIR (--device ID | --group G) [--wait] [flags]", "Push a bundle's blobs and send a deploy command to one device or a group. With --wait, follow each device until it has an outcome, then clear the command. A device that never connected to the broker is reported at once."},
	"profile":               {"profile --model M.tflite --data DIR --out P.json [flags]", "Run a model over reference inputs and write its drift profile (per-feature histograms and classes) for drift.profile."},
	"drift":                 {"drift [--device ID | --group G] [broker flags]", "Show the devices' latest drift states per model, from the broker."},
	"status":                {"status [--device ID | --group G] [broker flags]", "Show the devices' state and telemetry, from the broker."},
	"version":               {"version", "Print edgectl's version."},
	"keys init":             {"keys init DIR [--purpose model,agent,command] [--validity D]", "Make a root key (root.key, kept offline; root.pub, given to devices) and one signing key per role, named ROLE-ID.key: model (bundles), agent (edged binaries), command (rollback, promote, pause, resume)."},
	"keys rotate":           {"keys rotate DIR --purpose ROLE [--validity D]", "Make a new signing key for a role (model, agent or command; model+agent for one key with both), certified by DIR/root.key. The newest valid key of a role is the one commands use."},
	"update-agent":          {"update-agent --binary FILE [--binary FILE ...] --version V [--key K | --keys DIR] (--device ID | --group G) [--wait] [flags]", "Sign edged binaries with an agent key, push them and send an update-agent command. With --wait, follow each device until the new agent reports healthy (or that it needs a restart), then clear the command and the binaries."},
	"rollout":               {"rollout start|resume|status [flags]", "Roll a bundle out to the fleet in waves: each wave must reach its success share, bake, and keep its health gates before the next starts; failures past the abort criteria roll back exactly the devices that installed the version. The state file lets a rollout be resumed, paused, cancelled or rolled back from another terminal."},
	"rollout start":         {"rollout start --bundle DIR (--devices a,b,... | --group G | --all) --state FILE [plan flags] [broker flags]", "Start a rollout and drive it until it finishes, aborts or is cancelled. Ctrl-C leaves it resumable."},
	"rollout resume":        {"rollout resume --state FILE [broker flags]", "Continue a rollout from its state file after edgectl stopped."},
	"rollout status":        {"rollout status --state FILE [--json]", "Print where a rollout stands: per wave, why it waits, failures with their reasons."},
	"rollback":              {"rollback (--device ID | --group G | --rollout STATE) [--model M --from V --to V] [flags]", "Return devices from one version of a model to another with a signed, version-scoped command: a device that does not serve --from does nothing and says so. For a device, --from and --to default to what its state reports: its candidate under evaluation and its active version, else its active and previous versions; for a rollout, every device that installed the version is rolled back."},
	"promote":               {"promote (--device ID | --group G) --model M [--version V] [flags]", "Promote the candidate version a device evaluates in shadow or canary (the version defaults to the device's candidate)."},
	"pause":                 {"pause (--device ID | --group G) --model M [--version V] | pause --rollout STATE [--reason R]", "Hold a device's canary evaluation (the active version serves everything until resume, promote or rollback), or pause a rollout: no device is sent the deploy until resume."},
	"resume":                {"resume (--device ID | --group G) --model M [--version V] | resume --rollout STATE", "Resume a held canary evaluation, or a paused rollout."},
	"cancel":                {"cancel (--device ID | --group G) [--op OP] [--id CMDID] | cancel --rollout STATE [--reason R]", "Withdraw retained commands devices have not acted on yet (it says which devices acted already; with --device it also clears the final statuses of commands withdrawn while the device was at work), or stop a rollout where it stands: no further device is sent the deploy, and devices that installed the version keep it."},
	"canary":                {"canary status [--device ID | --group G] [--model M] [flags]", "Show the canary evaluations: per device and model, the phase, per-arm requests, errors and latency, shadow agreement, the A/B p-value and the last decision's reason."},
	"canary status":         {"canary status [--device ID | --group G] [--model M] [flags]", "Show the canary evaluations: per device and model, the phase, per-arm requests, errors and latency, shadow agreement, the A/B p-value and the last decision's reason. Reads each device's local status through the broker-free --url, or the devices' state and events from the broker."},
	"config":                {"config view | get-contexts | use-context NAME | set-context NAME [flags] | delete-context NAME", "Show and edit the config file (" + configHint + "): named contexts holding a broker URL, TLS files, MQTT user, key directory and default group, like kubectl's. EDGECTL_* variables and flags override it."},
	"config view":           {"config view", "Print the config file."},
	"config get-contexts":   {"config get-contexts", "List the contexts; * marks the current one."},
	"config use-context":    {"config use-context NAME", "Make NAME the current context."},
	"config delete-context": {"config delete-context NAME", "Remove a context from the config file."},
	"keys":                  {"keys init|rotate DIR [flags]", "Make a root key and signing keys by role (init), or a new signing key for a role (rotate). Keep the root key offline; give devices root.pub."},
	"config set-context":    {"config set-context NAME [--broker URL] [--ca F] [--cert F] [--cert-key F] [--user U] [--keys DIR] [--group G] [--use]", "Create or change a context; --use makes it the current one."},
	"completion":            {"completion bash|zsh", "Print a completion script. bash: source <(edgectl completion bash); zsh: source <(edgectl completion zsh)."},
	"board":                 {"board [--json]", "Print the detected board: model, cores, CPU features, accelerators, and the thread and delegate defaults edged picks."},
	"smoketest":             {"smoketest --model M.tflite [--variant edgetpu=F] [flags]", "On a board: probe every delegate, run the model on each backend and compare the outputs with the CPU runtime."},
	"quantize":              {"quantize --model float.tflite (--calibration DIR | --dynamic) --out OUT.tflite [flags]", "Quantize a float model to full int8 with a calibration set, or weight-only (int8 weights, float activations) with --dynamic, and print a before/after table."},
	"factorize":             {"factorize --model M.tflite (--layer NAME | --all-fc) (--rank R | --energy E) --out OUT.tflite [flags]", "Replace fully-connected weights by a truncated SVD (two smaller layers) and print a before/after table."},
	"prune":                 {"prune --model M.tflite --sparsity S --out OUT.tflite [flags]", "Zero the smallest convolution and fully-connected weights (magnitude pruning) and print a before/after table."},
}

// configHint is where the config file lives.
const configHint = "$EDGECTL_CONFIG, else $XDG_CONFIG_HOME/edgectl/config.yaml or ~/.config/edgectl/config.yaml"

// Version is edgectl's version, which `edgectl version` prints; cmd/edgectl
// sets it from its link-time version.
var Version = "dev"

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stdout, stderr)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "edgectl", Version)
	return nil
}

// Run runs the edgectl command args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usageErrorf("no command given")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout)
		return flag.ErrHelp
	}
	c, ok := commands[args[0]]
	if !ok {
		return usageErrorf("unknown command %q; 'edgectl --help' lists them", args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: edgectl COMMAND [flags]\n\nThe operator's tool for edged: models, keys and bundles, and the fleet over MQTT.\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'edgectl COMMAND --help' for a command's flags. Fleet commands read the broker, TLS files, key\ndirectory and group from the current context of the config file ("+configHint+")\nand from EDGECTL_* variables; see 'edgectl config --help'.")
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// ExitCode is the exit status for what Run returned: 0 for success and
// for --help, 2 for a mistake in the command line, 1 for any other
// failure.
func ExitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// goIdent matches a Go identifier prefix a library put on an error
// ("sign.ParseSigningKey: ", "fleet.Encode *fleet.Command: "): a reader
// has no use for them.
var goIdent = regexp.MustCompile(`\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*( \*?[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*)?( "[^"]*")?: `)

// jsonType rewrites encoding/json's type errors, which name Go types.
var jsonType = regexp.MustCompile(`json: cannot unmarshal (\w+) into Go (?:struct field [A-Za-z0-9_]+\.([A-Za-z0-9_.]+)|value) of type \S+`)

// Message is err as a person reads it: without the Go identifiers
// libraries prefix their errors with.
func Message(err error) string {
	s := err.Error()
	s = goIdent.ReplaceAllString(s, "")
	s = jsonType.ReplaceAllStringFunc(s, func(m string) string {
		g := jsonType.FindStringSubmatch(m)
		if g[2] != "" {
			return fmt.Sprintf("field %q: wrong type (%s)", g[2], g[1])
		}
		return fmt.Sprintf("wrong JSON type (%s)", g[1])
	})
	return s
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// flagSets records the flag sets made while introspect is set, for shell
// completion.
var (
	introspect bool
	flagSets   = map[string]*flag.FlagSet{}
)

// newFlags makes a FlagSet that reports errors instead of exiting and
// whose -h prints the command's usage line, synopsis and flags.
func newFlags(name string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("edgectl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// -h asks for the help: it goes to stdout. A bad flag's error goes to
	// the caller, who prints it once.
	fs.Usage = func() { printHelp(stdout, name, fs) }
	if introspect {
		flagSets[name] = fs
	}
	return fs
}

// printHelp writes a command's usage line, synopsis and flags.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h, ok := help[name]
	if !ok {
		h = helpText{usage: name + " [flags]"}
	}
	fmt.Fprintf(w, "usage: edgectl %s\n", h.usage)
	if h.synopsis != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(h.synopsis, 78))
	}
	if fs == nil {
		return
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + strings.ToUpper(arg)
		}
		if len(line) > 24 {
			line += "\n" + strings.Repeat(" ", 26)
		} else {
			line += strings.Repeat(" ", 26-len(line))
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintln(w, line+strings.ReplaceAll(wrap(text, 52), "\n", "\n"+strings.Repeat(" ", 26)))
	})
}

// wrap breaks s into lines of at most width characters at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// parseFlags parses args, allowing flags after positional arguments. A
// -h or --help prints the command's help on stdout's side (the flag set's
// output) and returns flag.ErrHelp; a bad flag is a usage error naming it.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	// The flag package prints the usage on every error; the error
	// alone, with a pointer to --help, is what the operator needs.
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			usage()
			return nil, flag.ErrHelp
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{fmt.Sprintf("%s: %v; see '%s --help'", strings.TrimPrefix(fs.Name(), "edgectl "), err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// subcommand dispatches to one of subs by args[0], with help for the
// parent when none is given or asked for.
func subcommand(ctx context.Context, name string, subs map[string]func(context.Context, []string, io.Writer, io.Writer) error, args []string, stdout, stderr io.Writer) error {
	var names []string
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if introspect {
		subcommandsOf[name] = names
		for _, f := range subs {
			f(ctx, []string{"--help"}, io.Discard, io.Discard)
		}
		return flag.ErrHelp
	}
	if len(args) > 0 {
		if f, ok := subs[args[0]]; ok {
			return f(ctx, args[1:], stdout, stderr)
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			printHelp(stdout, name, nil)
			fmt.Fprintf(stdout, "\nsubcommands: %s; 'edgectl %s SUBCOMMAND --help' for each.\n", strings.Join(names, ", "), name)
			return flag.ErrHelp
		}
		return usageErrorf("%s: unknown subcommand %q; want %s (see 'edgectl %s --help')", name, args[0], strings.Join(names, ", "), name)
	}
	printHelp(stderr, name, nil)
	return usageErrorf("%s: want a subcommand: %s", name, strings.Join(names, ", "))
}
