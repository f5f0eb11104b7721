// Package root builds the hf command tree, owns the global flags, and maps
// every error to its exit code in one place (ExitCode).
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmd/auth"
	batchcmd "github.com/hf-cli/hf/pkg/cmd/batch"
	cancelcmd "github.com/hf-cli/hf/pkg/cmd/cancel"
	"github.com/hf-cli/hf/pkg/cmd/completion"
	configcmd "github.com/hf-cli/hf/pkg/cmd/config"
	deletecmd "github.com/hf-cli/hf/pkg/cmd/delete"
	"github.com/hf-cli/hf/pkg/cmd/doctor"
	"github.com/hf-cli/hf/pkg/cmd/download"
	"github.com/hf-cli/hf/pkg/cmd/estimate"
	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmd/generate"
	"github.com/hf-cli/hf/pkg/cmd/history"
	listencmd "github.com/hf-cli/hf/pkg/cmd/listen"
	"github.com/hf-cli/hf/pkg/cmd/models"
	"github.com/hf-cli/hf/pkg/cmd/status"
	"github.com/hf-cli/hf/pkg/cmd/upload"
	"github.com/hf-cli/hf/pkg/cmd/version"
	"github.com/hf-cli/hf/pkg/cmd/wait"
	webhookcmd "github.com/hf-cli/hf/pkg/cmd/webhook"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/exitcode"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/ui"
)

// Exit codes, as documented in the README (owned by pkg/exitcode).
const (
	ExitOK          = exitcode.OK
	ExitError       = exitcode.Error
	ExitUsage       = exitcode.Usage
	ExitFailed      = exitcode.Failed
	ExitNSFW        = exitcode.NSFW
	ExitCanceled    = exitcode.Canceled
	ExitAuth        = exitcode.Auth
	ExitDownload    = exitcode.Download
	ExitTimeout     = exitcode.Timeout
	ExitInterrupted = exitcode.Interrupted
)

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hf <command>",
		Short: "Generate images and videos with the Higgsfield API",
		Long: `hf submits a generation to the Higgsfield API, learns the moment it
finishes, and downloads the result. Paths of saved files go to stdout;
progress goes to stderr.`,
		Example: `  hf generate higgsfield-ai/soul/standard --prompt "a lighthouse at dawn"
  hf generate --sandbox higgsfield-ai/soul/standard --prompt "try it offline"
  hf wait 3f1c…  # pick a request up again
  hf history`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       f.Version,
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetVersionTemplate("hf {{.Version}}\n")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err, Hint: "see: " + c.CommandPath() + " --help"}
	})
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.APIKey, "api-key", "", "API key id, or KEY_ID:KEY_SECRET (default: $HF_KEY, $HF_API_KEY, config file)")
	pf.StringVar(&f.APISecret, "api-secret", "", "API key secret")
	pf.StringVar(&f.BaseURL, "base-url", "", "API base URL (default: $HF_BASE_URL or "+higgsfield.DefaultBaseURL+")")
	pf.BoolVar(&f.Debug, "debug", false, "log each HTTP exchange to stderr, credentials redacted (or HF_DEBUG=1)")

	cmd.AddCommand(
		generate.NewCmdGenerate(f, nil),
		batchcmd.NewCmdBatch(f, nil),
		status.NewCmdStatus(f, nil),
		wait.NewCmdWait(f, nil),
		download.NewCmdDownload(f, nil),
		cancelcmd.NewCmdCancel(f, nil),
		deletecmd.NewCmdDelete(f, nil),
		history.NewCmdHistory(f, nil),
		listencmd.NewCmdListen(f, nil),
		webhookcmd.NewCmdWebhook(f),
		upload.NewCmdUpload(f, nil),
		estimate.NewCmdEstimate(f, nil),
		models.NewCmdModels(f, nil),
		auth.NewCmdAuth(f, nil),
		configcmd.NewCmdConfig(f, nil),
		doctor.NewCmdDoctor(f, nil),
		version.NewCmdVersion(f, nil),
		completion.NewCmdCompletion(f, nil),
		exitCodesTopic(),
	)
	return cmd
}

