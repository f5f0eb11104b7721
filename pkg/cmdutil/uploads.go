package cmdutil

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/schollz/progressbar/v3"

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

func progress(ios *iostreams.IOStreams) func(inputs.Event) {
	var mu sync.Mutex
	bars := map[string]*progressbar.ProgressBar{}
	return func(e inputs.Event) {
		mu.Lock()
		defer mu.Unlock()
		name := filepath.Base(e.Ref.Path)
		switch {
		case e.URL != "" && e.Cached:
			fmt.Fprintf(ios.ErrOut, "hf: %s already uploaded, reusing its URL\n", e.Ref.Path)
		case e.URL != "":
			if b := bars[e.Ref.SHA256]; b != nil {
				_ = b.Finish()
				delete(bars, e.Ref.SHA256)
				fmt.Fprintln(ios.ErrOut)
			}
			fmt.Fprintf(ios.ErrOut, "hf: uploaded %s (%s, %s)\n", e.Ref.Path, e.Ref.ContentType, humanBytes(e.Ref.Size))
		case ios.Animate() && e.Total >= barThreshold:
			b := bars[e.Ref.SHA256]
			if b == nil {
				b = progressbar.NewOptions64(e.Total, progressbar.OptionSetWriter(ios.ErrOut),
					progressbar.OptionSetDescription("uploading "+name), progressbar.OptionShowBytes(true),
					progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())
				bars[e.Ref.SHA256] = b
			}
			_ = b.Set64(e.Done)
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
