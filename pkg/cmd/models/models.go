// Package models implements `hf models` and `hf models show MODEL`: the model
// ids a user can pass, from the API's listing when it answers one, else from
// hf's built-in catalog.
package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// listingTimeout bounds the model listing call: the catalog is the fallback.
const listingTimeout = 10 * time.Second

// Options are the parsed flags of `hf models`.
type Options struct {
	IO     *iostreams.IOStreams
	Client func(cmdutil.ClientOptions) (*higgsfield.Client, error)

	Model   string // models show MODEL
	Kind    string
	JSON    bool
	Offline bool
}

// NewCmdModels builds `hf models` (with `show`). runF replaces the run step.
func NewCmdModels(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the model ids you can pass to generate",
		Long: `List the model ids you can pass to hf generate, with what they make (image,
video, audio), their task and main parameters. The list comes from the API's
model listing when it answers one, else from hf's built-in catalog (built
from the API's documentation; its date is shown). The API stays the judge:
a model or parameter that is not listed here is still sent as given.`,
		Example: `  hf models
  hf models --kind video
  hf models show kling-video/v2.1/pro/image-to-video`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Kind != "" && opts.Kind != "image" && opts.Kind != "video" && opts.Kind != "audio" {
				return cmdutil.FlagErrorf("invalid --kind %q: want image, video or audio", opts.Kind)
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.PersistentFlags().BoolVar(&opts.JSON, "json", false, "print JSON")
	cmd.PersistentFlags().BoolVar(&opts.Offline, "offline", false, "use the built-in catalog only, without asking the API")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only models that make this: image, video or audio")
	show := &cobra.Command{
		Use:               "show MODEL",
		Short:             "Show one model's parameters and their allowed values",
		Args:              cmdutil.ExactArgs(1, "models show needs exactly one MODEL argument"),
		ValidArgsFunction: cmdutil.CompleteModels,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if err := higgsfield.ValidModel(opts.Model); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// List is `hf models --json`.
type List struct {
	Source      string             `json:"source"` // "api" or "catalog"
	CatalogDate string             `json:"catalog_date,omitempty"`
	Models      []higgsfield.Model `json:"models"`
}

func listRun(ctx context.Context, opts *Options) error {
	list := List{Source: "catalog", CatalogDate: higgsfield.CatalogDate, Models: higgsfield.Catalog()}
	if !opts.Offline {
		if ms, why := fromAPI(ctx, opts); ms != nil {
			list = List{Source: "api", Models: ms}
		} else if why != "" {
			fmt.Fprintf(opts.IO.ErrOut, "hf: %s; showing hf's built-in catalog of %s\n", why, higgsfield.CatalogDate)
		}
	}
	var ms []higgsfield.Model
	for _, m := range list.Models {
		if opts.Kind == "" || m.Kind == opts.Kind {
			ms = append(ms, m)
		}
	}
	list.Models = ms
	if opts.JSON {
		if list.Models == nil {
			list.Models = []higgsfield.Model{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, list)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tKIND\tTASK\tMAIN PARAMETERS")
	for _, m := range list.Models {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.ID, dash(m.Kind), dash(m.Task), paramSummary(m))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if list.Source == "catalog" {
		fmt.Fprintf(opts.IO.ErrOut, "hf: %d models from hf's built-in catalog of %s (hf models show MODEL for details)\n", len(list.Models), higgsfield.CatalogDate)
	}
	return nil
}

// fromAPI returns the API's listing, or nil and why it is not used ("" when
// the API simply has no listing).
func fromAPI(ctx context.Context, opts *Options) ([]higgsfield.Model, string) {
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		var missing *config.MissingCredentialsError
		if errors.As(err, &missing) {
			return nil, "no credentials to ask the API"
		}
		return nil, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, listingTimeout)
	defer cancel()
	ms, err := client.Models(ctx)
	switch {
	case errors.Is(err, higgsfield.ErrNoModelListing):
		return nil, ""
	case err != nil:
		return nil, "the API's model listing failed (" + err.Error() + ")"
	case len(ms) == 0:
		return nil, "the API's model listing is empty"
	}
	return ms, ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func paramSummary(m higgsfield.Model) string {
	var parts []string
	for _, p := range m.Params {
		s := p.Name
		if p.Required {
			s += "*"
		}
		switch {
		case len(p.Values) > 0 && p.Type != "boolean":
			s += "=" + strings.Join(p.Values, "|")
		case p.Range != "":
			s += "=" + p.Range
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func showRun(ctx context.Context, opts *Options) error {
	m, ok := higgsfield.CatalogModel(opts.Model)
	if !opts.Offline {
		// The API's listing, when it answers one, is the better source; its
		// entries carry the catalog's parameters when the id is known there.
		ms, _ := fromAPI(ctx, opts)
		for _, am := range ms {
			if am.ID == opts.Model {
				m, ok = am, true
				break
			}
		}
	}
	if !ok {
		fmt.Fprintf(opts.IO.ErrOut, "hf: warning: %s is not in hf's catalog of %s; the API decides whether it exists (hf generate sends it as given)\n", opts.Model, higgsfield.CatalogDate)
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, map[string]any{"id": opts.Model, "known": false})
		}
		return nil
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, m)
	}
	from := "from the " + sourceName(m.Source) + ", " + higgsfield.CatalogDate
	if m.Source == "api" {
		from = "listed by the API"
		if len(m.Params) > 0 {
			from += "; parameters from hf's catalog of " + higgsfield.CatalogDate
		}
	}
	fmt.Fprintf(opts.IO.Out, "%s  (%s, %s; %s)\n", m.ID, dash(m.Kind), dash(m.Task), from)
	if m.Note != "" {
		fmt.Fprintf(opts.IO.Out, "note: %s\n", m.Note)
	}
	fmt.Fprintln(opts.IO.Out)
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARAMETER\tTYPE\tREQUIRED\tVALUES\tDEFAULT\tNOTE")
	for _, p := range m.Params {
		vals := strings.Join(p.Values, ", ")
		if vals == "" {
			vals = p.Range
		}
		req := ""
		if p.Required {
			req = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, dash(req), dash(vals), dash(p.Default), p.Note)
	}
	return w.Flush()
}

func sourceName(s string) string {
	switch s {
	case "docs":
		return "current model docs"
	case "openapi":
		return "older OpenAPI catalog"
	}
	return s
}
