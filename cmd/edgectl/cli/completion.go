package cli

// Shell completion with github.com/posener/complete/v2: bash (and zsh
// through bashcompinit) run "edgectl" itself with COMP_LINE set, and the
// library answers from a tree built from edgectl's own flag sets, so a
// new flag completes without touching a script. It needs no framework:
// the tree is a plain description beside the flag package.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/posener/complete/v2"
	"github.com/posener/complete/v2/predict"
)

func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("completion", stdout, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("completion: want bash or zsh")
	}
	const hook = `complete -o default -C "$(command -v edgectl)" edgectl`
	switch pos[0] {
	case "bash":
		fmt.Fprintf(stdout, "# edgectl completion for bash: source <(edgectl completion bash)\n%s\n", hook)
	case "zsh":
		fmt.Fprintf(stdout, "# edgectl completion for zsh: source <(edgectl completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n%s\n", hook)
	default:
		return usageErrorf("completion: %q; want bash or zsh", pos[0])
	}
	return nil
}

// Complete answers the shell's completion request when edgectl runs
// under "complete -C" (COMP_LINE set) and exits; otherwise it returns.
func Complete() {
	if os.Getenv("COMP_LINE") == "" {
		return
	}
	completionTree().Complete("edgectl")
}

// subcommandsOf records, in introspection, each parent's subcommands.
var subcommandsOf = map[string][]string{}

// completionTree describes every command, subcommand and flag, from the
// flag sets the commands make when asked for --help.
func completionTree() *complete.Command {
	introspect = true
	defer func() { introspect = false }()
	ctx := context.Background()
	root := &complete.Command{Sub: map[string]*complete.Command{}, Flags: map[string]complete.Predictor{"help": nil}}
	for name, c := range commands {
		c.run(ctx, []string{"--help"}, io.Discard, io.Discard)
		root.Sub[name] = commandNode(name)
	}
	return root
}

func commandNode(name string) *complete.Command {
	if subs := subcommandsOf[name]; len(subs) > 0 {
		n := &complete.Command{Sub: map[string]*complete.Command{}}
		for _, s := range subs {
			n.Sub[s] = commandNode(name + " " + s)
		}
		return n
	}
	n := &complete.Command{Flags: map[string]complete.Predictor{}}
	if fs := flagSets[name]; fs != nil {
		fs.VisitAll(func(f *flag.Flag) { n.Flags[f.Name] = flagPredictor(f) })
	}
	switch name {
	case "inspect":
		n.Args = predict.Files("*.tflite")
	case "keys init", "keys rotate":
		n.Args = predict.Dirs("*")
	case "completion":
		n.Args = predict.Set{"bash", "zsh"}
	case "config use-context", "config set-context", "config delete-context":
		n.Args = complete.PredictFunc(contextNames)
	}
	return n
}

// flagPredictor predicts a flag's value: files, directories, context
// names, or nothing (a boolean takes no value).
func flagPredictor(f *flag.Flag) complete.Predictor {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return nil
	}
	switch f.Name {
	case "bundle", "data", "calibration", "keys", "root-dir":
		return predict.Dirs("*")
	case "model":
		return predict.Files("*.tflite")
	case "state", "key", "binary", "ca", "cert", "cert-key", "policy", "profile", "labels", "input", "root", "password-file", "cpuprofile", "variant":
		return predict.Files("*")
	case "context":
		return complete.PredictFunc(contextNames)
	}
	return predict.Something
}

func contextNames(prefix string) []string {
	c, _, err := loadConfig()
	if err != nil {
		return nil
	}
	var out []string
	for _, x := range c.Contexts {
		if strings.HasPrefix(x.Name, prefix) {
			out = append(out, x.Name)
		}
	}
	sort.Strings(out)
	return out
}
