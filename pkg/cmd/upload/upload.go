// Package upload implements `hf upload FILE...`: upload local files to
// Higgsfield's storage and print their public URLs.
package upload

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// Options are the parsed flags of `hf upload`.
type Options struct {
	IO     *iostreams.IOStreams
	Client func(cmdutil.ClientOptions) (*higgsfield.Client, error)

	Files       []string
	JSON, Quiet bool
}

// File is one uploaded file (--json: an array of them).
type File struct {
	Path        string `json:"path"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
}

// NewCmdUpload builds `hf upload`. runF replaces the run step in tests.
func NewCmdUpload(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "upload FILE...",
		Short: "Upload local files and print their public URLs",
		Long: `Upload each FILE to Higgsfield's storage and print its public URL, one per
line, to pass in a model's *_url field. Types are detected from the content:
image/jpeg, image/png, image/webp, image/gif, audio/wav, video/mp4. Every file
is checked before the first upload. A content uploaded less than 50 minutes
ago reuses its URL. (hf generate --set image_url=@FILE does this for you.)`,
		Example: `  hf upload cat.png
  hf upload a.png b.jpg clip.mp4 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &cmdutil.FlagError{Err: fmt.Errorf("upload needs at least one FILE"), Hint: "see: " + cmd.CommandPath() + " --help"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return uploadRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array of {path, url, content_type, bytes, sha256}")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stderr but errors")
	return cmd
}

func uploadRun(ctx context.Context, opts *Options) error {
	// Every file is checked before anything is sent.
	for _, p := range opts.Files {
		if _, err := inputs.Check(p, ""); err != nil {
			return err
		}
	}
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		return err
	}
	r := cmdutil.NewResolver(opts.IO, client, opts.Quiet, false)
	files := []File{}
	for _, p := range opts.Files {
		ref, u, err := r.Upload(ctx, p, "")
		if err != nil {
			if opts.JSON {
				_ = cmdutil.WriteJSON(opts.IO.Out, files)
			}
			return err
		}
		files = append(files, File{Path: p, URL: u, ContentType: ref.ContentType, Bytes: ref.Size, SHA256: ref.SHA256})
		if !opts.JSON {
			fmt.Fprintln(opts.IO.Out, u)
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, files)
	}
	return nil
}
