package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/delegates"
)

// boardReport is what `edgectl board --json` prints: the detected board plus
// the defaults edged derives from it.
type boardReport struct {
	boards.Board
	DefaultThreads int      `json:"default_threads"`
	Delegates      []string `json:"delegates"`
	Warnings       []string `json:"warnings,omitempty"`
	// Backends are the checks of this host's accelerator backends (not
	// made for a captured --root).
	Backends []delegates.ProbeOutcome `json:"backends,omitempty"`
}

// checkBackends probes every registered backend but the CPU, at once (each
// vendor library in a child process).
func checkBackends(ctx context.Context) []delegates.ProbeOutcome {
	var bs []delegates.Backend
	for _, b := range delegates.Backends() {
		if b.Name() != "cpu" {
			bs = append(bs, b)
		}
	}
	out := make([]delegates.ProbeOutcome, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, delegates.DefaultProbeTimeout)
			defer cancel()
			out[i] = delegates.CheckBackend(ctx, b)
		})
	}
	wg.Wait()
	return out
}

func runBoard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("board", stdout, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	root := fs.String("root", "/", "root filesystem to read; a captured tree such as boards/testdata/rpi-5 for testing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return fmt.Errorf("board: want no arguments, got %q", pos)
	}
	b, err := boards.Detect(os.DirFS(*root))
	if errors.Is(err, boards.ErrNoData) {
		return fmt.Errorf("board: %s: %w", *root, err)
	}
	// Other errors are partial failures: print what was found and say
	// what could not be read.
	var warnings []string
	if err != nil {
		warnings = strings.Split(err.Error(), "\n")
	}
	rep := boardReport{Board: b, DefaultThreads: b.DefaultThreads(), Delegates: b.PreferredDelegates(), Warnings: warnings}
	if *root == "/" {
		rep.Backends = checkBackends(ctx)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBoard(stdout, rep)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "edgectl board: warning:", w)
	}
	return nil
}

func printBoard(w io.Writer, r boardReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("board", fmt.Sprintf("%s (%s)", r.Name, r.Family))
	row("model", r.Model)
	row("revision", r.Revision)
	row("l4t", r.L4T)
	row("arch", r.Arch)
	cpu := fmt.Sprintf("%d cores", r.CPU.Cores)
	if r.CPU.Name != "" {
		cpu += ", " + r.CPU.Name
	}
	row("cpu", cpu)
	row("features", strings.Join(r.CPU.Features, " "))
	if r.MemoryBytes > 0 {
		row("memory", fmt.Sprintf("%.1f GiB", float64(r.MemoryBytes)/(1<<30)))
	}
	for _, z := range r.Thermal {
		row("thermal", fmt.Sprintf("%s %s %.1f C", z.Zone, z.Type, z.TempC))
	}
	if r.Throttle != nil {
		row("throttle", r.Throttle.String())
	}
	if len(r.Accelerators) == 0 {
		row("accelerators", "none")
	}
	for _, a := range r.Accelerators {
		row("accelerator", fmt.Sprintf("%s %s %s", a.Kind, a.Path, a.State))
	}
	row("threads", fmt.Sprint(r.DefaultThreads))
	row("delegates", strings.Join(r.Delegates, ", "))
	for _, o := range r.Backends {
		row("backend", o.String())
	}
	tw.Flush()
}
