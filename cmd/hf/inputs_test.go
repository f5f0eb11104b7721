package main

// Fake subcommands for uploads, estimates, deletes, models and headers
// (issue 10), and a file-mode check.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

func init() {
	endpoints = append(endpoints, hftest.Delete, hftest.Models)
	for name, c := range map[string]struct {
		usage string
		neg   bool
		run   func(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string)
	}{
		"sample":         {"sample image/png|image/jpeg|video/mp4|... FILE [SEED]", false, fakeSample},
		"stored":         {"stored N", false, fakeStored},
		"stored-has":     {"stored-has FILE", true, fakeStoredHas},
		"no-leaks":       {"no-leaks", false, fakeNoLeaks},
		"estimate-shape": {"estimate-shape documented|typed|unpriced", false, fakeEstimateShape},
		"retention":      {"retention D", false, fakeRetention},
		"submit-header":  {"submit-header NAME VALUE|none", false, fakeSubmitHeader},
		"deleted":        {"deleted ID", true, fakeDeleted},
		"models":         {"models JSON", false, fakeModels},
	} {
		fakeCmds[name] = c
	}
}

// fake sample TYPE FILE [SEED]: write a small file of that content type.
func fakeSample(ts *testscript.TestScript, _ *hftest.Server, _ bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: fake sample TYPE FILE [SEED]")
	}
	seed := uint64(1)
	if len(args) == 3 {
		seed = uint64(atoi(ts, args[2]))
	}
	data := hftest.Sample(args[0], seed)
	if data == nil {
		ts.Fatalf("no sample of type %s", args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o644))
}

// fake stored N: the fake accepted N uploads.
func fakeStored(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake stored N")
	}
	if got := len(srv.Stored()); got != atoi(ts, args[0]) {
		ts.Fatalf("the fake stored %d uploads, want %s", got, args[0])
	}
}

// fake stored-has FILE: storage holds FILE's bytes (by the fake's digest).
func fakeStoredHas(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake stored-has FILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	sum := sha256.Sum256(data)
	has := slices.Contains(srv.Stored(), hex.EncodeToString(sum[:]))
	if has == neg {
		ts.Fatalf("stored-has %s: %v", args[0], has)
	}
}

// fake no-leaks: no PUT to storage carried credentials.
func fakeNoLeaks(ts *testscript.TestScript, srv *hftest.Server, _ bool, _ []string) {
	if n := srv.CredentialLeaks(); n != 0 {
		ts.Fatalf("%d uploads carried API credentials", n)
	}
}

func fakeEstimateShape(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	shapes := map[string]hftest.EstimateShape{"documented": hftest.EstimateDocumented, "typed": hftest.EstimateTyped, "unpriced": hftest.EstimateUnpriced}
	if len(args) != 1 {
		ts.Fatalf("usage: fake estimate-shape documented|typed|unpriced")
	}
	s, ok := shapes[args[0]]
	if !ok {
		ts.Fatalf("unknown shape %q", args[0])
	}
	srv.SetEstimateShape(s)
}

func fakeRetention(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake retention D")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	srv.SetRetention(d)
}

// fake submit-header NAME VALUE|none: the newest submit carried that header.
func fakeSubmitHeader(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake submit-header NAME VALUE|none")
	}
	var last *hftest.Hit
	hits := srv.Hits()
	for i := range hits {
		if hits[i].Endpoint == hftest.Submit {
			last = &hits[i]
		}
	}
	if last == nil {
		ts.Fatalf("no submit")
	}
	got, ok := last.Header[http.CanonicalHeaderKey(args[0])]
	switch {
	case args[1] == "none" && ok:
		ts.Fatalf("submit carried %s: %v", args[0], got)
	case args[1] != "none" && (!ok || got[0] != args[1]):
		ts.Fatalf("submit header %s = %v, want %s", args[0], got, args[1])
	}
}

func fakeDeleted(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake deleted ID")
	}
	if srv.Deleted(args[0]) == neg {
		ts.Fatalf("deleted %s: %v", args[0], !neg)
	}
}

func fakeModels(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake models JSON")
	}
	var ms []map[string]any
	ts.Check(json.Unmarshal([]byte(args[0]), &ms))
	srv.SetModels(ms)
}

// mode FILE PERM: FILE's permission bits are PERM (octal).
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	info, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if uint64(info.Mode().Perm()) != want {
		ts.Fatalf("%s has mode %04o, want %s", args[0], info.Mode().Perm(), args[1])
	}
}
