package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// Terminal states of an update-agent command, as devices report them;
// "downloading", "verified" and "restarting" come before.
var updateOK = []string{"active", fleet.StatusDone}

// variantName is what a variant looks like: GOOS-GOARCH or linux-armv6.
var variantName = regexp.MustCompile(`^[a-z0-9]+-[a-z0-9]+$`)

func runUpdateAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("update-agent", stdout, stderr)
	var bf brokerFlags
	bf.register(fs)
	var binaries multiFlag
	fs.Var(&binaries, "binary", "edged binary `FILE` (its platform is read from it) or VARIANT=FILE; repeat for a fleet of several platforms (required)")
	versionFlag := fs.String("version", "", "the binaries' release, MAJOR.MINOR.PATCH: what they print with --version (required)")
	var kf keyFlags
	kf.register(fs, "agent")
	device := fs.String("device", "", "device id to update")
	group := fs.String("group", "", "group to update")
	validity := fs.Duration("expires", 7*24*time.Hour, "the manifest may be installed until this long from now")
	wait := fs.Bool("wait", false, "print each device's progress until done, then clear the command and the binaries")
	timeout := fs.Duration("timeout", 15*time.Minute, "with --wait: give up after this")
	expect := fs.Int("expect", 1, "with --wait and --group: how many devices must finish")
	cmdID := fs.String("id", "", "command id; default edged-vVERSION-UNIXTIME")
	chunk := fs.Int("chunk-size", transfer.DefaultChunkSize, "chunk size in bytes")
	out := fs.String("out", "", "also write the signed manifest to this `file`")
	restartGrace := fs.Duration("restart-grace", 30*time.Second, "with --wait: a device that went offline to restart and is not back within this needs a restart by hand")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(binaries) == 0 || *versionFlag == "" || (*device == "") == (*group == "") {
		return usageErrorf("update-agent: want --binary, --version and one of --device or --group; see 'edgectl update-agent --help'")
	}
	version, err := selfupdate.ParseVersion(*versionFlag)
	if err != nil {
		return fmt.Errorf("update-agent: --version: %w", err)
	}
	set, err := bf.resolve()
	if err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	key, err := kf.load(sign.KindAgent, set)
	if err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	m := &sign.Manifest{V: 1, Kind: sign.KindAgent, Name: selfupdate.Name, Version: version, Created: now, Expires: now.Add(*validity)}
	files := map[string]string{} // sha256 -> path
	for _, b := range binaries {
		blob, path, err := binaryBlob(b, version)
		if err != nil {
			return fmt.Errorf("update-agent: --binary %s: %w", b, err)
		}
		if _, dup := m.Blob(blob.Variant); dup {
			return fmt.Errorf("update-agent: two binaries for variant %s", blob.Variant)
		}
		m.Blobs = append(m.Blobs, blob)
		files[blob.SHA256] = path
	}
	if err := sign.Sign(m, key); err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	if *out != "" {
		if err := os.WriteFile(*out, append(raw, '\n'), 0o644); err != nil {
			return fmt.Errorf("update-agent: %w", err)
		}
	}
	if *cmdID == "" {
		*cmdID = fmt.Sprintf("edged-v%s-%d", selfupdate.FormatVersion(version), now.Unix())
	}
	for _, id := range []string{*device, *group, *cmdID} {
		if id != "" {
			if err := fleet.ValidID(id); err != nil {
				return fmt.Errorf("update-agent: %w", err)
			}
		}
	}
	cmd := fleet.Command{Op: fleet.OpUpdateAgent, ID: *cmdID, Payload: json.RawMessage(raw), Issued: now, Expires: m.Expires}
	payload, err := fleet.Encode(&cmd)
	if err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	topic, target := fleet.CommandTopic(*device, fleet.OpUpdateAgent, *cmdID), "device "+*device
	if *group != "" {
		topic, target = fleet.GroupCommandTopic(*group, fleet.OpUpdateAgent, *cmdID), "group "+*group
	}

	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	defer stop()
	var metas []fleet.BlobMeta
	for _, blob := range m.Blobs {
		meta, err := publishFile(ctx, c, files[blob.SHA256], blob, *chunk, stderr)
		if err != nil {
			return fmt.Errorf("update-agent: %w", err)
		}
		metas = append(metas, meta)
	}

	var w *commandWatch
	if *wait {
		if w, err = watchCommand(ctx, c, fleet.OpUpdateAgent, *cmdID); err != nil {
			return err
		}
		if w.check, err = restartWatch(ctx, c, *restartGrace); err != nil {
			return fmt.Errorf("update-agent: %w", err)
		}
	}
	if err := c.Publish(ctx, topic, payload, 1, true); err != nil {
		return fmt.Errorf("update-agent: %w", err)
	}
	fmt.Fprintf(stdout, "update-agent edged %s (%d) to %s: command %s\n", selfupdate.FormatVersion(version), version, target, *cmdID)
	if !*wait {
		fmt.Fprintf(stdout, "the command stays retained on %s for devices offline now; once every device has answered, clear it with: edgectl cancel --%s --id %s (and the binaries with edgectl gc)\n",
			topic, target, *cmdID)
		return nil
	}
	states, waitErr := w.wait(ctx, stdout, *device, *expect, *timeout, func(s string) bool { return isOne(s, updateOK) || rollout.StatusOf(s).Failure() })
	// The binaries go too: without the command the chunks only take the
	// broker's memory.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer ccancel()
	if err := w.clear(cctx, topic, states); err != nil {
		return errors.Join(waitErr, err)
	}
	for _, meta := range metas {
		if err := transfer.Clear(cctx, c, meta); err != nil {
			return errors.Join(waitErr, fmt.Errorf("update-agent: clearing blob %s: %w", meta.SHA256, err))
		}
	}
	if waitErr != nil {
		return waitErr
	}
	if err := failures("update-agent", states); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d device(s) running edged %s\n", len(states), selfupdate.FormatVersion(version))
	return nil
}

