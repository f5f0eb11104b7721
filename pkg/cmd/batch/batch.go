// Package batch implements `hf batch FILE`: run every job of a manifest
// through one webhook endpoint, at most -j requests in flight, with a lock
// file beside the manifest so that nothing is paid for twice.
package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/cmd/generate"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/ui"
)

// Options are the parsed flags of `hf batch`.
type Options struct {
	IO     *iostreams.IOStreams
	Engine func(context.Context, cmdutil.EngineOptions) (*cmdutil.Engine, error)

	File   string
	Model  string
	Sets   []string
	Dir    string
	Output string

	Clobber, Force, NoLock, Verify, DryRun, FailFast bool
	JSON, Quiet, Sandbox                             bool
	MaxCredits                                       float64
	MaxCreditsSet                                    bool
	ExpiresAfterSet                                  bool
	Shard                                            string
	Concurrency                                      int
	Timeout, PollInterval, ExpiresAfter              time.Duration
	Endpoint                                         cmdutil.EndpointOptions

	// Getenv reads GITHUB_* (os.Getenv unless a test sets it).
	Getenv func(string) string
}

// NewCmdBatch builds `hf batch`. runF replaces the run step in tests.
func NewCmdBatch(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Engine: f.Engine, Getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "batch FILE [flags]",
		Short: "Run every generation of a manifest; re-runs pay for nothing twice",
		Long: `Run every job of FILE and save every output. FILE is a YAML or JSON manifest
(.yaml, .yml, .json: "defaults" laid under a "jobs" list of name, model,
input, output, from), JSON Lines (.jsonl, or - for stdin: one job object per
line), or text (.txt: one prompt per line, blank and # lines skipped, \# for a
prompt starting with #; --model and --set give the rest). --model, --set,
-d and -o give defaults under the file's own.

Every job is checked before anything is spent. A lock file beside the
manifest (X.lock.json, meant to be committed) records each job's identity,
request and files, so a re-run skips what is up to date without any API
call, downloads again what is missing, waits for what is pending, and a
crash or a second machine never pays twice. "from: {image_url: hero}" passes
the URL of hero's first output ("hero#2": its second) and waits for it.

Paths of every job's outputs go to stdout, one per line in manifest order
(or one JSON object with --json). Exit status: 0 when every job is saved or
up to date; otherwise the code every unsuccessful job shares (3 failed,
4 nsfw, 5 canceled, 7 download, 124 timeout), 1 when they differ or a job
was skipped because a job it depends on failed, 6 when credentials are
rejected, 130 on Ctrl-C (run the same command again to resume).`,
		Example: `  hf batch assets.yaml
  hf batch assets.yaml --dry-run
  hf batch assets.yaml -j 8 --max-credits 100
  hf batch prompts.txt --model higgsfield-ai/soul/standard --set aspect_ratio=16:9 -d out
  hf batch assets.yaml --shard 2/4   # the 2nd of 4 CI runners`,
		Args: cmdutil.ExactArgs(1, "batch needs exactly one manifest FILE (or - for JSON Lines on stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.MaxCreditsSet = cmd.Flags().Changed("max-credits")
			opts.ExpiresAfterSet = cmd.Flags().Changed("expires-after")
			if opts.Concurrency < 1 {
				return cmdutil.FlagErrorf("-j/--concurrency must be at least 1")
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if err := cmdutil.CheckPollInterval(opts.PollInterval); err != nil {
				return err
			}
			if opts.MaxCreditsSet && (opts.MaxCredits < 0 || math.IsNaN(opts.MaxCredits)) {
				// NaN compares false with every total: it would let anything through.
				return cmdutil.FlagErrorf("--max-credits must be a number, not negative")
			}
			if opts.Shard != "" {
				if _, _, err := batch.ParseShard(opts.Shard); err != nil {
					return &cmdutil.FlagError{Err: err}
				}
			}
			if cmd.Flags().Changed("expires-after") {
				if err := cmdutil.CheckExpiresAfter(opts.ExpiresAfter); err != nil {
					return err
				}
			}
			if opts.Output == "-" {
				return cmdutil.FlagErrorf("-o - is for one output; a batch saves files (stdout lists their paths)")
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Model, "model", "m", "", "model of jobs that name none (under the manifest's defaults)")
	fl.StringArrayVarP(&opts.Sets, "set", "s", nil, "input field of every job: key=value, under the manifest's (value parsed as JSON when valid)")
	fl.StringVarP(&opts.Dir, "dir", "d", "", "directory to save outputs in (default: the manifest's, or . for stdin)")
	fl.StringVarP(&opts.Output, "output", "o", "", `file name template: {name} {index} {count} {ext} {model} {id} {date} (default "`+batch.DefaultTemplate+`")`)
	fl.BoolVar(&opts.Clobber, "clobber", false, "let outputs replace existing files that are not the job's own")
	fl.IntVarP(&opts.Concurrency, "concurrency", "j", 4, "requests in flight at once (submitted, not finished)")
	fl.BoolVar(&opts.Force, "force", false, "regenerate every job, even those up to date (recorded, so a re-run does not)")
	fl.BoolVar(&opts.NoLock, "no-lock", false, "neither read nor write the lock file")
	fl.BoolVar(&opts.Verify, "verify", false, "hash every saved output instead of trusting unchanged size, mtime and inode")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print what would be done and what it would cost (free estimate); spend nothing")
	fl.Float64Var(&opts.MaxCredits, "max-credits", 0, "estimate first and refuse to start when the jobs to generate would cost more")
	fl.StringVar(&opts.Shard, "shard", "", "run part K of N (K/N): jobs linked by from stay together; the N parts run every job once")
	fl.BoolVar(&opts.FailFast, "fail-fast", false, "stop submitting after the first failure (jobs not started are reported not_run)")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object on stdout instead of paths")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	fl.BoolVar(&opts.Sandbox, "sandbox", false, "run against a built-in fake API: no credentials, no network, real PNG/MP4 outputs")
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up waiting for a job after this long (its request goes on; a re-run picks it up)")
	fl.Var(config.NewDurationValue(&opts.ExpiresAfter, 0), "expires-after", "delete each request's data this long after it finishes (Hf-Expires-After; part of each job's identity)")
	fl.DurationVar(&opts.PollInterval, "poll-interval", 0, "poll statuses at this fixed interval (default: 2s growing to 10s, rarely with a webhook)")
	opts.Endpoint.Register(cmd)
	return cmd
}

// usage turns a manifest or plan error into a usage error (exit 2).
func usage(err error) error {
	var me *batch.Error
	if errors.As(err, &me) {
		return &cmdutil.FlagError{Err: err, Hint: "nothing was submitted"}
	}
	return err
}

// Run loads the manifest, plans, and runs it.
func Run(ctx context.Context, opts *Options) error {
	defaults := batch.Defaults{Model: opts.Model, Output: opts.Output}
	if len(opts.Sets) > 0 {
		defaults.Input = map[string]any{}
		for _, s := range opts.Sets {
			k, v, err := generate.ParseSet(s)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			defaults.Input[k] = v
		}
	}
	m, err := batch.Load(batch.Source{Path: opts.File, Stdin: opts.IO.In, Defaults: defaults})
	if err != nil {
		return usage(err)
	}
	lockPath := ""
	if opts.File != "-" && !opts.NoLock {
		lockPath = batch.LockPath(opts.File)
		if opts.Sandbox { // fake outputs never pass for real ones
			lockPath = strings.TrimSuffix(lockPath, ".lock.json") + ".sandbox.lock.json"
		}
	}
	if lockPath != "" && !opts.DryRun {
		// One run per lock file at a time: a second one would submit the
		// same keys and race on the file.
		unlock, err := exclusive(lockPath)
		if err != nil {
			return err
		}
		defer unlock()
	}
	lock, err := batch.OpenLock(lockPath)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if lockPath != "" {
		if dir, key, err := stateKey(lockPath); err == nil {
			lock.UseStatCache(filepath.Join(dir, key+".stat.json"))
		}
	}
	k, n := 0, 0
	if opts.Shard != "" {
		k, n, _ = batch.ParseShard(opts.Shard)
	}
	outDir := opts.Dir
	if outDir == "" && opts.File == "-" {
		outDir = "."
	}
	// Local files (@path in *_url, *_urls and *images fields) are read and
	// checked now; they are uploaded only when their job is submitted.
	fs := &files{}
	plan, err := batch.NewPlan(m, batch.PlanOptions{Lock: lock, OutDir: outDir, Force: opts.Force, Verify: opts.Verify, Clobber: opts.Clobber,
		Shard: k, Shards: n, Files: fs, ExpiresAfter: int64(opts.ExpiresAfter / time.Second), Ephemeral: opts.Sandbox})
	if err != nil {
		return usage(err)
	}
	if !opts.Quiet {
		warnCatalog(opts.IO.ErrOut, plan)
	}
	var credits map[string]float64
	if opts.DryRun || opts.MaxCreditsSet {
		var total float64
		credits, total, err = estimate(ctx, opts, plan)
		if err != nil {
			return err
		}
		if opts.DryRun {
			return printPlan(opts, plan, credits, total)
		}
		if total > opts.MaxCredits {
			return cmdutil.FlagErrorf("the %d jobs to generate would cost %s credits, more than --max-credits %s; nothing was submitted",
				plan.Count(batch.Generate), fmtCredits(total), fmtCredits(opts.MaxCredits))
		}
	}

	r := ui.NewBatchRenderer(opts.IO, ui.Mode{Quiet: opts.Quiet})
	needAPI := plan.Count(batch.Generate)+plan.Count(batch.Wait)+plan.Count(batch.Redownload) > 0
	gate := &batch.Gate{}
	ro := batch.RunOptions{Concurrency: opts.Concurrency, FailFast: opts.FailFast, Timeout: opts.Timeout, Emit: r.Handle, Credits: credits, Gate: gate,
		ExpiresAfter: opts.ExpiresAfter}
	var closeEngine func()
	if needAPI {
		eo := cmdutil.EngineOptions{Sandbox: opts.Sandbox, Quiet: opts.Quiet, PollInterval: opts.PollInterval,
			// The endpoint's and the client's events go to the batch's renderer.
			Emit: func(ev events.Event) { r.Handle(batch.Event{Kind: batch.Progress, Time: ev.Time, Job: ev}) },
			// A 429 on any submit pauses every submit of the batch.
			OnRetry: func(ri higgsfield.RetryInfo) { gate.NoteRetry(ri.Op, ri.Err, ri.Delay) },
		}
		if plan.Count(batch.Generate)+plan.Count(batch.Wait) > 0 {
			eo.Endpoint = &opts.Endpoint // one endpoint for the whole batch
		}
		eng, err := opts.Engine(ctx, eo)
		if err != nil {
			r.Close()
			return err
		}
		closeEngine = eng.Close
		ro.Runner = eng.Runner
		fs.resolver = cmdutil.NewResolver(opts.IO, eng.Runner.Client, true, opts.Sandbox)
		ro.Files = fs
	}
	rep := plan.Run(ctx, ro)
	if closeEngine != nil {
		closeEngine()
	}
	r.Close()
	report(opts, rep)
	return rep.Err(resumeCommand(opts))
}

// resumeCommand is the command that runs this batch again with the same
// job identities and places: the manifest and every flag that goes into
// an identity, a path or the lock file chosen, shell-quoted. --force is
// left out (its identities are in the lock; again, it would pay anew for
// every saved job), and so are flags that only tune the run.
func resumeCommand(opts *Options) string {
	var args []string
	add := func(a ...string) {
		for _, s := range a {
			args = append(args, shellWord(s))
		}
	}
	if opts.Model != "" {
		add("--model", opts.Model)
	}
	for _, s := range opts.Sets {
		add("--set", s)
	}
	if opts.Dir != "" {
		add("-d", opts.Dir)
	}
	if opts.Output != "" {
		add("-o", opts.Output)
	}
	if opts.ExpiresAfterSet {
		add("--expires-after", fmtDuration(opts.ExpiresAfter))
	}
	if opts.Clobber {
		add("--clobber")
	}
	if opts.NoLock {
		add("--no-lock")
	}
	if opts.Sandbox {
		add("--sandbox")
	}
	if opts.Shard != "" {
		add("--shard", opts.Shard)
	}
	cmd := "hf batch " + shellWord(opts.File)
	if strings.HasPrefix(opts.File, "-") && opts.File != "-" {
		cmd = "hf batch"
		args = append(args, "--", shellWord(opts.File))
	}
	if len(args) > 0 {
		cmd += " " + strings.Join(args, " ")
	}
	return cmd
}

// fmtDuration writes d the way a person would type it.
func fmtDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exclusive holds a lock in the state directory for lockPath, so that two
// runs of one manifest cannot overlap.
func exclusive(lockPath string) (func(), error) {
	dir, key, err := stateKey(lockPath)
	if errors.Is(err, errNoState) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fl := flock.New(filepath.Join(dir, key+".lock"))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	if !ok {
		return nil, fmt.Errorf("another hf batch is running with %s; wait for it to finish (or stop it) and run again", lockPath)
	}
	return func() { _ = fl.Unlock() }, nil
}

var errNoState = errors.New("no state directory")

// stateKey is where the state of one lock file lives on this machine (the
// run lock, the stat cache): a directory and a name from the lock's
// absolute path.
func stateKey(lockPath string) (dir, key string, err error) {
	state, err := journal.DefaultDir()
	if err != nil {
		return "", "", errNoState
	}
	abs, err := filepath.Abs(lockPath)
	if err != nil {
		return "", "", err
	}
	// One lock file reached through a symlinked directory is the same file.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(state, "batch"), hex.EncodeToString(sum[:12]), nil
}

func estimate(ctx context.Context, opts *Options, plan *batch.Plan) (map[string]float64, float64, error) {
	if plan.Count(batch.Generate) == 0 {
		return map[string]float64{}, 0, nil
	}
	eng, err := opts.Engine(ctx, cmdutil.EngineOptions{Sandbox: opts.Sandbox, Quiet: true})
	if err != nil {
		return nil, 0, err
	}
	defer eng.Close()
	return plan.Estimate(ctx, eng.Runner.Client, opts.Concurrency)
}

func fmtCredits(c float64) string { return strconv.FormatFloat(c, 'f', -1, 64) }

// planJSON is the --dry-run --json object.
type planJSON struct {
	Jobs    []planJob `json:"jobs"`
	Credits float64   `json:"credits"`
}

type planJob struct {
	Name    string   `json:"name"`
	Model   string   `json:"model"`
	Action  string   `json:"action"`
	Reason  string   `json:"reason,omitempty"`
	Credits *float64 `json:"credits,omitempty"`
}

// printPlan is --dry-run's output: one line per job on stdout (its data),
// then the total.
func printPlan(opts *Options, plan *batch.Plan, credits map[string]float64, total float64) error {
	out := planJSON{Jobs: []planJob{}, Credits: total}
	for _, s := range plan.Steps {
		pj := planJob{Name: s.Job.Name, Model: s.Job.Model, Action: string(s.Action), Reason: s.Reason}
		if c, ok := credits[s.Job.Name]; ok {
			pj.Credits = &c
		}
		out.Jobs = append(out.Jobs, pj)
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, j := range out.Jobs {
		line := fmt.Sprintf("%-12s %s", j.Action, j.Name)
		if j.Reason != "" {
			line += " (" + j.Reason + ")"
		}
		if j.Credits != nil {
			line += " " + fmtCredits(*j.Credits) + " credits"
		}
		fmt.Fprintln(opts.IO.Out, line)
	}
	fmt.Fprintf(opts.IO.Out, "would generate %d of %d jobs for %s credits; %d up to date, %d to download again, %d to wait for\n",
		plan.Count(batch.Generate), len(plan.Steps), fmtCredits(total), plan.Count(batch.UpToDate), plan.Count(batch.Redownload), plan.Count(batch.Wait))
	return nil
}

// report writes stdout (paths or JSON), the summary on stderr, and the
// GitHub Actions outputs.
func report(opts *Options, rep *batch.Report) {
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		for _, o := range rep.Jobs {
			if !o.State.Succeeded() {
				continue
			}
			for _, f := range o.Files {
				fmt.Fprintln(opts.IO.Out, f.Path)
			}
		}
	}
	if !opts.Quiet {
		if opts.IO.Animate() {
			ui.BatchSummary(opts.IO.ErrOut, opts.IO.ErrStyles(), rep, opts.IO.TerminalWidth())
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "hf: "+ui.BatchSummaryLine(rep.Summary))
		}
	}
	jobs := make([]ui.GHAJob, 0, len(rep.Jobs))
	for _, o := range rep.Jobs {
		j := ui.GHAJob{Name: o.Name, State: string(o.State), RequestID: o.RequestID, Seconds: o.Seconds}
		if o.State.Succeeded() {
			for _, f := range o.Files {
				j.Paths = append(j.Paths, f.Path)
			}
		} else if o.State != batch.StateNotRun {
			j.Error = o.Error
		}
		jobs = append(jobs, j)
	}
	if err := ui.GitHubActions(opts.Getenv, opts.IO.ErrOut, "hf batch "+opts.File, jobs); err != nil {
		fmt.Fprintln(opts.IO.ErrOut, "hf: warning: "+err.Error())
	}
}

// files is pkg/inputs behind batch.Files: "@path" strings in *_url, *_urls
// and *images fields of a job's input, checked when planning (an
// unreadable or unsupported file stops the batch before anything is
// spent), known by content in the job's identity, uploaded once per
// content when the job is submitted.
type files struct {
	resolver *inputs.Resolver // set once the API client exists
}

func (f *files) Scan(input map[string]any, baseDir string) ([]batch.FileRef, error) {
	refs, err := inputs.Scan(input, inputs.JSONFields, baseDir)
	if err != nil {
		return nil, err
	}
	out := make([]batch.FileRef, len(refs))
	for i, r := range refs {
		out[i] = batch.FileRef{Field: r.Field, Path: r.Path, SHA256: r.SHA256}
	}
	return out, nil
}

func (f *files) Resolve(ctx context.Context, input map[string]any, baseDir string) (map[string]any, error) {
	if f.resolver == nil {
		return nil, errors.New("no API client to upload local files with")
	}
	out, _, err := f.resolver.Resolve(ctx, input, inputs.JSONFields, baseDir)
	return out, err
}

// warnCatalog says, once per distinct warning, where the jobs to generate
// stray from hf's model catalog (an unknown model, field or value); the
// jobs are sent as given.
func warnCatalog(w io.Writer, plan *batch.Plan) {
	var order []string
	jobs := map[string][]string{}
	for _, st := range plan.Steps {
		if st.Action != batch.Generate {
			continue
		}
		for _, msg := range higgsfield.CatalogWarnings(st.Job.Model, st.Job.Input) {
			if _, ok := jobs[msg]; !ok {
				order = append(order, msg)
			}
			jobs[msg] = append(jobs[msg], st.Job.Name)
		}
	}
	for _, msg := range order {
		names := jobs[msg]
		more := ""
		if len(names) > 3 {
			names, more = names[:3], fmt.Sprintf(" and %d more", len(names)-3)
		}
		fmt.Fprintf(w, "hf: warning: %s (job %s%s)\n", msg, strings.Join(names, ", "), more)
	}
}
