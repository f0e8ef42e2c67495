package sign

import "fmt"

// Ops of signed operator commands.
const (
	// OpRollback leaves one version of a model for another: Rollback.
	OpRollback = "rollback"
	// OpPromote ends the evaluation of a candidate by making it the
	// active version: Target.
	OpPromote = "promote"
	// OpHold pauses the evaluation of a candidate: the active version
	// serves every request until OpResume, OpPromote or OpRollback.
	// Target.
	OpHold = "hold"
	// OpResume continues a held evaluation: Target.
	OpResume = "resume"
)

// CommandProtocol is the version of the command payloads this build
// writes and reads, carried in each payload's "v".
//
//   - 1: earlier agents. Rollback and promote carried an unsigned
//     {"model": NAME} as the fleet command's payload, rolled back to
//     whatever version was previous, and had no hold or resume. Agents
//     of protocol 2 refuse such commands as unsigned.
//   - 2: the payload is a signed Command whose payload is Rollback or
//     Target, with a "v" of 2. A rollback names the version to leave and
//     the version to return to.
//
// An agent advertises the highest protocol it reads in its state
// message, so that edgectl knows what a device understands; a device
// that advertises none speaks protocol 1.
const CommandProtocol = 2

// Payload is implemented by the payload types of operator commands.
type Payload interface {
	check(op string) error
}

// Rollback is the payload of OpRollback. It is scoped to versions: a
// device that does not serve From (as its active version, or as a
// candidate under evaluation) does nothing and says so, so a rollback
// can never move a device that never installed the version being
// withdrawn, and a rollback delivered twice does nothing the second time.
type Rollback struct {
	V     int    `json:"v"` // CommandProtocol
	Model string `json:"model"`
	// From is the version to leave; To the version to return to, which
	// the device must hold (its previous version, or its active version
	// when From is a candidate).
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// Target is the payload of OpPromote, OpHold and OpResume: the candidate
// version of a model under evaluation. A device whose candidate for the
// model is another version does nothing and says so.
type Target struct {
	V       int    `json:"v"` // CommandProtocol
	Model   string `json:"model"`
	Version uint64 `json:"version"`
}

func (p *Rollback) check(op string) error {
	switch {
	case op != OpRollback:
		return fmt.Errorf("a rollback payload in a %q command", op)
	case p.V != CommandProtocol:
		return fmt.Errorf("protocol v%d; this build reads v%d", p.V, CommandProtocol)
	case !validName(p.Model, maxNameLen):
		return fmt.Errorf("model %q: want 1 to %d of A-Z a-z 0-9 . _ - (not starting with . or -)", clipText(p.Model), maxNameLen)
	case p.From == 0 || p.To == 0 || p.From > MaxVersion || p.To > MaxVersion:
		return fmt.Errorf("from %d, to %d: want versions 1 to %d", p.From, p.To, uint64(MaxVersion))
	case p.From == p.To:
		return fmt.Errorf("from and to are both version %d", p.From)
	}
	return nil
}

func (p *Target) check(op string) error {
	switch {
	case op != OpPromote && op != OpHold && op != OpResume:
		return fmt.Errorf("a promote, hold or resume payload in a %q command", op)
	case p.V != CommandProtocol:
		return fmt.Errorf("protocol v%d; this build reads v%d", p.V, CommandProtocol)
	case !validName(p.Model, maxNameLen):
		return fmt.Errorf("model %q: want 1 to %d of A-Z a-z 0-9 . _ - (not starting with . or -)", clipText(p.Model), maxNameLen)
	case p.Version == 0 || p.Version > MaxVersion:
		return fmt.Errorf("version %d: want 1 to %d", p.Version, uint64(MaxVersion))
	}
	return nil
}
