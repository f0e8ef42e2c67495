package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/edged-dev/edged/internal/indexinput"
	"github.com/edged-dev/edged/runtime/tflite"
)

type benchResult struct {
	Model      string  `json:"model"`
	Backend    string  `json:"backend,omitempty"`
	MedianMS   float64 `json:"median_ms"`
	MinMS      float64 `json:"min_ms"`
	P90MS      float64 `json:"p90_ms"`
	MeanMS     float64 `json:"mean_ms"`
	Runs       int     `json:"runs"`
	Warmup     int     `json:"warmup"`
	Threads    int     `json:"threads"`
	Arithmetic string  `json:"arithmetic"`
	MACs       int64   `json:"macs"`
	GMACPerSec float64 `json:"gmac_per_s"`
	// FoldedOps operators were computed once at load (constant inputs).
	FoldedOps int             `json:"folded_ops"`
	Profile   *tflite.Profile `json:"profile,omitempty"`
	// CPUMS is the process's CPU time (user and system) per timed run:
	// unlike wall time, it leaves out the time other processes ran on a
	// loaded machine (it adds the other threads' work when --threads > 1).
	CPUMS float64 `json:"cpu_ms,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stdout, stderr)
	model := fs.String("model", "", "model `file` (.tflite); with --url, the name of a model the device serves")
	var inputs multiFlag
	fs.Var(&inputs, "input", "input tensor `file`, once per model input (default: random data; indices of a GATHER, GATHER_ND or EMBEDDING_LOOKUP within the dimension they index)")
	threads := fs.Int("threads", 1, "threads per inference")
	runs := fs.Int("runs", 50, "timed invocations")
	warmup := fs.Int("warmup", 10, "untimed invocations first")
	arith := fs.String("arithmetic", "litert", arithmeticUsage)
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs to `file` (go tool pprof)")
	backend := fs.String("backend", "cpu", "`list` of backends to time side by side, interleaved: cpu (edged's runtime), xnnpack, gpu, edgetpu (the vendor's library: edgectl built with -tags edged_dynamic)")
	tfliteLib := fs.String("tflite", "", "the TFLite C library `file` for --backend xnnpack|gpu|edgetpu (default: libtensorflowlite_c.so on the loader's path)")
	opProfile := fs.Bool("profile", false, "then time every operator over the same number of runs: a per-operator table and a summary by operator type")
	devURL := fs.String("url", "", "with --profile: profile --model on a running edged's local API instead (/debug/profile), e.g. http://127.0.0.1:9410")
	token := fs.String("token", "", "the local API's bearer token (http.token), for --url")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *model == "" {
		*model = pos[0]
	} else if len(pos) > 0 {
		return fmt.Errorf("bench: unexpected argument %q", pos[0])
	}
	if *runs < 1 || *warmup < 0 {
		return fmt.Errorf("bench: --runs must be >= 1 and --warmup >= 0")
	}
	if *devURL != "" {
		if !*opProfile || *model == "" {
			return fmt.Errorf("bench: --url needs --profile and --model NAME (a model the device serves)")
		}
		if *runs > 1000 {
			return fmt.Errorf("bench: --url takes at most 1000 runs")
		}
		return benchURL(ctx, *devURL, *token, *model, *runs, *asJSON, stdout)
	}
	if bs := parseBackends(*backend); len(bs) != 1 || bs[0] != "cpu" {
		if len(bs) == 0 {
			return fmt.Errorf("bench: --backend %q names no backend", *backend)
		}
		if *cpuProfile != "" || *opProfile {
			return fmt.Errorf("bench: --cpuprofile and --profile profile edged's runtime alone; drop --backend")
		}
		return benchBackends(ctx, benchSpec{model: *model, inputs: inputs, backends: bs, tflite: *tfliteLib, threads: *threads, runs: *runs, warmup: *warmup, arith: *arith}, *asJSON, stdout)
	}
	it, m, err := openModel(*model, *threads, *arith)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if len(inputs) > 0 && len(inputs) != it.NumInputs() {
		return fmt.Errorf("bench: the model has %d inputs; got %d --input files", it.NumInputs(), len(inputs))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < it.NumInputs(); i++ {
		in := it.Input(i)
		if len(inputs) > 0 {
			b, err := readTensorFile(inputs[i], in)
			if err != nil {
				return fmt.Errorf("bench: input %d: %w", i, err)
			}
			copy(in.Data, b)
			continue
		}
		fillRandom(r, in.Data, in.Type.String(), inputRange(m, i))
	}
	// invokeErr explains a failed run on random inputs.
	invokeErr := func(err error) error {
		if len(inputs) == 0 {
			return fmt.Errorf("bench: %w (on random inputs: give the model's own with --input)", err)
		}
		return fmt.Errorf("bench: %w", err)
	}
	for i := 0; i < *warmup; i++ {
		if err := it.Invoke(); err != nil {
			return invokeErr(err)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	times := make([]float64, *runs)
	cpu0 := processCPU()
	for i := range times {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if err := it.Invoke(); err != nil {
			return invokeErr(err)
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	cpu := processCPU() - cpu0
	res := summarize(times)
	if cpu > 0 {
		res.CPUMS = float64(cpu.Nanoseconds()) / 1e6 / float64(*runs)
	}
	res.Model, res.Warmup, res.Threads, res.Arithmetic = *model, *warmup, *threads, *arith
	res.MACs = it.MACs()
	res.FoldedOps = it.FoldedOps()
	if *opProfile {
		if res.Profile, err = it.Profile(ctx, 0, *runs); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if res.MedianMS > 0 {
		res.GMACPerSec = float64(res.MACs) / (res.MedianMS / 1000) / 1e9
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: median %.4g ms, min %.4g ms, p90 %.4g ms, CPU %.4g ms per run over %d runs (%d threads, %s arithmetic, %.2f GMAC/s)\n",
		res.Model, res.MedianMS, res.MinMS, res.P90MS, res.CPUMS, res.Runs, res.Threads, res.Arithmetic, res.GMACPerSec)
	if res.Profile != nil {
		if res.FoldedOps > 0 {
			fmt.Fprintf(stdout, "%d operators with constant inputs computed at load\n", res.FoldedOps)
		}
		fmt.Fprintln(stdout)
		return res.Profile.WriteText(stdout)
	}
	return nil
}

// summarize computes median, min, p90 (nearest rank) and mean.
func summarize(times []float64) benchResult {
	s := slices.Clone(times)
	slices.Sort(s)
	n := len(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	p90 := s[min(n-1, (9*n+9)/10-1)]
	return benchResult{MedianMS: median, MinMS: s[0], P90MS: p90, MeanMS: sum / float64(n), Runs: n}
}

// inputRange is the size of the dimension model input i indexes (a
// GATHER's or EMBEDDING_LOOKUP's indices, see internal/indexinput), or 0.
func inputRange(m *tflite.Model, i int) int {
	if m == nil || len(m.Subgraphs) == 0 || i >= len(m.Subgraphs[0].Inputs) {
		return 0
	}
	n, _ := indexinput.Range(m, m.Subgraphs[0].Inputs[i])
	return n
}

// fillRandom fills a tensor's bytes; float tensors get values in [-1, 1),
// int32 and int64 indices (n > 0) values in [0, n).
func fillRandom(r *rand.Rand, b []byte, dtype string, n int) {
	switch {
	case n > 0 && dtype == "int32":
		for i := 0; i+4 <= len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], uint32(r.IntN(n)))
		}
		return
	case n > 0 && dtype == "int64":
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], uint64(r.IntN(n)))
		}
		return
	}
	if dtype == "float32" {
		for i := 0; i+4 <= len(b); i += 4 {
			v := r.Float32()*2 - 1
			u := mathFloat32bits(v)
			b[i], b[i+1], b[i+2], b[i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		}
		return
	}
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }

// processCPU is the process's user and system CPU time so far, 0 where
// unavailable.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
