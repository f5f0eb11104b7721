// Package bench measures how fast the built hf binary learns a result:
// the time from a job's completion in the fake API to hf's exit, and the
// status GETs it spent, for signed and unsigned webhooks and for polling.
//
// Run: bench/run.sh (go test ./bench -run '^$' -bench Notify -benchtime 20x)
package bench

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// buildHF builds this tree's hf, or returns $HF_BENCH_BIN (another build,
// for before/after figures).
func buildHF(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("HF_BENCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "hf")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/hf").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func BenchmarkNotify(b *testing.B) {
	bin := buildHF(b)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, mode := range []string{"webhook-signed", "webhook", "poll"} {
		b.Run(mode, func(b *testing.B) {
			opts := []hftest.Option{hftest.WithCredentials("k", "s")}
			whsec := ""
			if mode == "webhook-signed" {
				opts, whsec = append(opts, hftest.WithWebhookSecret(secret)), secret
			}
			srv := hftest.New(opts...)
			defer srv.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			dir := b.TempDir()
			var lat []time.Duration
			gets := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Jobs of varied length so the poll phase is not always lucky.
				srv.SetTiming(200*time.Millisecond, time.Second+time.Duration(rng.Int64N(int64(3*time.Second))))
				args := []string{"generate", "bench/model", "--prompt", fmt.Sprint("run ", i), "-d", dir, "-q"}
				if mode != "poll" {
					addr := freeAddr(b)
					args = append(args, "--webhook-url", "http://"+addr, "--listen", addr)
				} else {
					args = append(args, "--via", "poll")
				}
				before := srv.Count(hftest.StatusEP)
				cmd := exec.Command(bin, args...)
				cmd.Env = isolatedEnv(dir, "HF_BASE_URL="+srv.URL, "HF_KEY=k:s", "HF_WEBHOOK_SECRET="+whsec)
				out, err := cmd.CombinedOutput()
				exited := time.Now()
				if err != nil {
					b.Fatalf("hf: %v\n%s", err, out)
				}
				jobs := srv.Jobs()
				j := jobs[len(jobs)-1]
				lat = append(lat, exited.Sub(j.TerminalAt))
				gets += srv.Count(hftest.StatusEP) - before
			}
			b.StopTimer()
			slices.Sort(lat)
			med, p95 := lat[len(lat)/2], lat[min(len(lat)-1, int(float64(len(lat))*0.95))]
			b.ReportMetric(float64(med.Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(p95.Microseconds())/1000, "ms-p95")
			b.ReportMetric(float64(gets)/float64(b.N), "GETs/req")
			b.Logf("%s: %d runs, completion→exit median %s, p95 %s, status GETs/request %.2f",
				mode, len(lat), med.Round(time.Millisecond), p95.Round(time.Millisecond), float64(gets)/float64(b.N))
		})
	}
}
