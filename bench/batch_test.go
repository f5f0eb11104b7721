package bench

// Batch figures of the built binary against the fake API in webhook mode
// through the fake ngrok edge: wall time over the ideal schedule
// (⌈jobs/j⌉ × job length) per job, peak RSS, status GETs per job and tunnel
// sessions, for 100, 200 and 1,000 jobs; and the re-run of an up-to-date
// 1,000-job manifest. Each figure is min/median/max over RUNS runs (default 5).
//
// Run: bench/batch.sh (go test ./bench -run '^$' -bench Batch -benchtime 1x -v)

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
)

const jobLength = 1500 * time.Millisecond

func runs() int {
	if n, err := strconv.Atoi(os.Getenv("RUNS")); err == nil && n > 0 {
		return n
	}
	return 5
}

func manifest(b *testing.B, dir string, n int) string {
	b.Helper()
	var m strings.Builder
	m.WriteString("defaults:\n  model: higgsfield-ai/soul/standard\njobs:\n")
	for i := range n {
		fmt.Fprintf(&m, "  - {name: j%04d, input: {prompt: \"job %d\"}}\n", i, i)
	}
	path := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(path, []byte(m.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// stats is min/median/max of xs.
func stats(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("min %.3g, median %.3g, max %.3g", s[0], s[len(s)/2], s[len(s)-1])
}

type batchRun struct {
	wall    time.Duration
	rssMB   float64
	gets    int
	charged int
	sess    int
}

func runBatch(b *testing.B, bin string, jobs, j int) batchRun {
	b.Helper()
	dir := b.TempDir()
	srv := hftest.New(hftest.WithCredentials("k", "s"), hftest.WithTiming(0, jobLength))
	defer srv.Close()
	srv.SetImageSize(16, 16) // keep the fake's PNG rendering out of the figure
	edge, err := ngroktest.Start(ngroktest.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer edge.Close()
	path := manifest(b, dir, jobs)
	cmd := exec.Command(bin, "batch", path, "-j", strconv.Itoa(j), "-q")
	cmd.Env = isolatedEnv(dir, "HF_BASE_URL="+srv.URL, "HF_KEY=k:s",
		"NGROK_AUTHTOKEN=2fakeTokenValue_abcdefghijklmnop", "HF_NGROK_CONNECT_URL="+edge.Addr, "HF_NGROK_ROOT_CAS="+edge.CAFile)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("hf batch: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := batchRun{wall: wall, rssMB: float64(ru.Maxrss) / 1024, gets: srv.Count(hftest.StatusEP), charged: srv.Charged(), sess: len(edge.Auths())}
	if r.charged != jobs {
		b.Fatalf("charged %d, want %d", r.charged, jobs)
	}
	return r
}

func BenchmarkBatch(b *testing.B) {
	bin := buildHF(b)
	for _, c := range []struct{ jobs, j int }{{100, 16}, {200, 16}, {1000, 64}} {
		b.Run(fmt.Sprintf("%d-jobs-j%d", c.jobs, c.j), func(b *testing.B) {
			ideal := time.Duration(math.Ceil(float64(c.jobs)/float64(c.j))) * jobLength
			var over, rss, gets, sess []float64
			for range runs() {
				r := runBatch(b, bin, c.jobs, c.j)
				over = append(over, float64((r.wall-ideal).Microseconds())/1000/float64(c.jobs))
				rss = append(rss, r.rssMB)
				gets = append(gets, float64(r.gets)/float64(c.jobs))
				sess = append(sess, float64(r.sess))
			}
			b.Logf("%d jobs × %s at -j %d, ideal %s: overhead per job (ms) %s; peak RSS (MB) %s; status GETs per job %s; tunnel sessions %s",
				c.jobs, jobLength, c.j, ideal, stats(over), stats(rss), stats(gets), stats(sess))
		})
	}
	b.Run("rerun-1000-up-to-date", func(b *testing.B) {
		dir := b.TempDir()
		srv := hftest.New(hftest.WithCredentials("k", "s"), hftest.WithTiming(0, 10*time.Millisecond))
		defer srv.Close()
		srv.SetImageSize(16, 16)
		path := manifest(b, dir, 1000)
		env := isolatedEnv(dir, "HF_BASE_URL="+srv.URL, "HF_KEY=k:s", "HF_VIA=poll")
		first := exec.Command(bin, "batch", path, "-j", "64", "-q")
		first.Env = append(env, "HF_TEST_POLL_INTERVAL=20ms") // the fake is on loopback
		if out, err := first.CombinedOutput(); err != nil {
			b.Fatalf("first run: %v\n%s", err, out)
		}
		var walls, calls []float64
		for range runs() {
			before := len(srv.Hits())
			cmd := exec.Command(bin, "batch", path, "-q")
			cmd.Env = env
			start := time.Now()
			out, err := cmd.Output()
			wall := time.Since(start)
			if err != nil || strings.Count(string(out), "\n") != 1000 {
				b.Fatalf("re-run: %v, %d lines", err, strings.Count(string(out), "\n"))
			}
			walls = append(walls, wall.Seconds())
			calls = append(calls, float64(len(srv.Hits())-before))
		}
		b.Logf("re-run of an up-to-date 1000-job manifest: wall (s) %s; requests to the API %s", stats(walls), stats(calls))
	})
}
