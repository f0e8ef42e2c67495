package grpcapi

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/edged-dev/edged/agent/infer"
	agentstatus "github.com/edged-dev/edged/agent/status"
)

type nopRepository struct{}

func (nopRepository) RepositoryLoad(context.Context, string) error         { return nil }
func (nopRepository) RepositoryUnload(context.Context, string, bool) error { return nil }
func (nopRepository) Models() []infer.ModelInfo                            { return nil }
func (nopRepository) Missing() []agentstatus.Missing                       { return nil }

// TestRepositoryControlAccess: load and unload change what the device
// serves: without a token only loopback callers may, with one the token
// (checked by the interceptor) is what counts; without a repository they
// are unimplemented.
func TestRepositoryControlAccess(t *testing.T) {
	from := func(ip string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4000}})
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		ctx   context.Context
		wantC codes.Code
	}{
		{"loopback", Options{Repository: nopRepository{}}, from("127.0.0.1"), codes.OK},
		{"loopback v6", Options{Repository: nopRepository{}}, from("::1"), codes.OK},
		{"other host without token", Options{Repository: nopRepository{}}, from("192.0.2.7"), codes.PermissionDenied},
		{"no peer", Options{Repository: nopRepository{}}, context.Background(), codes.PermissionDenied},
		{"other host with token", Options{Repository: nopRepository{}, Token: "s3cret"}, from("192.0.2.7"), codes.OK},
		{"no repository", Options{}, from("127.0.0.1"), codes.Unimplemented},
	} {
		s := &service{opts: tc.opts}
		if got := status.Code(s.control(tc.ctx)); got != tc.wantC {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.wantC)
		}
	}
}
