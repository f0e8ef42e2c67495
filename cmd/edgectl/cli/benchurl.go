package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edged-dev/edged/runtime/tflite"
)

// deviceProfile is a device's GET /debug/profile answer.
type deviceProfile struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	Inputs  string `json:"inputs"`
	*tflite.Profile
}

// benchURL prints the per-operator profile of a model served by a
// running edged, from its local API's /debug/profile.
func benchURL(ctx context.Context, base, token, model string, runs int, asJSON bool, stdout io.Writer) error {
	base = strings.TrimRight(base, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	q := url.Values{"model": {model}, "runs": {fmt.Sprint(runs)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/profile?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("bench: --url %q: %v", base, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The device bounds a profile to 30 s.
	hc := &http.Client{Timeout: 45 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bench: cannot read %s/debug/profile: %v", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("bench: reading %s/debug/profile: %v", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := resp.Status
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg += ": " + e.Error
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			msg += " (give --token if the device sets http.token)"
		case http.StatusNotFound:
			if e.Error == "" || strings.HasPrefix(e.Error, "no such endpoint") {
				msg += " (the device serves /debug/profile only with http.pprof on, the default on loopback)"
			}
		}
		return fmt.Errorf("bench: %s/debug/profile: %s", base, msg)
	}
	var p deviceProfile
	if err := json.Unmarshal(body, &p); err != nil || p.Profile == nil {
		return fmt.Errorf("bench: %s/debug/profile: not a profile: %v", base, err)
	}
	if asJSON {
		_, err := stdout.Write(body)
		return err
	}
	fmt.Fprintf(stdout, "%s version %s on %s: %d operators timed over %d runs on %s inputs; invoke median %.4g ms, min %.4g ms (%d threads)\n\n",
		p.Model, p.Version, base, len(p.Ops), p.Runs, p.Inputs, p.InvokeMedianUS/1e3, p.InvokeMinUS/1e3, p.Threads)
	return p.WriteText(stdout)
}
