package cmdutil

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/journal"
)

// barThreshold is the size from which an upload gets a progress bar on a
// terminal.
const barThreshold = 1 << 20

// NewResolver builds the resolver of @file references for client: uploads
// through it, the URL cache in the state directory (scoped to the API's
// base URL, so sandbox URLs never leak into real requests; a sandbox run's
// cache is the sandbox's own, beside its journal, so its dead URLs never
// land in the real one), and one line on stderr per file (a bar for big
// files on a terminal) unless quiet.
func NewResolver(ios *iostreams.IOStreams, client *higgsfield.Client, quiet, sandbox bool) *inputs.Resolver {
	r := &inputs.Resolver{Uploader: client, Scope: client.BaseURL()}
	if dir, err := journal.DefaultDir(); err == nil {
		if sandbox {
			dir = filepath.Join(dir, "sandbox")
		}
		if c, err := inputs.OpenCache(dir); err == nil {
			r.Cache = c
		}
	}
	if !quiet {
		r.Progress = progress(ios)
	}
	return r
}

// barRefresh is how often at most an upload bar is redrawn.
const barRefresh = 100 * time.Millisecond

// progress reports uploads on stderr: one line per file once stored, and
// before that a bar for files from barThreshold on a terminal (mpb, like
// hf's other bars, cleared when the file is stored). The bars are redrawn
// only when an upload reports progress, so a failed upload leaves no
// goroutine drawing over the error that follows.
func progress(ios *iostreams.IOStreams) func(inputs.Event) {
	var (
		mu      sync.Mutex
		p       *mpb.Progress
		refresh chan any
		last    time.Time
		bars    = map[string]*mpb.Bar{}
	)
	return func(e inputs.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.URL != "" && e.Cached:
			fmt.Fprintf(ios.ErrOut, "hf: %s already uploaded, reusing its URL\n", e.Ref.Path)
		case e.URL != "":
			if b := bars[e.Ref.SHA256]; b != nil {
				b.SetCurrent(e.Ref.Size)
				b.Abort(true) // cleared, whatever the size said
				delete(bars, e.Ref.SHA256)
				if len(bars) == 0 {
					p.Wait()
					p, refresh = nil, nil
				}
			}
			fmt.Fprintf(ios.ErrOut, "hf: uploaded %s (%s, %s)\n", e.Ref.Path, e.Ref.ContentType, humanBytes(e.Ref.Size))
		case ios.Animate() && e.Total >= barThreshold:
			if p == nil {
				refresh = make(chan any)
				p = mpb.New(mpb.WithOutput(ios.ErrOut), mpb.WithManualRefresh(refresh))
			}
			b := bars[e.Ref.SHA256]
			if b == nil {
				b = p.New(e.Total, mpb.BarStyle().Lbound("[").Rbound("]"), mpb.BarWidth(20), mpb.BarRemoveOnComplete(),
					mpb.PrependDecorators(decor.Name("uploading "+filepath.Base(e.Ref.Path)+" ")),
					mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Percentage(decor.WC{W: 6})))
				bars[e.Ref.SHA256] = b
				last = time.Time{}
			}
			b.SetCurrent(e.Done)
			if now := time.Now(); now.Sub(last) >= barRefresh {
				last = now
				// Bounded: a container that stopped on a write error
				// (stderr gone) no longer listens, and must not hold the
				// upload.
				select {
				case refresh <- now:
				case <-time.After(barRefresh):
				}
			}
		}
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
