package signtest_test

import (
	"os"
	"testing"

	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
)

// Each key is certified by the root for its purpose only, and the file
// WriteRoot writes holds the root's public key.
func TestKeys(t *testing.T) {
	k := signtest.New(t)
	agent := k.Key(t, sign.KindAgent)
	for _, c := range []struct {
		key  *sign.SigningKey
		want string
	}{{k.Model, sign.KindModel}, {k.Command, sign.KindCommand}, {agent, sign.KindAgent}} {
		cert := c.key.Certificate()
		if cert.RootID != k.Root.ID() || len(cert.Purposes) != 1 || !cert.Allows(c.want) {
			t.Errorf("key %s: root %s, purposes %v; want root %s, purposes [%s]", c.key.ID(), cert.RootID, cert.Purposes, k.Root.ID(), c.want)
		}
	}
	b, err := os.ReadFile(k.WriteRoot(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := sign.ParsePublicKey(b); err != nil || !pub.Equal(k.Root.Public()) {
		t.Errorf("root.pub holds another key (%v)", err)
	}
}
