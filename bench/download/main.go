// Command download benchmarks pkg/download against curl: it serves one
// file on loopback and times, side by side, `curl -o` (no fsync) and a
// child process that saves it with download.Fetcher.Fetch (fsynced before
// it is published), printing min/median/max wall time and the child's peak
// RSS. Run it through bench/download.sh.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/hf-cli/hf/pkg/download"
)

func main() {
	fetch := flag.String("fetch", "", "child mode: save this URL into -dir with pkg/download")
	dir := flag.String("dir", "", "child mode: output directory")
	size := flag.Int64("mib", 256, "size of the served file in MiB")
	runs := flag.Int("runs", 5, "runs of each client")
	outputs := flag.Int("outputs", 1, "outputs saved at once (the file split in that many parts), as one request's outputs are")
	flag.Parse()
	if *fetch != "" {
		if err := child(*fetch, *dir, *outputs); err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(*size<<20, *runs, *outputs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// child saves n outputs of url (url?i=1 … url?i=n) at once.
func child(url, dir string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t, err := download.ParseTemplate("out.{ext}")
	if err != nil {
		return err
	}
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		go func() {
			_, err := (&download.Fetcher{}).Fetch(ctx, fmt.Sprintf("%s?i=%d", url, i), download.Target{Dir: dir, Template: t, Vars: download.Vars{ID: "bench", Index: i, Count: n}})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

type sample struct {
	wall, cpu time.Duration
	rssKiB    int64
}

func bench(size int64, runs, outputs int) error {
	work, err := os.MkdirTemp("", "hf-download-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "asset.bin")
	sum, err := writeAsset(src, size)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(src)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		// ?i=K of N is the K-th of N equal slices of the file.
		var body io.ReadSeeker = f
		if k, err := strconv.Atoi(r.URL.Query().Get("i")); err == nil && k >= 1 && k <= outputs {
			part := size / int64(outputs)
			body = io.NewSectionReader(f, int64(k-1)*part, part)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+sum+r.URL.RawQuery+`"`)
		http.ServeContent(w, r, "", time.Time{}, body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/asset.bin"
	self, err := os.Executable()
	if err != nil {
		return err
	}

	var curl, hf []sample
	for i := range runs {
		out := filepath.Join(work, "out")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		// Alternate which goes first, so neither always finds a warm cache.
		order := []string{"curl", "hf"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, who := range order {
			var cmd *exec.Cmd
			var paths []string
			if who == "curl" {
				args := []string{"-sS", "--no-progress-meter", "--fail"}
				if outputs > 1 {
					args = append(args, "--parallel", "--parallel-max", strconv.Itoa(outputs))
				}
				for k := 1; k <= outputs; k++ {
					p := filepath.Join(out, fmt.Sprintf("curl-%d.bin", k))
					paths = append(paths, p)
					args = append(args, "-o", p, fmt.Sprintf("%s?i=%d", url, k))
				}
				if outputs == 1 {
					args[len(args)-1] = url
				}
				cmd = exec.Command("curl", args...)
			} else {
				if outputs == 1 {
					paths = []string{filepath.Join(out, "out.bin")}
				} else {
					for k := 1; k <= outputs; k++ {
						paths = append(paths, filepath.Join(out, fmt.Sprintf("out-%d.bin", k)))
					}
				}
				u := url
				cmd = exec.Command(self, "-fetch", u, "-dir", out, "-outputs", strconv.Itoa(outputs))
			}
			cmd.Stderr = os.Stderr
			s, err := run(cmd)
			if err != nil {
				return fmt.Errorf("%s: %w", who, err)
			}
			if i == 0 && outputs == 1 {
				if got, err := fileSHA(paths[0]); err != nil || got != sum {
					return fmt.Errorf("%s saved sha256 %s, want %s (%v)", who, got, sum, err)
				}
			}
			if who == "curl" {
				curl = append(curl, s)
			} else {
				hf = append(hf, s)
			}
			var total int64
			for _, p := range paths {
				if fi, err := os.Stat(p); err == nil {
					total += fi.Size()
				}
				if err := os.Remove(p); err != nil {
					return err
				}
			}
			if want := size / int64(outputs) * int64(outputs); total != want {
				return fmt.Errorf("%s saved %d bytes, want %d", who, total, want)
			}
		}
	}
	fmt.Printf("%d MiB on loopback in %d output(s) at once, %d runs each (wall time min / median / max, CPU, peak RSS)\n", size>>20, outputs, runs)
	report("curl -o (no fsync)", curl)
	report("pkg/download (fsync)", hf)
	fmt.Printf("ratio of medians hf/curl: %.2f\n", float64(median(hf).wall)/float64(median(curl).wall))
	return nil
}

func run(cmd *exec.Cmd) (sample, error) {
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	s := sample{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssKiB = int64(ru.Maxrss) // KiB on Linux
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s, nil
}

func median(s []sample) sample {
	c := slices.Clone(s)
	slices.SortFunc(c, func(a, b sample) int { return int(a.wall - b.wall) })
	return c[len(c)/2]
}

func report(name string, s []sample) {
	c := slices.Clone(s)
	slices.SortFunc(c, func(a, b sample) int { return int(a.wall - b.wall) })
	var rss int64
	cpus := make([]time.Duration, 0, len(s))
	for _, x := range s {
		rss = max(rss, x.rssKiB)
		cpus = append(cpus, x.cpu)
	}
	slices.Sort(cpus)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Printf("%-22s %s / %s / %s   CPU median %s   peak RSS %.1f MB\n", name, ms(c[0].wall), ms(c[len(c)/2].wall), ms(c[len(c)-1].wall), ms(cpus[len(cpus)/2]), float64(rss)/1024)
}

// writeAsset writes size pseudo-random bytes (incompressible) to p and
// returns their sha256.
func writeAsset(p string, size int64) (string, error) {
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := r.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		n := min(left, int64(len(buf)))
		if _, err := io.MultiWriter(f, h).Write(buf[:n]); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), f.Sync()
}

func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
