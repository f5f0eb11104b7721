package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// BenchmarkIdleConns: the built hf waits with a webhook endpoint while N
// connections that do not know the secret path sit on its listener
// (silent, or idle after a 404); the signed delivery must still get in.
// Reports completion→exit latency and the fake's status GETs.
//
// Run: go test ./bench -run '^$' -bench IdleConns -benchtime 3x -v
func BenchmarkIdleConns(b *testing.B) {
	bin := buildHF(b)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, tt := range []struct {
		n     int
		probe string
	}{{64, ""}, {64, "/nope"}, {200, ""}, {200, "/nope"}} {
		name := fmt.Sprintf("%d-silent", tt.n)
		if tt.probe != "" {
			name = fmt.Sprintf("%d-after-404", tt.n)
		}
		b.Run(name, func(b *testing.B) {
			srv := hftest.New(hftest.WithCredentials("k", "s"), hftest.WithWebhookSecret(secret), hftest.WithTiming(1500*time.Millisecond, 100*time.Millisecond))
			defer srv.Close()
			dir := b.TempDir()
			var worst time.Duration
			gets := 0
			for i := 0; i < b.N; i++ {
				addr := freeAddr(b)
				cmd := exec.Command(bin, "generate", "bench/model", "--prompt", fmt.Sprint("run ", i), "-d", dir, "-q", "--timeout", "60s",
					"--webhook-url", "http://"+addr, "--listen", addr)
				cmd.Env = isolatedEnv(dir, "HF_BASE_URL="+srv.URL, "HF_KEY=k:s", "HF_WEBHOOK_SECRET="+secret)
				before := srv.Count(hftest.StatusEP)
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				waitListening(b, addr)
				opened, closeIdle := hftest.IdleConns(addr, tt.n, tt.probe)
				if opened != tt.n {
					b.Fatalf("opened %d of %d", opened, tt.n)
				}
				err := cmd.Wait()
				exited := time.Now()
				closeIdle()
				if err != nil {
					b.Fatalf("hf: %v", err)
				}
				jobs := srv.Jobs()
				lat := exited.Sub(jobs[len(jobs)-1].TerminalAt)
				worst = max(worst, lat)
				gets += srv.Count(hftest.StatusEP) - before
			}
			b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
			b.ReportMetric(float64(gets)/float64(b.N), "GETs/op")
			b.Logf("%s idle connections: completion→exit worst %s, %.1f status GETs per request", name, worst.Round(time.Millisecond), float64(gets)/float64(b.N))
		})
	}
}

// BenchmarkUnsignedFlood: N unsigned deliveries for one queued request of
// the built hf; reports the status GETs they caused (counted by the fake).
//
// Run: go test ./bench -run '^$' -bench UnsignedFlood -benchtime 1x -v
func BenchmarkUnsignedFlood(b *testing.B) {
	bin := buildHF(b)
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			srv := hftest.New(hftest.WithCredentials("k", "s"), hftest.WithTiming(4*time.Second, 100*time.Millisecond))
			defer srv.Close()
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				addr := freeAddr(b)
				cmd := exec.Command(bin, "generate", "bench/model", "--prompt", fmt.Sprint("run ", i), "-d", dir, "--timeout", "60s",
					"--webhook-url", "http://"+addr, "--listen", addr)
				cmd.Env = isolatedEnv(dir, "HF_BASE_URL="+srv.URL, "HF_KEY=k:s")
				before := srv.Count(hftest.StatusEP)
				stderr, _ := os.Create(dir + "/stderr")
				cmd.Stderr = stderr
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				waitListening(b, addr)
				jobs := srv.Jobs()
				for len(jobs) <= i {
					time.Sleep(10 * time.Millisecond)
					jobs = srv.Jobs()
				}
				start := time.Now()
				ok, err := srv.Redeliver(jobs[i].ID, n)
				took := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				flood := srv.Count(hftest.StatusEP) - before
				if err := cmd.Wait(); err != nil {
					b.Fatalf("hf: %v", err)
				}
				stderr.Close()
				out, _ := os.ReadFile(dir + "/stderr")
				lines := 0
				for _, c := range out {
					if c == '\n' {
						lines++
					}
				}
				b.ReportMetric(float64(flood), "GETs")
				b.Logf("%d unsigned deliveries (%d answered 2xx) in %s: %d status GETs during the flood, %d in all; %d stderr lines", n, ok, took.Round(time.Millisecond), flood, srv.Count(hftest.StatusEP)-before, lines)
			}
		})
	}
}

func waitListening(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("hf never listened on %s", addr)
}