// binaryBlob describes one --binary, "FILE" or "VARIANT=FILE": the
// variant is the platform the binary was built for, read from the file
// (its Go build information, else its ELF header); a VARIANT given must
// agree with it. A binary whose build stamped another version than want
// is refused: the device would roll it back after the restart.
func binaryBlob(arg string, want uint64) (sign.Blob, string, error) {
	variant, path, named := strings.Cut(arg, "=")
	if !named {
		path = arg
	}
	p, err := binaryPlatform(path)
	if err != nil {
		return sign.Blob{}, "", err
	}
	switch {
	case p.variant == "" && !named:
		return sign.Blob{}, "", fmt.Errorf("cannot tell the platform it is built for (%s); write VARIANT=FILE, e.g. linux-arm64=%s", p.why, path)
	case p.variant != "" && named && variant != p.variant:
		return sign.Blob{}, "", fmt.Errorf("the file is built for %s, not %s", p.variant, variant)
	case p.variant != "":
		variant = p.variant
	}
	if !variantName.MatchString(variant) {
		return sign.Blob{}, "", fmt.Errorf("variant %q: want GOOS-GOARCH, or linux-armv6 / linux-armv7", variant)
	}
	if p.stamped {
		v, err := selfupdate.ParseVersion(p.version)
		switch {
		case p.version == "" || err != nil:
			return sign.Blob{}, "", fmt.Errorf("the binary is not stamped with a release version (it reports %q); devices would roll it back: build it with 'make build VERSION=%s'", cmp.Or(p.version, "dev"), selfupdate.FormatVersion(want))
		case v != want:
			return sign.Blob{}, "", fmt.Errorf("the binary reports version %s, not %s as --version says", p.version, selfupdate.FormatVersion(want))
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return sign.Blob{}, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sign.Blob{}, "", err
	}
	if n == 0 {
		return sign.Blob{}, "", errors.New("empty file")
	}
	return sign.Blob{Variant: variant, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, path, nil
}

// platform is what an edged binary says of itself.
type platform struct {
	variant string // selfupdate.Variant, or "" if unknown (why says why)
	why     string
	// stamped is set when the Go build information was read: version
	// is then the main.version the linker set, "" if none.
	stamped bool
	version string
}

// binaryPlatform reads the platform a binary is built for from its Go
// build information (GOOS, GOARCH, GOARM), or failing that from its ELF
// header.
func binaryPlatform(path string) (platform, error) {
	if bi, err := buildinfo.ReadFile(path); err == nil {
		set := map[string]string{}
		for _, s := range bi.Settings {
			set[s.Key] = s.Value
		}
		p := platform{stamped: true}
		if set["GOOS"] != "" && set["GOARCH"] != "" {
			p.variant = selfupdate.Variant(set["GOOS"], set["GOARCH"], set["GOARM"])
		}
		for _, f := range strings.Fields(set["-ldflags"]) {
			if v, ok := strings.CutPrefix(f, "main.version="); ok {
				p.version = v
			}
		}
		if p.variant != "" {
			return p, nil
		}
	}
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return platform{}, err
		}
		return platform{why: "not an ELF executable"}, nil
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return platform{why: "ELF OS ABI " + f.OSABI.String()}, nil
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return platform{variant: "linux-amd64"}, nil
	case elf.EM_AARCH64:
		return platform{variant: "linux-arm64"}, nil
	case elf.EM_386:
		return platform{variant: "linux-386"}, nil
	case elf.EM_RISCV:
		if f.Class == elf.ELFCLASS64 {
			return platform{variant: "linux-riscv64"}, nil
		}
	case elf.EM_ARM:
		return platform{why: "32-bit ARM without Go build information: armv6 or armv7"}, nil
	}
	return platform{why: "ELF machine " + f.Machine.String()}, nil
}

