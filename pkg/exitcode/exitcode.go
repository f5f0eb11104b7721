// Package exitcode owns hf's exit codes and the one map from the engine's
// typed errors to them. pkg/cmd/root adds only what the command layer knows
// (usage errors, errors already reported); hf batch uses the same map for
// each job, so one generation ends with the same code whichever command ran it.
package exitcode

import (
	"errors"
	"net/http"

	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/inputs"
	"github.com/hf-cli/hf/pkg/job"
)

// The exit codes, as the README's table documents them.
const (
	OK          = 0
	Error       = 1
	Usage       = 2
	Failed      = 3
	NSFW        = 4
	Canceled    = 5
	Auth        = 6
	Download    = 7
	Timeout     = 124
	Interrupted = 130
)

// Of maps an error of the engine to its exit code: nil is OK, an error that
// carries its own code (ExitCode() int) keeps it, anything unknown is Error.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var (
		outcome  *job.OutcomeError
		timeout  *job.TimeoutError
		dlErr    *job.DownloadError
		intr     *job.InterruptedError
		checkErr *job.StatusCheckError
		exists   *download.ExistsError
		missing  *config.MissingCredentialsError
		apiError *higgsfield.APIError
		badValue *config.ValueError
		badKey   *config.UnknownKeyError
		badCreds *config.CredentialsError
		badFile  *inputs.FileError
		coded    interface{ ExitCode() int }
	)
	switch {
	case errors.As(err, &coded):
		// An error that decided its own status (hf batch's run).
		return coded.ExitCode()
	case errors.As(err, &intr):
		return Interrupted
	case errors.As(err, &timeout):
		return Timeout
	case errors.As(err, &dlErr):
		return Download
	case errors.As(err, &checkErr):
		// Not the user's input: the request was accepted; only 401/403
		// say something about the key.
		if code := higgsfield.StatusCodeOf(err); code == http.StatusUnauthorized || code == http.StatusForbidden {
			return Auth
		}
		return Error
	case errors.As(err, &outcome):
		switch outcome.Status {
		case higgsfield.StatusNSFW:
			return NSFW
		case higgsfield.StatusCanceled:
			return Canceled
		}
		return Failed
	case errors.As(err, &exists), errors.As(err, &missing), errors.As(err, &badValue),
		errors.As(err, &badKey), errors.As(err, &badCreds), errors.As(err, &badFile):
		return Usage
	case errors.As(err, &apiError):
		switch apiError.StatusCode {
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return Usage
		case http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusForbidden:
			return Auth
		}
	}
	return Error
}