// exitCodeRows are the rows of `hf help exit-codes`, word for word the
// README's "Exit codes" table (a test compares them).
var exitCodeRows = [][2]string{
	{"0", "success"},
	{"1", "error not listed below (network, API 5xx after retries, file system)"},
	{"2", "usage error, or input rejected by the API (400/422): bad flags, settings or files (missing, unreadable, unsupported type), an unconfirmed delete"},
	{"3", "generation failed (failed)"},
	{"4", "rejected by moderation (nsfw)"},
	{"5", "canceled (canceled)"},
	{"6", "credentials rejected (401) or not enough credits (403)"},
	{"7", "generation completed but a download failed (hf download ID retries)"},
	{"124", "timed out waiting; the request goes on (hf wait ID)"},
	{"130", "interrupted by the user"},
}

// exitCodesTopic is `hf help exit-codes`: a help topic, not a command.
func exitCodesTopic() *cobra.Command {
	var b strings.Builder
	b.WriteString("hf exits with one of these codes (the same for every command):\n\n")
	for _, r := range exitCodeRows {
		line := fmt.Sprintf("  %-4s", r[0])
		width := len(line)
		for _, w := range strings.Fields(r[1]) {
			if width+1+len(w) > 78 {
				line += "\n       "
				width = 7
			} else {
				line += " "
				width++
			}
			line += w
			width += len(w)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(`
hf listen exits 0 after --max-deliveries, 130 on Ctrl-C, 1 when the tunnel
stays down past --reconnect-timeout; hf webhook send/replay exit 0 when the
handler answered 2xx, else 1.

hf batch exits 0 when every job is saved or up to date; otherwise with the
code every unsuccessful job shares (3, 4, 5, 7, 124, or 2), 1 when they
differ or a job was skipped because a job it takes an input from failed,
6 when credentials are rejected (the batch stops at once), 130 on Ctrl-C.
Jobs that --fail-fast never started do not count.`)
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What hf's exit codes mean",
		Long:  b.String(),
	}
}

// Main runs hf with args and returns the process exit code. The first
// SIGINT cancels the command's context with job.ErrInterrupt (the job then
// cancels a queued request or detaches); a second one exits at once.
// Instant commands run without that handling (see instant).
func Main(ver string, args []string) int {
	// net/http reports peers' protocol violations (an answer longer than
	// its Content-Length, a stray byte on an idle connection) through the
	// standard logger, straight to stderr. hf logs nothing there itself:
	// silence it so only hf's own lines reach the terminal.
	log.SetOutput(io.Discard)
	f := factory.New(ver)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	cmd := NewCmdRoot(f)
	if !instant(cmd, args) {
		defer handleSignals(f.IOStreams, cancel)()
	}
	return run(ctx, f, cmd, args)
}

// instant reports whether args run a command that only prints what hf
// already knows: help, usage errors, version, completion, history. Those
// keep Go's default signal handling (Ctrl-C ends them at once; the shell
// sees 130), because the first signal.Notify starts a thread and waits for
// it: about 0.5 ms, a fifth of hf's start-up (bench/startup.sh). cmd.Find
// is the lookup Execute does, so the command found is the one that runs.
func instant(cmd *cobra.Command, args []string) bool {
	c, _, err := cmd.Find(args)
	if err != nil || c == cmd {
		return true
	}
	switch c.CommandPath() {
	case "hf version", "hf completion", "hf history":
		return true
	}
	return false
}

// handleSignals makes the first SIGINT, SIGTERM or SIGHUP (the terminal
// closed) cancel with job.ErrInterrupt and a second one exit at once,
// naming any submit still in flight; the returned func stops.
func handleSignals(ios *iostreams.IOStreams, cancel context.CancelCauseFunc) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				cancel(job.ErrInterrupt)
				continue
			}
			InterruptedAgain(ios)
			os.Exit(ExitInterrupted)
		}
	}()
	return func() { signal.Stop(sigs) }
}

// InterruptedAgain says, on a clean line, that hf exits at once on a
// second Ctrl-C, and where the request it leaves is found again.
func InterruptedAgain(ios *iostreams.IOStreams) {
	ui.StopLive()
	fmt.Fprintln(ios.ErrOut, ui.FormatError(ios.ErrStyles(), "interrupted again, exiting now",
		"a request may still be queued or running (and be charged): hf history --pending lists it; hf wait ID picks it up, hf cancel ID cancels it while queued"))
	for _, p := range job.InFlight() {
		fmt.Fprintf(ios.ErrOut, "hf: the submit of %s got no answer; if the API created it: %s (hf history lists it)\n", p.Model, job.ReplayHint(p.Key))
	}
}

