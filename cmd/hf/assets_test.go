package main

// fake subcommands for the asset host's knobs (hftest/assets.go).

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

func init() {
	fakeCmds["asset"] = fakeCmd{"asset drip D|hang K|gzip|ignore-if-range|no-etag|no-last-modified ... [times=N]", false, fakeAsset}
	fakeCmds["outputs"] = fakeCmd{"outputs N [CONTENT-TYPE]", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: fake outputs N [CONTENT-TYPE]")
		}
		ct := ""
		if len(args) == 2 {
			ct = args[1]
		}
		srv.SetOutputs(atoi(ts, args[0]), ct)
	}}
	fakeCmds["change-asset"] = fakeCmd{"change-asset ID INDEX", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: fake change-asset ID INDEX (0-based)")
		}
		if _, err := srv.ChangeAsset(args[0], atoi(ts, args[1])); err != nil {
			ts.Fatalf("%v", err)
		}
	}}
	fakeCmds["jobsha"] = fakeCmd{"jobsha ID FILE", true, fakeJobSHA}
	fakeCmds["accept-encoding"] = fakeCmd{"accept-encoding VALUE", false, func(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: fake accept-encoding VALUE")
		}
		n := 0
		for _, h := range srv.Hits() {
			if h.Endpoint == hftest.AssetEP {
				n++
				if h.AcceptEncoding != args[0] {
					ts.Fatalf("GET %s asked for Accept-Encoding %q, want %q", h.Path, h.AcceptEncoding, args[0])
				}
			}
		}
		if n == 0 {
			ts.Fatalf("the asset host was never hit")
		}
	}}
}

// fakeAsset queues an asset fault made of the words given.
func fakeAsset(ts *testscript.TestScript, srv *hftest.Server, _ bool, args []string) {
	const usage = "usage: fake asset drip D|hang K|gzip|ignore-if-range|no-etag|no-last-modified ... [times=N]"
	var f hftest.AssetFault
	for i := 0; i < len(args); i++ {
		arg := func() string {
			if i+1 >= len(args) {
				ts.Fatalf(usage)
			}
			i++
			return args[i]
		}
		switch a := args[i]; {
		case a == "drip":
			f.Drip = duration(ts, arg())
		case a == "hang":
			f.Hang, f.HangAfter = true, int64(atoi(ts, arg()))
		case a == "gzip":
			f.Gzip = true
		case a == "ignore-if-range":
			f.IgnoreIfRange = true
		case a == "no-etag":
			f.NoETag = true
		case a == "no-last-modified":
			f.NoLastModified = true
		case strings.HasPrefix(a, "times="):
			f.Times = atoi(ts, strings.TrimPrefix(a, "times="))
		default:
			ts.Fatalf(usage)
		}
	}
	srv.InjectAsset(f)
}

// fake jobsha ID FILE: FILE's sha256 is that of one of job ID's assets, as
// the fake serves them.
func fakeJobSHA(ts *testscript.TestScript, srv *hftest.Server, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake jobsha ID FILE")
	}
	j, ok := srv.Job(args[0])
	if !ok {
		ts.Fatalf("no job %s", args[0])
	}
	sum := sha256.Sum256([]byte(ts.ReadFile(args[1])))
	got := hex.EncodeToString(sum[:])
	var want []string
	for _, a := range j.Assets {
		want = append(want, a.SHA256)
	}
	if slices.Contains(want, got) == neg {
		ts.Fatalf("sha256 of %s is %s; job %s's assets: %v", args[1], got, args[0], want)
	}
}
