package cmdutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
)

// ExactArgs is cobra.ExactArgs with a usage error that says what is missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			got := fmt.Sprintf("%d arguments", len(args))
			if len(args) == 1 {
				got = "1 argument"
			}
			return &FlagError{Err: fmt.Errorf("%s (got %s)", what, got), Hint: "see: " + cmd.CommandPath() + " --help"}
		}
		return nil
	}
}

// uuidRe is a request id as the API makes them; prefixRe is what may
// abbreviate one (hex digits and dashes, at least 4).
// Both compile on first use: start-up stays cheap (startup_lazy.txtar).
var (
	uuidRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	})
	prefixRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F][0-9a-fA-F-]{3,34}$`) })
)

// RequestIDArg checks a request id argument locally (nothing reaches the
// API otherwise) and returns the id to use: a whole UUID as given (lower
// case), or the one request in the journal (opened with openJournal, may
// be nil) whose id starts with the prefix given, as in "hf wait 3f1c".
// Anything else is a *FlagError.
func RequestIDArg(id string, openJournal func(sandbox bool) (*journal.Journal, error)) (string, error) {
	if uuidRe().MatchString(id) {
		return strings.ToLower(id), nil
	}
	hint := "hf history lists the requests this machine submitted"
	if !prefixRe().MatchString(id) {
		return "", &FlagError{Err: fmt.Errorf("invalid request id %q: want a UUID like d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff, or the first characters of one from hf history", id), Hint: hint}
	}
	if openJournal == nil {
		return "", &FlagError{Err: fmt.Errorf("request id %q is not a whole UUID, and there is no journal to look it up in", id), Hint: hint}
	}
	j, err := openJournal(false)
	if err != nil {
		return "", &FlagError{Err: fmt.Errorf("request id %q is not a whole UUID, and the journal cannot be read to look it up: %w", id, err)}
	}
	full, err := j.Resolve(id)
	var amb *journal.AmbiguousError
	switch {
	case errors.Is(err, journal.ErrNoMatch):
		if sj, serr := openJournal(true); serr == nil && sj != nil {
			if _, serr := sj.Resolve(id); serr == nil || !errors.Is(serr, journal.ErrNoMatch) {
				return "", &FlagError{Err: fmt.Errorf("%q is a sandbox request: the fake API that answered it ended with that run, so it cannot be looked up", id),
					Hint: "sandbox runs are journaled apart (never in hf history); run it again with --sandbox"}
			}
		}
		return "", &FlagError{Err: fmt.Errorf("no request in the journal starts with %q", id), Hint: hint + " (sandbox runs are kept apart and never listed); pass the whole id for one submitted elsewhere"}
	case errors.As(err, &amb):
		return "", &FlagError{Err: fmt.Errorf("%q is ambiguous: %s", id, strings.Join(amb.IDs, ", ")), Hint: "type more of the id"}
	case err != nil:
		return "", &FlagError{Err: fmt.Errorf("looking up %q in the journal: %w", id, err)}
	}
	return full, nil
}

// OutputFlags are -d/--dir, -o/--output and --clobber, shared by generate,
// wait and download.
type OutputFlags struct {
	Dir, Output string
	Clobber     bool
	// ToTerminal: -o - may write to stdout even when it is a terminal.
	ToTerminal bool
}

// Register adds the flags to cmd. dirDefault "" means "from the journal, else .".
func (o *OutputFlags) Register(cmd *cobra.Command, dirDefault string) {
	dirHelp := "directory to save outputs in"
	outHelp := "file name template: {id} {index} {count} {ext} {model} {date}, or - for stdout (one output)"
	if dirDefault == "" {
		dirHelp += " (default: the one recorded when the request was submitted, else .)"
		outHelp += " (default: as recorded, else " + download.DefaultTemplate + ")"
	} else {
		outHelp += ` (default "` + download.DefaultTemplate + `")`
	}
	cmd.Flags().StringVarP(&o.Dir, "dir", "d", dirDefault, dirHelp)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", outHelp)
	cmd.Flags().BoolVar(&o.Clobber, "clobber", false, "overwrite existing files")
	cmd.Flags().BoolVar(&o.ToTerminal, "to-terminal", false, "with -o -, write the file to stdout even when stdout is a terminal")
}

// Resolve validates the flags into a job.Output. Empty fields stay empty
// (the caller or the journal fills them).
func (o *OutputFlags) Resolve(ios *iostreams.IOStreams, jsonOut bool) (job.Output, error) {
	out := job.Output{Dir: o.Dir, Clobber: o.Clobber}
	if o.Output == "-" {
		if jsonOut {
			return out, FlagErrorf("-o - writes the file to stdout, which --json needs for its object; use one or the other")
		}
		if ios.IsStdoutTTY() && !o.ToTerminal {
			return out, &FlagError{Err: errors.New("-o - would write binary data to the terminal"),
				Hint: "redirect stdout (-o - > out.png, or | another-command), or pass --to-terminal to write it anyway"}
		}
		out.Stdout = ios.Out
		streamToStdout()
		return out, nil
	}
	if t := o.Output; t != "" && (strings.HasSuffix(t, "/") || strings.HasSuffix(t, string(filepath.Separator)) || filepath.Clean(t) == "." || filepath.Clean(t) == "..") {
		return out, &FlagError{Err: fmt.Errorf("-o %q names a directory; -o is a file name template", t),
			Hint: "save into a directory with -d DIR, or name the files: -o 'DIR/{id}-{index}.{ext}'"}
	}
	if o.Output != "" {
		t, err := download.ParseTemplate(o.Output)
		if err != nil {
			return out, &FlagError{Err: fmt.Errorf("invalid -o template: %w", err)}
		}
		out.Template = t
	}
	return out, nil
}

// MinPollInterval is the fastest --poll-interval a user may ask for.
const MinPollInterval = time.Second

// CheckPollInterval rejects a --poll-interval below MinPollInterval (0
// means the default schedule).
func CheckPollInterval(d time.Duration) error {
	switch {
	case d < 0:
		return FlagErrorf("--poll-interval must be positive")
	case d > 0 && d < MinPollInterval:
		return &FlagError{Err: fmt.Errorf("--poll-interval %s is below the %s floor", d, MinPollInterval),
			Hint: "polling faster spends API calls without learning the result sooner; leave it out for the default schedule"}
	}
	return nil
}

// CheckDir fails (a *FlagError) when outputs could not be saved in dir:
// it names something other than a directory, or hf cannot write there
// (or create it). Commands call it before anything is spent.
func CheckDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				if p == dir {
					return FlagErrorf("-d %s is not a directory", dir)
				}
				return FlagErrorf("-d %s cannot be created: %s is not a directory", dir, p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return FlagErrorf("-d %s: %v", dir, unwrapPath(err))
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	// Writable? Ask by doing: permissions, ACLs and read-only mounts all answer.
	f, err := os.CreateTemp(p, ".hf-probe-*")
	if err != nil {
		if p == dir {
			return FlagErrorf("-d %s is not writable: %v", dir, unwrapPath(err))
		}
		return FlagErrorf("-d %s cannot be created in %s: %v", dir, p, unwrapPath(err))
	}
	f.Close()
	_ = os.Remove(f.Name())
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// RelativePaths returns files with each absolute path below the working
// directory made relative to it, as generate prints them; others are kept.
func RelativePaths(files []journal.File) []journal.File {
	wd, err := os.Getwd()
	if err != nil {
		return files
	}
	out := make([]journal.File, len(files))
	for i, f := range files {
		out[i] = f
		if !filepath.IsAbs(f.Path) {
			continue
		}
		if rel, err := filepath.Rel(wd, f.Path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			out[i].Path = rel
		}
	}
	return out
}

// WriteJSON writes v to w as indented JSON followed by a newline: the one
// shape of every --json output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintResult writes a job's result on stdout: one JSON object with
// jsonOut, else the saved paths one per line. Nothing when the output
// went to stdout itself.
func PrintResult(ios *iostreams.IOStreams, res job.Result, jsonOut bool) {
	if jsonOut {
		if res.RequestID == "" {
			return
		}
		_ = WriteJSON(ios.Out, res)
		return
	}
	for _, f := range res.Files {
		if f.Path != "-" {
			fmt.Fprintln(ios.Out, f.Path)
		}
	}
}
