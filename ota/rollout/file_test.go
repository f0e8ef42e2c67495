package rollout

import "testing"

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		want Status
	}{
		{"active", Active},
		{"done", Active},
		{"rolled_back", RolledBack},
		{"failed", Failed},
		{"rejected", Failed},
		{"expired", Failed},
		{"downloading", Deploying},
		{"verified", Deploying},
		{"staged", Deploying},
		{"shadow", Deploying},
		{"canary", Deploying},
		{"hold", Deploying},
		{"accepted", Deploying},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.name); got != tt.want {
			t.Errorf("StatusOf(%s) = %s; want %s", tt.name, got, tt.want)
		}
	}
}
