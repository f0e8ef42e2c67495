package sign

import (
	"bytes"
	"testing"
)

// FuzzParseKeyFiles feeds arbitrary bytes to the three key file parsers.
// They must not panic; what one accepts marshals to a file that parses to
// the same key (and, for a signing key, a certificate with the same
// canonical form).
func FuzzParseKeyFiles(f *testing.F) {
	fx := newFixture(f)
	for _, seed := range [][]byte{
		must(MarshalPublicKey(fx.root.Public())),
		must(MarshalRootKey(fx.root)),
		must(MarshalSigningKey(fx.model)),
		[]byte(`{"v":1,"type":"edged-signing-private-key","key_id":"x","private_key":"AAAA","certificate":{}}`),
		[]byte(`{"v":1,"type":"edged-root-public-key","public_key":null}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if pub, err := ParsePublicKey(data); err == nil {
			again, err := ParsePublicKey(must(MarshalPublicKey(pub)))
			if err != nil || !pub.Equal(again) {
				t.Fatalf("ParsePublicKey(MarshalPublicKey(%x)) = %x, %v", pub, again, err)
			}
		}
		if k, err := ParseRootKey(data); err == nil {
			again, err := ParseRootKey(must(MarshalRootKey(k)))
			if err != nil || !k.priv.Equal(again.priv) {
				t.Fatalf("ParseRootKey round trip of %s = %v, %v", k, again, err)
			}
		}
		if k, err := ParseSigningKey(data); err == nil {
			b := must(MarshalSigningKey(k))
			again, err := ParseSigningKey(b)
			if err != nil || !k.priv.Equal(again.priv) {
				t.Fatalf("ParseSigningKey round trip of %s = %v, %v", k, again, err)
			}
			// The certificate's bytes may be re-indented in the file; what
			// its signature covers, the canonical form, may not change.
			c1, err1 := Canonical(must(k.cert.MarshalJSON()), "")
			c2, err2 := Canonical(must(again.cert.MarshalJSON()), "")
			if (err1 == nil) != (err2 == nil) || !bytes.Equal(c1, c2) {
				t.Fatalf("ParseSigningKey round trip changed the certificate: %s (%v); want %s (%v)", c2, err2, c1, err1)
			}
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
