package sandbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/sandbox"
)

func TestStart(t *testing.T) {
	a, b := sandbox.Start(), sandbox.Start()
	defer b.Close()
	if !strings.HasPrefix(a.URL, "http://127.0.0.1:") || !strings.HasPrefix(a.Secret, "whsec_") || a.Secret == b.Secret {
		t.Fatalf("sandboxes %+v %+v: want loopback URLs and distinct secrets", a, b)
	}
	c, err := higgsfield.New(higgsfield.Options{BaseURL: a.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Status(ctx, "00000000-0000-0000-0000-000000000000", ""); higgsfield.StatusCodeOf(err) != 404 {
		t.Fatalf("probe: %v, want the fake's 404 without credentials", err)
	}
	a.Close()
	if _, err := c.Status(ctx, "00000000-0000-0000-0000-000000000000", ""); err == nil || higgsfield.StatusCodeOf(err) != 0 {
		t.Fatalf("probe after Close: %v, want a connection error", err)
	}
}
