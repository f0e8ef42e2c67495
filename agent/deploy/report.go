package deploy

import (
	"sort"
	"strconv"
	"sync"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/store"
	"github.com/edged-dev/edged/ota/transfer"
)

// report is what the deployer tells the console (/metrics, /v1/status,
// the telemetry snapshot): the store's versions as last read, each
// model's last outcome, the downloads in progress and the rollbacks. It
// has its own lock so that reading it never waits for a deployment.
type report struct {
	mu        sync.Mutex
	stored    []store.Model
	last      map[string]fleet.ModelOTA
	downloads map[string]fleet.DownloadTelemetry // by sha256
	rollbacks uint64
}

// noteOutcome records where a command or a canary decision on a model
// ended.
func (d *Deployer) noteOutcome(model, op, state string) {
	if model == "" || state == "" {
		return
	}
	r := &d.rep
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]fleet.ModelOTA{}
	}
	r.last[model] = fleet.ModelOTA{Name: model, Op: op, Outcome: state, At: d.now().Unix()}
	if state == StatusRolledBack || (op == fleet.OpRollback && state == fleet.StatusDone) {
		r.rollbacks++
	}
}

// downloading records the progress of a download of model m's blob; done
// ends it.
func (d *Deployer) downloading(m *sign.Manifest, p transfer.Progress, done bool) {
	r := &d.rep
	r.mu.Lock()
	defer r.mu.Unlock()
	if done {
		delete(r.downloads, p.SHA256)
		return
	}
	if r.downloads == nil {
		r.downloads = map[string]fleet.DownloadTelemetry{}
	}
	r.downloads[p.SHA256] = fleet.DownloadTelemetry{Model: m.Name, Version: strconv.FormatUint(m.Version, 10), Bytes: p.Bytes, Size: p.Size}
}

// OTATelemetry is every model in the store (its active and previous
// versions, its last outcome since the agent started), the downloads in
// progress and the rollbacks since the agent started. The versions are
// read from the store unless a deployment holds it; then they are the
// last read.
func (d *Deployer) OTATelemetry() *fleet.OTATelemetry {
	r := &d.rep
	if d.mu.TryLock() {
		ms, err := d.st.Models()
		d.mu.Unlock()
		if err == nil {
			r.mu.Lock()
			r.stored = ms
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &fleet.OTATelemetry{Rollbacks: r.rollbacks}
	seen := map[string]bool{}
	for _, m := range r.stored {
		mo := r.last[m.Name]
		mo.Name = m.Name
		if m.Active != 0 {
			mo.Version = strconv.FormatUint(m.Active, 10)
		}
		if m.Previous != 0 {
			mo.Previous = strconv.FormatUint(m.Previous, 10)
		}
		o.Models = append(o.Models, mo)
		seen[m.Name] = true
	}
	for name, mo := range r.last {
		if !seen[name] {
			o.Models = append(o.Models, mo)
		}
	}
	sort.Slice(o.Models, func(i, j int) bool { return o.Models[i].Name < o.Models[j].Name })
	for _, dl := range r.downloads {
		o.Downloads = append(o.Downloads, dl)
	}
	sort.Slice(o.Downloads, func(i, j int) bool {
		a, b := o.Downloads[i], o.Downloads[j]
		return a.Model < b.Model || a.Model == b.Model && a.Version < b.Version
	})
	return o
}
