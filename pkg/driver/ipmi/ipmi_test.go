package ipmi

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
)

// TestDiscoverBlades: a chassis holds up to 14 blades.
func TestDiscoverBlades(t *testing.T) {
	tests := []struct {
		spec  string
		lines int
		err   string
	}{
		{"b[1-14]", 14, ""},
		{"b[1-15]", 0, "15 blades given, a chassis holds at most 14"},
		{"b1", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			res, err := DiscoverBlades(context.Background(), &agent.Request{Input: []byte("blades=" + tt.spec + "\n")})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("blades=%s: %v, want %q", tt.spec, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(res.Output), "\n"), "\n")
			if len(lines) != tt.lines || lines[len(lines)-1] != fmt.Sprintf("blade %d bmc=b%d", tt.lines, tt.lines) {
				t.Errorf("blades=%s: %q", tt.spec, res.Output)
			}
		})
	}
}
