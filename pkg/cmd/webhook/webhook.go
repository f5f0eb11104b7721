// Package webhook implements `hf webhook send` and `hf webhook replay`:
// deliver a sample or a saved webhook to a handler, the way to test one
// without a generation.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/listen"
	"github.com/hf-cli/hf/pkg/redact"
	whk "github.com/hf-cli/hf/pkg/webhook"
)

// NewCmdWebhook builds `hf webhook` and its subcommands.
func NewCmdWebhook(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook <command>",
		Short: "Send sample or saved webhook deliveries to a handler",
		Long: `Test a webhook handler without a generation: hf webhook send delivers a
sample shaped like Higgsfield's, signed with HF_WEBHOOK_SECRET when it is
set; hf webhook replay re-sends a delivery saved by hf listen --save.`,
		Args: cmdutil.ExactArgs(0, "hf webhook needs a command: send or replay"),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdSend(f, nil), NewCmdReplay(f, nil))
	return cmd
}

// SendOptions are the parsed flags of `hf webhook send`.
type SendOptions struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Config, error)
	Version string
	Now     func() time.Time

	URL       string
	Status    string
	RequestID string
	Kind      string
	Timeout   time.Duration
}

// NewCmdSend builds `hf webhook send`. runF replaces the run step in tests.
func NewCmdSend(f *cmdutil.Factory, runF func(*SendOptions) error) *cobra.Command {
	opts := &SendOptions{IO: f.IOStreams, Config: f.Config, Version: f.Version, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "send URL --status completed|failed|nsfw",
		Short: "Send a sample webhook delivery to a handler",
		Long: `POST a sample delivery to URL, shaped like Higgsfield's webhook payloads (a
completed image or video, a failed or an nsfw request), with the Standard
Webhooks headers webhook-id, webhook-timestamp and, when HF_WEBHOOK_SECRET
is set, webhook-signature ("v1,<base64>"). The handler's status code is
printed on stdout; the exit code is 0 for a 2xx answer, else 1.`,
		Example: `  hf webhook send http://localhost:3000/webhooks --status completed
  hf webhook send http://localhost:3000/webhooks --status completed --kind video --request-id 9417a243-e457-4075-895b-b68f3cda5303
  HF_WEBHOOK_SECRET=whsec_... hf webhook send http://localhost:3000/webhooks --status failed`,
		Args: cmdutil.ExactArgs(1, "send needs the handler's URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			u, err := listen.ParseTarget(opts.URL)
			if err != nil {
				return cmdutil.FlagErrorf("URL %v", err)
			}
			opts.URL = u.String()
			switch opts.Status {
			case higgsfield.StatusCompleted, higgsfield.StatusFailed, higgsfield.StatusNSFW:
			case "":
				return cmdutil.FlagErrorf("--status is required: completed, failed or nsfw")
			default:
				return cmdutil.FlagErrorf("--status %q: want completed, failed or nsfw", opts.Status)
			}
			switch {
			case opts.Kind != "" && opts.Kind != "image" && opts.Kind != "video":
				return cmdutil.FlagErrorf("--kind %q: want image or video", opts.Kind)
			case opts.Kind != "" && opts.Status != higgsfield.StatusCompleted:
				return cmdutil.FlagErrorf("--kind applies to --status completed only")
			case opts.RequestID != "":
				id, err := cmdutil.RequestIDArg(opts.RequestID, nil) // a whole UUID: no journal lookup
				if err != nil {
					return err
				}
				opts.RequestID = id
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return sendRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Status, "status", "", "the delivery's status: completed, failed or nsfw")
	fl.StringVar(&opts.RequestID, "request-id", "", "the request id in the delivery (default: a fresh UUID)")
	fl.StringVar(&opts.Kind, "kind", "", "what a completed request made: image (default) or video")
	fl.DurationVar(&opts.Timeout, "timeout", listen.DefaultTimeout, "give up on the handler's answer after this long")
	return cmd
}

func sendRun(ctx context.Context, opts *SendOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	secret := cfg.String("webhook.secret")
	body, err := listen.Sample(listen.SampleOptions{Status: opts.Status, RequestID: opts.RequestID, Kind: opts.Kind, Now: opts.Now})
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	d, err := listen.NewDelivery(body, secret, opts.Now())
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if secret == "" {
		fmt.Fprintln(opts.IO.ErrOut, "hf: HF_WEBHOOK_SECRET is not set: sending the delivery unsigned")
	}
	return deliver(ctx, opts.IO, opts.URL, d, opts.Timeout, opts.Version)
}

// ReplayOptions are the parsed flags of `hf webhook replay`.
type ReplayOptions struct {
	IO      *iostreams.IOStreams
	Version string

	File    string
	To      string
	Timeout time.Duration
}

// NewCmdReplay builds `hf webhook replay`. runF replaces the run step in tests.
func NewCmdReplay(f *cmdutil.Factory, runF func(*ReplayOptions) error) *cobra.Command {
	opts := &ReplayOptions{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "replay FILE --to URL",
		Short: "Re-send a delivery saved by hf listen --save",
		Long: `POST a saved delivery (a file written by hf listen --save, or by hf status
ID --delivery) to URL with the same body and the same Content-Type,
webhook-id, webhook-timestamp and webhook-signature headers. A handler that
checks the timestamp (Standard Webhooks allow 5 minutes) refuses an old
one, as it would a real late redelivery. The handler's status code is
printed on stdout; the exit code is 0 for a 2xx answer, else 1.`,
		Example: `  hf webhook replay deliveries/msg_2Yx….http --to http://localhost:3000/webhooks`,
		Args:    cmdutil.ExactArgs(1, "replay needs the saved delivery's FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.To == "" {
				return cmdutil.FlagErrorf("--to URL is required: the handler to send the delivery to")
			}
			u, err := listen.ParseTarget(opts.To)
			if err != nil {
				return cmdutil.FlagErrorf("--to %v", err)
			}
			opts.To = u.String()
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return replayRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the handler's URL")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", listen.DefaultTimeout, "give up on the handler's answer after this long")
	return cmd
}

func replayRun(ctx context.Context, opts *ReplayOptions) error {
	d, err := listen.Load(opts.File)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cmdutil.FlagErrorf("%s: no such file", opts.File)
		}
		return &cmdutil.FlagError{Err: err}
	}
	return deliver(ctx, opts.IO, opts.To, d, opts.Timeout, opts.Version)
}

// HandlerError: the handler did not answer 2xx (exit code 1). Its message
// shows URLs without userinfo, query values or an hf secret path.
type HandlerError struct {
	URL  string
	Code int
	Err  string
	// Location is where a 3xx answer points.
	Location string
}

func (e *HandlerError) Error() string {
	u := redact.URL(e.URL)
	if e.Code == 0 {
		return fmt.Sprintf("%s: %s", u, e.Err)
	}
	msg := fmt.Sprintf("%s answered %d %s", u, e.Code, http.StatusText(e.Code))
	if e.Location != "" {
		msg += " to " + redact.URL(e.Location) + " (redirects are not followed: send there instead)"
	}
	return msg
}

// deliver sends d, prints the answer's code, and fails unless it is 2xx.
func deliver(ctx context.Context, ios *iostreams.IOStreams, url string, d *whk.RawDelivery, timeout time.Duration, version string) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f, err := listen.Send(ctx, c, url, d, timeout, "hf/"+version+" (webhook)")
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if f.Code != 0 {
		fmt.Fprintln(ios.Out, f.Code)
	}
	if !f.OK() {
		return &HandlerError{URL: url, Code: f.Code, Err: f.Error, Location: f.Location}
	}
	fmt.Fprintf(ios.ErrOut, "hf: %s answered %d in %s\n", redact.URL(url), f.Code, f.Latency.Round(time.Millisecond))
	return nil
}
