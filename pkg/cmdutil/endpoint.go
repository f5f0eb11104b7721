package cmdutil

import (
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

// EndpointOptions select the webhook endpoint for a run (--via,
// --webhook-url, --listen); empty fields come from the config.
type EndpointOptions struct {
	Via, WebhookURL, Listen string
}

// Register adds --via, --webhook-url and --listen to cmd.
func (o *EndpointOptions) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Via, "via", "", "how to learn the result: auto (webhook when an endpoint can be had, else poll), webhook, or poll (default auto)")
	cmd.Flags().StringVar(&o.WebhookURL, "webhook-url", "", "public URL that reaches --listen; hf appends its own secret path")
	cmd.Flags().StringVar(&o.Listen, "listen", "", "local address for the webhook receiver behind --webhook-url, e.g. :8080")
}

// DownloadClient is the HTTP client for outputs, logging each exchange to
// debug when it is not nil.
func DownloadClient(debug io.Writer) *http.Client { return downloadClient(debug) }
