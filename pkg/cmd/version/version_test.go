package version_test

import (
	"errors"
	"fmt"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/iostreams"
	"runtime"
	"testing"

	"github.com/hf-cli/hf/pkg/cmd/version"
	"github.com/hf-cli/hf/pkg/cmdutil"
)

func TestVersion(t *testing.T) {
	for _, v := range []string{"1.2.3", "dev", "v0.4.0-rc.1+dirty"} {
		t.Run(v, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			cmd := version.NewCmdVersion(testenv.Factory(ios, v), nil)
			cmd.SetArgs(nil)
			cmd.SetOut(errOut)
			cmd.SetErr(errOut)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("hf %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if out.String() != want {
				t.Fatalf("stdout %q, want %q", out, want)
			}
			if errOut.Len() != 0 {
				t.Fatalf("stderr %q", errOut)
			}
		})
	}
}

func TestVersionTakesNoArguments(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	cmd := version.NewCmdVersion(testenv.Factory(ios, "1.2.3"), nil)
	cmd.SetArgs([]string{"extra"})
	cmd.SetOut(errOut)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || fe.Error() != "version takes no arguments (got 1 argument)" {
		t.Fatalf("err = %v, want a FlagError", err)
	}
	if out.Len() != 0 {
		t.Fatalf("stdout %q", out)
	}
}