// publishFile publishes one binary as retained chunks with a progress bar.
func publishFile(ctx context.Context, c *fleet.Client, path string, blob sign.Blob, chunkSize int, stderr io.Writer) (fleet.BlobMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return fleet.BlobMeta{}, err
	}
	defer f.Close()
	bar := newProgress(stderr, blob.Variant, blob.Size)
	start := time.Now()
	meta, err := transfer.Publish(ctx, c, f, blob.Size, &transfer.PublishOptions{ChunkSize: chunkSize, Progress: bar.update})
	bar.done()
	if err != nil {
		return fleet.BlobMeta{}, err
	}
	if meta.SHA256 != blob.SHA256 {
		return fleet.BlobMeta{}, fmt.Errorf("%s changed on disk while it was pushed (sha256 %s, now %s)", path, blob.SHA256, meta.SHA256)
	}
	fmt.Fprintf(stderr, "%s: %d bytes in %d chunks of %d in %v\n", blob.Variant, meta.Size, meta.Count, meta.ChunkSize, time.Since(start).Round(time.Millisecond))
	return meta, nil
}

// restartWatch follows the devices' states and reports a device that
// went offline to restart into the new binary and did not come back
// within grace: nothing started it again.
func restartWatch(ctx context.Context, c *fleet.Client, grace time.Duration) (func(map[string]fleet.CommandStatus) error, error) {
	var mu sync.Mutex
	offline := map[string]time.Time{}
	err := c.Subscribe(ctx, fleet.Prefix+"/dev/+/state", 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		var st fleet.State
		if err != nil || t.Kind != fleet.KindState || len(p) == 0 || fleet.Decode(p, &st) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if st.State == fleet.Offline {
			if _, ok := offline[t.Device]; !ok {
				offline[t.Device] = time.Now()
			}
		} else {
			delete(offline, t.Device)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("following the devices' states: %w", err)
	}
	return func(states map[string]fleet.CommandStatus) error {
		mu.Lock()
		defer mu.Unlock()
		var stuck []string
		for d, st := range states {
			if since, ok := offline[d]; ok && st.State == deployStatusRestarting && time.Since(since) > grace {
				stuck = append(stuck, d)
			}
		}
		if len(stuck) == 0 {
			return nil
		}
		sort.Strings(stuck)
		return fmt.Errorf("update-agent: %s installed the new binary and stopped to restart, but nothing started edged again within %v "+
			"(no supervisor: run edged under systemd, scripts/edged.service); start edged on the device, and it runs the new binary",
			strings.Join(stuck, ", "), grace)
	}, nil
}

// deployStatusRestarting is the update-agent state between the swap and
// the restart.
const deployStatusRestarting = "restarting"
