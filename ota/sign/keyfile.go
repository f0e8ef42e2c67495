package sign

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// Key files are JSON objects with a format version and a type, so a public
// key file can never be loaded as a private one by mistake:
//
//	{"v":1,"type":"edged-root-public-key","key_id":"…","public_key":"<base64, 32 bytes>"}
//	{"v":1,"type":"edged-root-private-key","key_id":"…","private_key":"<base64 seed, 32 bytes>"}
//	{"v":1,"type":"edged-signing-private-key","key_id":"…","private_key":"…","certificate":{…}}
//
// Private key files are written with mode 0600 and never over an existing
// file; loading one that group or others may read is refused.
const (
	typeRootPublic     = "edged-root-public-key"
	typeRootPrivate    = "edged-root-private-key"
	typeSigningPrivate = "edged-signing-private-key"
)

type keyFile struct {
	V           int          `json:"v"`
	Type        string       `json:"type"`
	KeyID       string       `json:"key_id"`
	PublicKey   []byte       `json:"public_key,omitempty"`
	PrivateKey  []byte       `json:"private_key,omitempty"`
	Certificate *Certificate `json:"certificate,omitempty"`
}

func decodeKeyFile(data []byte, want string) (*keyFile, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrMalformed, err)
	}
	if f.V != 1 {
		return nil, fmt.Errorf("%w: key file format v%d; this build reads v1", ErrMalformed, f.V)
	}
	if f.Type != want {
		return nil, fmt.Errorf("%w: key file holds %q; want %q", ErrMalformed, f.Type, want)
	}
	return &f, nil
}

func seedKey(f *keyFile) (ed25519.PrivateKey, error) {
	if len(f.PrivateKey) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: private_key is %d bytes; want a %d-byte seed", ErrMalformed, len(f.PrivateKey), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(f.PrivateKey)
	if id := KeyID(priv.Public().(ed25519.PublicKey)); f.KeyID != id {
		return nil, fmt.Errorf("%w: key_id %q; the private key's id is %q", ErrMalformed, f.KeyID, id)
	}
	return priv, nil
}

// MarshalPublicKey encodes a root public key file.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("encoding the public key: key is %d bytes; want %d", len(pub), ed25519.PublicKeySize)
	}
	return marshalKeyFile(&keyFile{V: 1, Type: typeRootPublic, KeyID: KeyID(pub), PublicKey: pub})
}

// ParsePublicKey decodes a root public key file.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	f, err := decodeKeyFile(data, typeRootPublic)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if len(f.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %w: public_key is %d bytes; want %d", ErrMalformed, len(f.PublicKey), ed25519.PublicKeySize)
	}
	if id := KeyID(f.PublicKey); f.KeyID != id {
		return nil, fmt.Errorf("public key: %w: key_id %q; the key's id is %q", ErrMalformed, f.KeyID, id)
	}
	return ed25519.PublicKey(f.PublicKey), nil
}

// MarshalRootKey encodes a root private key file. The result is secret.
func MarshalRootKey(k *RootKey) ([]byte, error) {
	return marshalKeyFile(&keyFile{V: 1, Type: typeRootPrivate, KeyID: k.ID(), PrivateKey: k.priv.Seed()})
}

// ParseRootKey decodes a root private key file.
func ParseRootKey(data []byte) (*RootKey, error) {
	f, err := decodeKeyFile(data, typeRootPrivate)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	priv, err := seedKey(f)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	return &RootKey{priv: priv}, nil
}

// MarshalSigningKey encodes a signing key file: the private key and its
// certificate. The result is secret.
func MarshalSigningKey(k *SigningKey) ([]byte, error) {
	return marshalKeyFile(&keyFile{V: 1, Type: typeSigningPrivate, KeyID: k.ID(), PrivateKey: k.priv.Seed(), Certificate: k.cert})
}

// ParseSigningKey decodes a signing key file. It checks that the private
// key matches the certificate but not the certificate's root signature or
// validity, which only the verifier can judge.
func ParseSigningKey(data []byte) (*SigningKey, error) {
	f, err := decodeKeyFile(data, typeSigningPrivate)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, err := seedKey(f)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := newSigningKey(priv, f.Certificate)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}

func marshalKeyFile(f *keyFile) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WritePublicKey writes a root public key file with mode 0644.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	b, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	return writeNew(path, b, 0o644)
}

// WriteRootKey writes a root private key file with mode 0600. It fails if
// path exists: a root key is never overwritten.
func WriteRootKey(path string, k *RootKey) error {
	b, err := MarshalRootKey(k)
	if err != nil {
		return fmt.Errorf("writing the root key %s: %w", path, err)
	}
	return writeNew(path, b, 0o600)
}

// WriteSigningKey writes a signing key file with mode 0600. It fails if
// path exists.
func WriteSigningKey(path string, k *SigningKey) error {
	b, err := MarshalSigningKey(k)
	if err != nil {
		return fmt.Errorf("writing the signing key %s: %w", path, err)
	}
	return writeNew(path, b, 0o600)
}

// writeNew creates path exclusively with mode perm, writes b and syncs. A
// failed write removes the partial file.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("sign: write key: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("sign: write key %s: %w", path, err)
	}
	return nil
}

// LoadPublicKey reads a root public key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return pub, nil
}

// LoadRootKey reads a root private key file, refusing one that group or
// others may read.
func LoadRootKey(path string) (*RootKey, error) {
	b, err := readPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("reading the root key: %w", err)
	}
	k, err := ParseRootKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// LoadSigningKey reads a signing key file, refusing one that group or
// others may read.
func LoadSigningKey(path string) (*SigningKey, error) {
	b, err := readPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := ParseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// errKeyPermissions is wrapped when a private key file is readable by group
// or others.
var errKeyPermissions = errors.New("private key file is readable by group or others")

func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Windows has no meaningful permission bits here.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %#o; run chmod 600 %s)", path, errKeyPermissions, st.Mode().Perm(), path)
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%s: %w: %d bytes is too large for a key file", path, ErrMalformed, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
