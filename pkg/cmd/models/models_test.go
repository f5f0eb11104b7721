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
