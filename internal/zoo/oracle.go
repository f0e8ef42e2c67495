package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modelInfo is the part of `oracle.mjs info` the harness reads.
type modelInfo struct {
	SHA256  string         `json:"sha256"`
	Inputs  []ioSpec       `json:"inputs"`
	Outputs []ioSpec       `json:"outputs"`
	Ops     map[string]int `json:"ops"`
}

// oracleOutput is one output as the oracle's result.json lists it.
type oracleOutput struct {
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
}

func (c *config) oracleCmd(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.node, append([]string{filepath.Join(c.oracle, "oracle.mjs")}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("oracle timed out after %s", c.timeout)
		}
		return nil, fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 3))
	}
	return stdout.Bytes(), nil
}

func (c *config) oracleInfo(ctx context.Context, model string) (*modelInfo, error) {
	out, err := c.oracleCmd(ctx, "info", model)
	if err != nil {
		return nil, err
	}
	var mi modelInfo
	if err := json.Unmarshal(out, &mi); err != nil {
		return nil, fmt.Errorf("oracle info: %w", err)
	}
	return &mi, nil
}

// writeInputs stores inputs as raw files in dir and returns their paths.
func writeInputs(dir string, inputs [][]byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for i, b := range inputs {
		f := filepath.Join(dir, fmt.Sprintf("input_%d.bin", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// oracleRun runs model on the input files and returns the outputs in
// subgraph order.
func (c *config) oracleRun(ctx context.Context, model string, inputs []string, outDir string) ([]tensorBytes, error) {
	args := []string{"run", model, "--out", outDir}
	for _, f := range inputs {
		args = append(args, "--input", f)
	}
	if _, err := c.oracleCmd(ctx, args...); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(outDir, "result.json"))
	if err != nil {
		return nil, err
	}
	var res struct {
		Outputs []oracleOutput `json:"outputs"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("oracle result.json: %w", err)
	}
	out := make([]tensorBytes, len(res.Outputs))
	for k, o := range res.Outputs {
		data, err := os.ReadFile(filepath.Join(outDir, o.File))
		if err != nil {
			return nil, err
		}
		out[k] = tensorBytes{DType: o.DType, Shape: o.Shape, Data: data}
	}
	return out, nil
}

// oracleBench returns the oracle's median milliseconds over runs timed
// invocations (1 thread).
func (c *config) oracleBench(ctx context.Context, model string, inputs []string, runs, warmup int) (float64, error) {
	args := []string{"bench", model, "--threads", "1", "--runs", fmt.Sprint(runs), "--warmup", fmt.Sprint(warmup)}
	for _, f := range inputs {
		args = append(args, "--input", f)
	}
	out, err := c.oracleCmd(ctx, args...)
	if err != nil {
		return 0, err
	}
	var r struct {
		MedianMS float64 `json:"median_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("oracle bench: %w", err)
	}
	return r.MedianMS, nil
}

// lastLines keeps the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " | ")
}
