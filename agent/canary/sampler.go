package canary

// Sampler decides, from a request's key alone, whether the request is in
// the shadow sample and which arm serves it in canary. The same key always
// gets the same answer, so feedback that arrives later for a request can be
// attributed to its arm (ArmOf), and a restart does not reshuffle. Shadow
// sample and arm are drawn from independent hashes. Its methods do not
// allocate.
type Sampler struct {
	seed   uint64
	shadow uint64 // in the sample when the top 53 bits of the hash are below
	canary uint64
}

// NewSampler returns a sampler that puts about sampleRate of keys in the
// shadow sample and canaryFraction of keys on the candidate. Rates are
// clamped to [0,1]; 1 selects every key.
func NewSampler(seed uint64, sampleRate, canaryFraction float64) Sampler {
	return Sampler{seed: seed, shadow: threshold(sampleRate), canary: threshold(canaryFraction)}
}

// threshold maps a rate in [0,1] onto [0, 2^53], exact for 0 and 1.
func threshold(rate float64) uint64 {
	if !(rate > 0) {
		return 0
	}
	return uint64(min(rate, 1) * (1 << 53))
}

// Salts keep the shadow and arm draws independent for one key.
const (
	saltShadow = 0x5ad0_5ad0_5ad0_5ad0
	saltArm    = 0xa7a7_a7a7_a7a7_a7a7
)

// InShadow reports whether key's request also runs on the candidate.
func (s Sampler) InShadow(key uint64) bool {
	return mix(key^s.seed^saltShadow)>>11 < s.shadow
}

// Arm is the arm that serves key's request in canary.
func (s Sampler) Arm(key uint64) Arm {
	if mix(key^s.seed^saltArm)>>11 < s.canary {
		return ArmCandidate
	}
	return ArmActive
}

// mix is the splitmix64 finaliser: consecutive counters come out as
// unrelated 64-bit values.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Key hashes a request id (a KServe "id", an MQTT correlation id) to a
// sampler key with 64-bit FNV-1a, without allocating.
func Key(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}
