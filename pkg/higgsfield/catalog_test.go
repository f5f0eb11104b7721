package higgsfield

import (
	"os"
	"strings"
	"testing"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

func TestCatalog(t *testing.T) {
	ref, err := os.ReadFile("/work/shared/reference/higgsfield-api.md")
	if err != nil {
		ref = nil // the reference lives outside the repo; check it only where it is
	}
	seen := map[string]bool{}
	for _, m := range Catalog() {
		if err := ValidModel(m.ID); err != nil {
			t.Errorf("%s: %v", m.ID, err)
		}
		if seen[m.ID] {
			t.Errorf("%s listed twice", m.ID)
		}
		seen[m.ID] = true
		if m.Kind != "image" && m.Kind != "video" && m.Kind != "audio" {
			t.Errorf("%s: kind %q", m.ID, m.Kind)
		}
		if m.Source != "docs" && m.Source != "openapi" {
			t.Errorf("%s: source %q", m.ID, m.Source)
		}
		if len(m.Params) == 0 {
			t.Errorf("%s: no parameters", m.ID)
		}
		names := map[string]bool{}
		for _, p := range m.Params {
			if names[p.Name] {
				t.Errorf("%s: %s twice", m.ID, p.Name)
			}
			names[p.Name] = true
		}
		// Models that take an input file name it in a field hf uploads to.
		if strings.Contains(m.Task, "image-to-video") && !names["image_url"] {
			t.Errorf("%s: an image-to-video model without image_url", m.ID)
		}
		if ref != nil && !strings.Contains(string(ref), strings.SplitN(m.ID, "/", 2)[0]) {
			t.Errorf("%s: not in the reference", m.ID)
		}
	}
	if len(Catalog()) < 40 {
		t.Fatalf("only %d models", len(Catalog()))
	}
	m, ok := CatalogModel("higgsfield-ai/soul/standard")
	if !ok || m.Kind != "image" {
		t.Fatal("soul/standard")
	}
	if p, ok := m.Param("resolution"); !ok || strings.Join(p.Values, ",") != "720p,1080p" {
		t.Fatalf("resolution %+v", p)
	}
	if _, ok := CatalogModel("no/such/model"); ok {
		t.Fatal("unknown model found")
	}
}

func TestModelsListing(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	if _, err := c.Models(ctxT(t)); err != ErrNoModelListing {
		t.Fatalf("err = %v, want ErrNoModelListing", err)
	}
	srv.SetModels([]map[string]any{
		{"id": "higgsfield-ai/soul/standard", "type": "text-to-image"},
		{"endpoint": "new-vendor/model/v9", "category": "Video"},
		{"name": "../../bad"},
		{"id": "higgsfield-ai/soul/standard"},
	})
	ms, err := c.Models(ctxT(t))
	if err != nil || len(ms) != 2 {
		t.Fatalf("%+v %v", ms, err)
	}
	if ms[0].ID != "higgsfield-ai/soul/standard" || ms[0].Kind != "image" || ms[0].Source != "api" || len(ms[0].Params) == 0 {
		t.Fatalf("known model %+v (catalog parameters kept)", ms[0])
	}
	if ms[1].ID != "new-vendor/model/v9" || ms[1].Kind != "video" {
		t.Fatalf("new model %+v", ms[1])
	}
	shapes := map[string]int{
		`["a/b","c/d"]`:                 2,
		`{"data":[{"model_id":"a/b"}]}`: 1,
		`{"items":[]}`:                  0,
	}
	for body, n := range shapes {
		srv.Inject(hftest.Fault{Endpoint: hftest.Models, Status: 200, Body: body})
		ms, err := c.Models(ctxT(t))
		if err != nil || len(ms) != n {
			t.Fatalf("%s: %+v %v", body, ms, err)
		}
	}
	for _, body := range []string{`{"foo":1}`, `"x"`, `[{"x":1}]`} {
		srv.Inject(hftest.Fault{Endpoint: hftest.Models, Status: 200, Body: body})
		if _, err := c.Models(ctxT(t)); err == nil {
			t.Fatalf("%s accepted", body)
		}
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.Models, Status: 401})
	if _, err := c.Models(ctxT(t)); StatusCodeOf(err) != 401 {
		t.Fatalf("401: %v", err)
	}
}