// Run executes one hf command line with f's streams and returns the exit
// code, reporting any error on f's stderr. Main wraps it with signal
// handling; tests call it in-process.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	return run(ctx, f, NewCmdRoot(f), args)
}

func run(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	ran, err := cmd.ExecuteContextC(ctx)
	if err != nil && ExitCode(err) == ExitError && (errors.Is(err, context.Canceled) || errors.Is(err, job.ErrInterrupt)) &&
		errors.Is(context.Cause(ctx), job.ErrInterrupt) {
		// Ctrl-C cut a call short in a command with nothing more to say.
		err = &job.InterruptedError{}
	}
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) && flagErr.Hint == "" && ran != nil {
		flagErr.Hint = "see: " + ran.CommandPath() + " --help"
	} else if err != nil && flagErr == nil && ran != nil && isUsage(err) {
		// cobra's own (hf nosuch): the same hint as every other usage error.
		err = &cmdutil.FlagError{Err: err, Hint: "see: " + ran.CommandPath() + " --help"}
	}
	return Report(f.IOStreams, err)
}

// Report prints err (reason first, hint muted after) and returns the exit code.
func Report(ios *iostreams.IOStreams, err error) int {
	code := ExitCode(err)
	var silent *cmdutil.SilentError
	if err == nil || errors.As(err, &silent) {
		return code
	}
	fmt.Fprintln(ios.ErrOut, ui.FormatError(ios.ErrStyles(), err.Error(), Hint(err)))
	return code
}

// ExitCode maps an error to hf's exit code: the command layer's own errors
// here, the engine's through exitcode.Of (the one map, shared with hf batch).
func ExitCode(err error) int {
	var (
		silent  *cmdutil.SilentError
		flagErr *cmdutil.FlagError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &silent):
		return silent.Code
	case errors.As(err, &flagErr):
		return ExitUsage
	}
	if code := exitcode.Of(err); code != exitcode.Error {
		return code
	}
	if isUsage(err) {
		return ExitUsage
	}
	return ExitError
}

// isUsage recognises cobra's own argument errors, which carry no type.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires exactly", "unknown flag", "unknown shorthand flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// credentialOrder is where hf looks for the key, in the order DESIGN.md
// and pkg/config give.
const credentialOrder = "hf takes the first of: --api-key/--api-secret, HF_KEY or HF_CREDENTIALS, HF_API_KEY+HF_API_SECRET, HF_API_KEY_ID+HF_API_KEY_SECRET, the config file (with hf auth login, its secret in the OS keyring)"

// Hint suggests what to do about err, or "".
func Hint(err error) string {
	var (
		apiError *higgsfield.APIError
		missing  *config.MissingCredentialsError
		badCreds *config.CredentialsError
		flagErr  *cmdutil.FlagError
		hinted   interface{ Hint() string } // pkg/config's bad values and files
	)
	switch {
	case errors.As(err, new(*job.StatusCheckError)) && higgsfield.StatusCodeOf(err) != http.StatusUnauthorized:
		return "" // the message says how to pick the request up; the id is the API's own
	case errors.As(err, &badCreds):
		return "give the key as KEY_ID:KEY_SECRET (or the id and secret apart); " + credentialOrder
	case errors.As(err, &missing):
		return "run hf auth login, or create a key at https://cloud.higgsfield.ai; or try hf without one: hf generate --sandbox MODEL --prompt ..."
	case errors.As(err, &hinted):
		return hinted.Hint()
	case errors.As(err, &apiError):
		switch apiError.StatusCode {
		case http.StatusUnauthorized:
			return "check your key; " + credentialOrder
		case http.StatusForbidden:
			if strings.Contains(apiError.Detail, "1010") {
				return "the API's firewall refused this client (Cloudflare error 1010); check proxies that rewrite the User-Agent"
			}
			return "not enough credits: top up in the Higgsfield console"
		case http.StatusPaymentRequired:
			return "not enough credits: top up in the Higgsfield console"
		case http.StatusNotFound:
			return "check the model id or request id, and that it belongs to this account"
		case http.StatusTooManyRequests:
			return "the account's queue is full; try again later"
		case http.StatusUnprocessableEntity:
			if strings.Contains(strings.ToLower(apiError.Detail), "hf-expires-after") {
				return "--expires-after is past this account's retention; pass a shorter one, or leave it out for the account's default"
			}
		}
	case errors.As(err, &flagErr):
		return flagErr.Hint
	}
	return ""
}
