// Package listen implements `hf listen`: a public webhook URL whose
// deliveries are verified, shown, and forwarded to an app's handlers on this
// machine (stripe listen --forward-to, for Higgsfield).
package listen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/listen"
	"github.com/hf-cli/hf/pkg/redact"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/ui"
)

// Options are the parsed flags of `hf listen`.
type Options struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Config, error)
	Version string

	ForwardTo        []string
	WebhookURL       string
	Listen           string
	JSON             bool
	SaveDir          string
	ReadyFile        string
	MaxDeliveries    int
	ReconnectTimeout time.Duration
	ForwardTimeout   time.Duration
}

// NewCmdListen builds `hf listen`. runF replaces the run step in tests.
func NewCmdListen(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Config: f.Config, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "listen [--forward-to URL]...",
		Short: "Bring Higgsfield webhooks to an app on this machine",
		Long: `Open a public webhook endpoint (ngrok when NGROK_AUTHTOKEN is set, else
--webhook-url with --listen, as for hf generate) and print its URL on the
first line of stdout: pass it as hf_webhook when your app submits. It ends
in hf's own unguessable path; any other path is answered 404 and never
forwarded.

Each delivery is forwarded as a POST to every --forward-to URL with the
body byte for byte and the Content-Type, webhook-id, webhook-timestamp and
webhook-signature headers unchanged, so your app verifies the signature as
in production. Higgsfield gets your app's answer: a 2xx when every target
answered 2xx, else 502 (also for a refused connection or no answer within
--forward-timeout), so its retries reach your app again. Without
--forward-to, deliveries are shown and acknowledged with 200.

With HF_WEBHOOK_SECRET set, a delivery whose signature or timestamp is bad
is answered 401 and not forwarded; without it, deliveries are forwarded
unverified. If the tunnel drops, hf says so and ngrok reconnects; after
--reconnect-timeout without success hf exits 1. hf runs until Ctrl-C (exit
130) or --max-deliveries (exit 0).`,
		Example: `  hf listen --forward-to http://localhost:3000/webhooks
  hf listen --forward-to http://localhost:3000/a --forward-to http://localhost:4000/b --save deliveries/
  hf listen --json > deliveries.ndjson
  hf listen --webhook-url https://hooks.example.com --listen :8080 --forward-to http://localhost:3000/webhooks`,
		Args: cmdutil.ExactArgs(0, "listen takes no arguments; forward with --forward-to URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for i, t := range opts.ForwardTo {
				u, err := listen.ParseTarget(t)
				if err != nil {
					return cmdutil.FlagErrorf("--forward-to %v", err)
				}
				opts.ForwardTo[i] = u.String() // localhost:3000/x is http://localhost:3000/x
			}
			switch {
			case opts.MaxDeliveries < 0:
				return cmdutil.FlagErrorf("--max-deliveries must be 0 (no limit) or more")
			case opts.ReconnectTimeout <= 0:
				return cmdutil.FlagErrorf("--reconnect-timeout must be positive")
			case opts.ForwardTimeout <= 0:
				return cmdutil.FlagErrorf("--forward-timeout must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return listenRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.ForwardTo, "forward-to", nil, "forward each delivery to this URL (http(s)://…, or host:port/path meaning http; repeat to fan out); none: only show and acknowledge")
	fl.StringVar(&opts.WebhookURL, "webhook-url", "", "public URL that reaches --listen (instead of ngrok); hf appends its own secret path")
	fl.StringVar(&opts.Listen, "listen", "", "local address behind --webhook-url, e.g. :8080")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object per delivery on stdout (NDJSON) after the URL line")
	fl.StringVar(&opts.SaveDir, "save", "", "write each delivery (headers and body) to DIR/<webhook-id>.http (rejected ones to DIR/rejected/; at most 1 GiB per run), for hf webhook replay")
	fl.StringVar(&opts.ReadyFile, "ready-file", "", "once the endpoint answers, write its URL to this file (atomically)")
	fl.IntVar(&opts.MaxDeliveries, "max-deliveries", 0, "exit 0 after answering this many deliveries (0: run until Ctrl-C)")
	fl.DurationVar(&opts.ReconnectTimeout, "reconnect-timeout", listen.DefaultReconnectTimeout, "exit 1 when a dropped tunnel is not back within this long")
	fl.DurationVar(&opts.ForwardTimeout, "forward-timeout", listen.DefaultTimeout, "answer 502 when a --forward-to target takes longer than this")
	return cmd
}

func listenRun(ctx context.Context, opts *Options) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	s, err := endpoint.FromConfig(cfg, endpoint.Flags{WebhookURL: opts.WebhookURL, Listen: opts.Listen}, opts.Version)
	if err != nil {
		return usage(err)
	}
	s.Via = "auto"
	p, err := tunnel.Choose(s.Settings)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if p == nil {
		return &cmdutil.FlagError{Err: errors.New("hf listen needs a public endpoint"),
			Hint: "set NGROK_AUTHTOKEN (https://dashboard.ngrok.com/get-started/your-authtoken), or pass --webhook-url URL --listen ADDR"}
	}
	if opts.ReadyFile != "" {
		if err := listen.CheckWritable(opts.ReadyFile); err != nil {
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	r := ui.NewListenRenderer(opts.IO.Out, opts.IO.ErrOut, opts.IO.ErrStyles(), opts.JSON)
	if w := endpoint.CleartextWarning(p); w != "" {
		r.Handle(listen.Event{Kind: listen.Warning, Time: time.Now(), Message: w})
	}
	relay, err := listen.New(listen.Options{
		Secret: s.Secret, Targets: opts.ForwardTo, Timeout: opts.ForwardTimeout, SaveDir: opts.SaveDir,
		UserAgent: "hf/" + opts.Version + " (listen)", Emit: r.Handle,
	})
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	defer relay.Close()
	watch := listen.NewWatch(opts.ReconnectTimeout)
	defer watch.Stop()
	if n, ok := p.(tunnel.Ngrok); ok {
		n.OnSession = watch.Observe
		p = n
	}
	if p.Name() == "ngrok" {
		// Connecting can take seconds; say what hf is doing at once.
		fmt.Fprintln(opts.IO.ErrOut, "hf: opening the ngrok tunnel…")
	}
	ep, err := p.Open(ctx)
	if err != nil {
		if errors.Is(context.Cause(ctx), job.ErrInterrupt) {
			fmt.Fprintln(opts.IO.ErrOut, "hf: interrupted while opening the "+p.Name()+" endpoint")
			return &cmdutil.SilentError{Code: 130}
		}
		return fmt.Errorf("cannot open the %s webhook endpoint: %w", p.Name(), err)
	}
	errOut := opts.IO.ErrOut
	st := opts.IO.ErrStyles()
	err = listen.Run(ctx, ep, relay, listen.RunOptions{
		MaxDeliveries: opts.MaxDeliveries,
		Watch:         watch,
		OnReady: func(url string) error {
			if opts.ReadyFile != "" {
				if err := listen.WriteFileAtomic(opts.ReadyFile, []byte(url+"\n"), 0o600); err != nil {
					return fmt.Errorf("--ready-file: %w", err)
				}
			}
			if _, err := fmt.Fprintln(opts.IO.Out, url); err != nil {
				return err
			}
			fmt.Fprintln(errOut, st.Success.Render("hf: ready")+" "+readyLine(p.Name(), ep.URL().String(), opts, s.Secret != ""))
			return nil
		},
	})
	n := relay.Answered()
	switch {
	case err == nil:
		fmt.Fprintf(errOut, "hf: answered %d %s; done\n", n, plural(n, "delivery", "deliveries"))
		return nil
	case errors.Is(err, job.ErrInterrupt):
		fmt.Fprintf(errOut, "hf: stopped after %d %s\n", n, plural(n, "delivery", "deliveries"))
		return &cmdutil.SilentError{Code: 130}
	}
	return err
}

func readyLine(provider, public string, opts *Options, signed bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%s, %s); ", provider, public)
	if len(opts.ForwardTo) == 0 {
		b.WriteString("showing deliveries (no --forward-to)")
	} else {
		shown := make([]string, len(opts.ForwardTo))
		for i, t := range opts.ForwardTo {
			shown[i] = redact.URL(t)
		}
		b.WriteString("forwarding to " + strings.Join(shown, ", "))
	}
	if !signed {
		b.WriteString("; HF_WEBHOOK_SECRET unset: deliveries are not verified")
	}
	b.WriteString("; Ctrl-C to stop")
	return b.String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// usage turns an endpoint.UsageError into a FlagError.
func usage(err error) error {
	var ue *endpoint.UsageError
	if errors.As(err, &ue) {
		return &cmdutil.FlagError{Err: err}
	}
	return err
}
