package models

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/iostreams"
)

func TestModelsSource(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	run := func(o Options) (List, string) {
		ios, _, out, errOut := iostreams.Test()
		fake := testenv.NewFake(t, ios, srv.URL, nil)
		o.IO, o.Client, o.JSON = ios, fake.Client, true
		if err := listRun(context.Background(), &o); err != nil {
			t.Fatal(err)
		}
		var l List
		if err := json.Unmarshal(out.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		return l, errOut.String()
	}
	l, _ := run(Options{})
	if l.Source != "catalog" || l.CatalogDate != higgsfield.CatalogDate || len(l.Models) != len(higgsfield.Catalog()) {
		t.Fatalf("%s %s %d", l.Source, l.CatalogDate, len(l.Models))
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.Models, Status: 401})
	l, stderr := run(Options{Kind: "video"})
	if l.Source != "catalog" || !strings.Contains(stderr, "listing failed") {
		t.Fatalf("%s %q", l.Source, stderr)
	}
	for _, m := range l.Models {
		if m.Kind != "video" {
			t.Fatalf("--kind video listed %+v", m)
		}
	}
	srv.SetModels([]map[string]any{{"id": "a/b", "type": "image"}})
	before := srv.Count(hftest.Models)
	l, _ = run(Options{Offline: true})
	if l.Source != "catalog" || srv.Count(hftest.Models) != before {
		t.Fatal("--offline asked the API")
	}
	l, _ = run(Options{})
	if l.Source != "api" || len(l.Models) != 1 || l.Models[0].ID != "a/b" {
		t.Fatalf("source %s, %d models", l.Source, len(l.Models))
	}
}

// hf models show uses what the API's listing says about a model when the
// API answers one (and the catalog otherwise, or with --offline).
func TestModelsShowFromAPI(t *testing.T) {
	srv := hftest.New(hftest.WithCredentials("kid", "ksecret"))
	t.Cleanup(srv.Close)
	show := func(o Options) (string, string) {
		ios, _, out, errOut := iostreams.Test()
		fake := testenv.NewFake(t, ios, srv.URL, nil)
		o.IO, o.Client = ios, fake.Client
		if err := showRun(context.Background(), &o); err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}
	srv.SetModels([]map[string]any{{"id": "acme/new-model", "type": "video"}})
	out, stderr := show(Options{Model: "acme/new-model"})
	if !strings.Contains(out, "acme/new-model") || !strings.Contains(out, "video") || !strings.Contains(out, "API") || strings.Contains(stderr, "not in hf's catalog") {
		t.Fatalf("stdout %q stderr %q", out, stderr)
	}
	// Not listed by the API: the catalog still answers for a model it knows.
	out, _ = show(Options{Model: "higgsfield-ai/soul/standard"})
	if !strings.Contains(out, "batch_size") {
		t.Fatalf("stdout %q", out)
	}
	before := srv.Count(hftest.Models)
	_, stderr = show(Options{Model: "acme/new-model", Offline: true})
	if srv.Count(hftest.Models) != before || !strings.Contains(stderr, "not in hf's catalog") {
		t.Fatalf("--offline: %d calls, stderr %q", srv.Count(hftest.Models)-before, stderr)
	}
}
